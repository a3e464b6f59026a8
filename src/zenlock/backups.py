"""Backups of the server's database: `nox -s server -- backup [FILE]` and `-- restore FILE`.

Made by short-lived containers of the server image (see database.py): SQLite's database file
(its online backup, consistent while the server writes), or ZenML's dump of MySQL/MariaDB.
Backups are written readable by you only, by default beside the server's artifacts (outside
the project folder); FILE may be a folder, or a file with a suffix. The secrets in a backup
stay encrypted; the key they need is kept beside it (FILE.key, readable by you only), so a
restore reads them even after admin.env was lost.

Restore takes only a complete ZenML database (intact, with the tables of its release) of this
project's server (another's with --from-another-server), keeps a copy of the data it replaces
(named in its output: restoring that copy undoes it), and ends with this project's admin
password and secrets key in force.
"""

import os
import sys
import time
from pathlib import Path

from . import ZenlockError, database
from .database import Database
from .state import read_env_file, write_env_file

KEY_SUFFIX = ".key"  # beside each backup: the secrets key its secrets are encrypted with


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
        raise ZenlockError(
            f"{path} exists: a backup never overwrites a file. Name a new file, or a folder."
        ) from None
    with os.fdopen(descriptor, "wb") as file:
        file.write(content)


def backup(data: Database, target: Path, admin: dict[str, str], label: str = "") -> Path:
    """A consistent copy of the server's database, written to `target` (a file, or a folder
    to name one in, with `label` in the name); the server keeps running. `admin`: the
    project's admin.env, whose secrets-store key is kept beside the copy."""
    found = data.probe()
    database.refuse_problem(found, data.server_env, data.network)
    if not found["version"]:
        raise ZenlockError(f"The server's database ({data.describe()}) holds no data yet.")
    if target.exists() and not target.is_dir():
        raise ZenlockError(
            f"{target} exists: a backup never overwrites a file. Name a new file, or a folder."
        )
    started = time.monotonic()
    content = data.dump()
    if target.is_dir() or not target.suffix:
        name = f"{time.strftime('%Y%m%d-%H%M%S')}-zenml-{found['version']}{label}"
        suffix = database.suffix(data.server_env)
        folder, target = target, target / (name + suffix)
        for number in range(2, 100):  # two backups in one second
            if not target.exists():
                break
            target = folder / f"{name}-{number}{suffix}"
    write_private(target.resolve(), content)
    keep_key(target, data.server_env | admin)
    print(
        f"Backed up {data.describe()} (ZenML {found['version']}) to "
        f"{target} ({len(content) / 1e6:.1f} MB in {time.monotonic() - started:.1f} s; "
        "readable by you only)."
    )
    return target


def keep_key(backup_file: Path, admin: dict[str, str]) -> None:
    """The secrets key beside the backup, readable by you only (once: never overwritten)."""
    key = admin.get("ZENML_SECRETS_STORE_ENCRYPTION_KEY")
    key_file = backup_file.with_name(backup_file.name + KEY_SUFFIX)
    if key and not key_file.exists():
        write_env_file(key_file, {"ZENML_SECRETS_STORE_ENCRYPTION_KEY": key})


def listed(folder: Path) -> list[Path]:
    """The backups in `folder`, oldest first (their key files left out)."""
    return sorted(path for path in folder.glob("*-zenml-*") if path.suffix in (".db", ".json"))


def confirmed(question: str, yes: bool) -> bool:
    if yes:
        return True
    if not sys.stdin.isatty():
        raise ZenlockError(f"{question} Add --yes to confirm (no terminal to ask in).")
    return input(f"{question} [y/N] ").strip().lower() in ("y", "yes")


def restore(
    data: Database,
    source: Path,
    *,
    yes: bool,
    another_server: bool,
    container,
    safety_folder: Path,
    admin: dict[str, str],
) -> None:
    """Put a backup back into the server's database: `container` (the server, if any) is
    stopped and removed first. Runs made since the backup are gone; the data replaced is
    kept in `safety_folder` first."""
    if not source.is_file():
        raise ZenlockError(f"No backup at {source}.")
    made_on = database.backup_of(source, data.server_env)
    content = source.read_bytes()
    checked = data.check_backup(content)
    if checked["problem"]:
        raise ZenlockError(
            f"{source} is not a complete ZenML database: {checked['problem']}. Nothing was changed."
        )
    found = data.probe()
    database.refuse_problem(found, data.server_env, data.network)
    theirs, ours = checked["server_id"], found["server_id"]
    if ours and theirs != ours and not another_server:
        raise ZenlockError(
            f"{source} is a backup of another ZenML server (id {theirs}; this project's is "
            f"{ours}): it would replace this project's runs, users and keys with that one's. "
            "Add --from-another-server if that is what you want. Nothing was changed."
        )
    if database.newer(made_on, found["image_version"]):
        raise ZenlockError(database.downgrade_refused(made_on, found["image_version"]))
    question = (
        f"Replace the server's database ({data.describe()}, ZenML "
        f"{found['version'] or 'empty'}) with {source} (ZenML {made_on})? Runs made since are lost."
    )
    if not confirmed(question, yes):
        raise ZenlockError("Not restored; nothing was changed.")
    if container:
        container.stop(timeout=15)
        container.remove()
        print(f"Stopped {container.name}.")
    safety = None
    if found["version"]:
        safety = backup(data, safety_folder, admin, "-before-restore")
    started = time.monotonic()
    data.load(content)
    print(f"Restored {source} (ZenML {made_on}) in {time.monotonic() - started:.1f} s.")
    if safety:
        print(
            f"The data it replaced is in {safety}: `nox -s server -- restore {safety} --yes` "
            "undoes this."
        )
    take_over(data, source, admin)


def take_over(data: Database, source: Path, admin: dict) -> None:
    """The restored data under this project's credentials: its admin password (the backup
    may hold an older one) and its secrets key (the backup's, kept beside it, may differ)."""
    credentials = {**data.server_env, **admin}
    if credentials.get("ZENML_DEFAULT_USER_PASSWORD"):
        try:
            data.set_admin_password(credentials)
        except ZenlockError:
            print(
                f"The restored data has no user {credentials.get('ZENML_DEFAULT_USER_NAME')!r}: "
                "set this project's admin on it with `nox -s server -- reset-admin`."
            )
    key = credentials.get("ZENML_SECRETS_STORE_ENCRYPTION_KEY")
    if not key:
        return
    old_key = read_env_file(source.with_name(source.name + KEY_SUFFIX)).get(
        "ZENML_SECRETS_STORE_ENCRYPTION_KEY", ""
    )
    found = data.secrets_to_encrypt(key, old_key=old_key, encrypt=True)
    if found["rekeyed"] or found["plain"]:
        names = ", ".join(found["rekeyed"] + found["plain"])
        print(f"Secrets now encrypted with this project's key: {names}.")
    if found["unreadable"]:
        print(
            f"Secrets encrypted with a key this project no longer has: "
            f"{', '.join(found['unreadable'])} (no {source.name}{KEY_SUFFIX} beside the backup). "
            "Create them again (`zenml secret create`)."
        )


def backups_folder(data_home: Path, identity: str) -> Path:
    return data_home / identity / "backups"
