"""Backups of the server's database: `nox -s server -- backup [FILE]` and `-- restore FILE`.

Made by short-lived containers of the server image (see database.py): SQLite's database file
(its online backup, consistent while the server writes), or ZenML's dump of MySQL/MariaDB.
Backups are written readable by you only, by default beside the server's artifacts (outside
the project folder); FILE may be a folder, or a file with a suffix. The secrets in a backup
stay encrypted with the key in .zenml-server/admin.env: keep both.
"""

import os
import sys
import time
from pathlib import Path

from . import EnvtoolsError, database
from .settings import ServerSettings
from .state import ROOT, read_env_file


def private_folder(folder: Path) -> None:
    """`folder` and every parent it has to make, readable by you only."""
    missing = [folder, *folder.parents]
    missing = [path for path in missing if not path.exists()]
    for path in reversed(missing):
        path.mkdir(mode=0o700)
        path.chmod(0o700)  # whatever the umask


def write_private(path: Path, content: bytes) -> None:
    """A new file readable by you only; an existing one is never overwritten."""
    private_folder(path.parent)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise EnvtoolsError(
            f"{path} exists: a backup never overwrites a file. Name a new file, or a folder."
        ) from None
    with os.fdopen(descriptor, "wb") as file:
        file.write(content)


def backup(client, settings: ServerSettings, image: str, volume: str, target: Path) -> Path:
    """A consistent copy of the server's database, written to `target` (a file, or a folder
    to name one in); the server keeps running."""
    server_env = read_env_file(ROOT / settings.env_file)
    found = database.probe(client, image, settings, server_env, volume)
    database.refuse_problem(found, server_env, settings.build.network)
    if not found["version"]:
        raise EnvtoolsError(
            f"The server's database ({database.describe(server_env, volume)}) holds no data yet."
        )
    if target.exists() and not target.is_dir():
        raise EnvtoolsError(
            f"{target} exists: a backup never overwrites a file. Name a new file, or a folder."
        )
    started = time.monotonic()
    content = database.dump(client, image, settings, server_env, volume)
    if target.is_dir() or not target.suffix:
        name = f"{time.strftime('%Y%m%d-%H%M%S')}-zenml-{found['version']}"
        suffix = database.suffix(server_env)
        folder, target = target, target / (name + suffix)
        for number in range(2, 100):  # two backups in one second
            if not target.exists():
                break
            target = folder / f"{name}-{number}{suffix}"
    write_private(target.resolve(), content)
    print(
        f"Backed up {database.describe(server_env, volume)} (ZenML {found['version']}) to "
        f"{target} ({len(content) / 1e6:.1f} MB in {time.monotonic() - started:.1f} s; "
        "readable by you only)."
    )
    return target


def confirmed(question: str, yes: bool) -> bool:
    if yes:
        return True
    if not sys.stdin.isatty():
        raise EnvtoolsError(f"{question} Add --yes to confirm (no terminal to ask in).")
    return input(f"{question} [y/N] ").strip().lower() in ("y", "yes")


def restore(
    client, settings: ServerSettings, image: str, volume: str, source: Path, *, yes: bool, container
) -> None:
    """Put a backup back into the server's database: `container` (the server, if any) is
    stopped and removed first. Runs made since the backup are gone."""
    if not source.is_file():
        raise EnvtoolsError(f"No backup at {source}.")
    server_env = read_env_file(ROOT / settings.env_file)
    made_on = database.backup_of(source, server_env)
    found = database.probe(client, image, settings, server_env, volume)
    database.refuse_problem(found, server_env, settings.build.network)
    if database.newer(made_on, found["image_version"]):
        raise EnvtoolsError(database.downgrade_refused(made_on, found["image_version"]))
    question = (
        f"Replace the server's database ({database.describe(server_env, volume)}, ZenML "
        f"{found['version'] or 'empty'}) with {source} (ZenML {made_on})? Runs made since are lost."
    )
    if not confirmed(question, yes):
        raise EnvtoolsError("Not restored; nothing was changed.")
    if container:
        container.stop(timeout=15)
        container.remove()
        print(f"Stopped {container.name}.")
    started = time.monotonic()
    database.load(client, image, settings, server_env, volume, source.read_bytes())
    print(f"Restored {source} (ZenML {made_on}) in {time.monotonic() - started:.1f} s.")
