"""Upgrade ZenML everywhere at once: `nox -s upgrade -- VERSION`.

ZenML's rule: the client, every pipeline image and the server run the same version, and the
server's database migration (made when the new server starts) cannot be undone. So, in order:
move ZenML's one pin and lock (nothing changes if that fails), sync .venv, re-derive the
integrations from the new registry, build the pipeline images and the server image, back up
the server's database, restart the server on the new image (ZenML migrates on start), and run
`check`. A step that fails says where things stand; running the command again resumes.
Ctrl-C or SIGTERM in the first step changes nothing. `nox -s upgrade -- --back` goes back to
where the last upgrade started (its pyproject.toml and uv.lock are kept for it in
build/upgrade/, and the server's data from the backup it made), no git needed.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from packaging.requirements import Requirement
from packaging.version import InvalidVersion, Version

from . import ZenlockError, backups, database, engine, lock
from .backups import backups_folder
from .lock import all_or_nothing
from .project import Project
from .projectserver import Server
from .stackfiles import write_zenml_version
from .state import port_of, read_env_file


def pinned(pyproject: Path) -> Requirement:
    """ZenML's one versioned requirement, in [project] dependencies."""
    for text in lock.read_toml(pyproject)["project"].get("dependencies", []):
        requirement = Requirement(text)
        if requirement.name == "zenml" and str(requirement.specifier).startswith("=="):
            return requirement
    raise ZenlockError(
        "pyproject.toml's [project] dependencies pin no ZenML version (zenml==X): add one."
    )


def zenlock(root: Path, *args: str, quiet: bool = False) -> subprocess.CompletedProcess:
    """A step as its own process: it imports the ZenML that .venv has now."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("ZENML_STORE_")}
    done = subprocess.run(
        [sys.executable, "-m", "zenlock", *args],
        cwd=root,
        env=environment,
        capture_output=quiet,
        text=True,
    )
    if done.returncode != 0 and not quiet:
        raise StepFailed(" ".join(args))
    return done


def already_everywhere(
    root: Path, current: Version, target: Version, data_version: str | None
) -> bool:
    """Nothing to do: the pin, the server's data and every environment (`check`) are at
    `target` already. Then nothing is backed up or restarted."""
    if current != target or data_version not in (None, str(target)):
        return False
    return zenlock(root, "check", quiet=True).returncode == 0


class StepFailed(Exception):
    pass


def server_state(server: Server) -> tuple:
    """The server's container (None if it does not run), the image its data is read with, and
    the ZenML release the data was migrated to (None: no data yet)."""
    if server.identity is None:
        return None, None, None
    running = server.running
    image = running.image.id if running else server.current_image
    if not image or not engine.image_id(server.client, image):
        return running, None, None  # never built here: no data this machine can read
    data = server.database(image)
    found = data.probe()
    database.refuse_problem(found, data.server_env, data.network)
    return running, image, found["version"]


def upgrade(project: Project, target: Version) -> None:
    requirement = pinned(project.pyproject)
    current = Version(str(requirement.specifier)[2:])
    server = Server(project, project.server)
    running, old_image, data_version = server_state(server)
    if database.newer(data_version, str(target)):
        raise ZenlockError(database.downgrade_refused(data_version, str(target)))
    if already_everywhere(project.root, current, target, data_version):
        print(f"ZenML {target} is already everywhere (`nox -s check` agrees): nothing to do.")
        return
    print(
        f"ZenML {current} -> {target}" + (f" (server data: {data_version})" if data_version else "")
    )

    keep_way_back(project, current)
    step("1/7 pin and lock")
    if current == target:
        print(f"pyproject.toml already pins zenml=={target}.")
    else:
        extras = f"[{','.join(sorted(requirement.extras))}]" if requirement.extras else ""
        try:
            with all_or_nothing(project.root):  # `uv add` writes pyproject.toml and locks
                lock.uv(project.root, "add", "--raw", "--no-sync", f"zenml{extras}=={target}")
        except ZenlockError as error:
            raise ZenlockError(
                f"ZenML {target} does not lock: {error}\nNothing was changed."
            ) from None
        print(f"pyproject.toml: zenml=={target}; uv.lock written.")
    stack_versions(project, str(target))

    step("2/7 .venv")
    lock.uv(project.root, "sync", "--locked")
    step("3/7 integrations from ZenML's new registry")
    zenlock(project.root, "integrations", "sync")
    step("4/7 pipeline images")
    zenlock(project.root, "images")
    step("5/7 server image")
    zenlock(project.root, "server")

    step("6/7 backup of the server's database")
    backup = None
    if data_version:
        folder = backups_folder(project.data_home, server.identity)
        admin = read_env_file(project.admin_env)
        backup = backups.backup(server.database(old_image), folder, admin)
        note_way_back(project, backup=str(backup))
    else:
        print("The server has no data yet: nothing to back up.")

    step("7/7 server on the new image")
    if running:
        try:
            zenlock(project.root, "server", "down")
            zenlock(project.root, "server", "up", "--port", str(port_of(running)))  # where it ran
        except StepFailed:
            raise ZenlockError(restart_failed(data_version, target, backup)) from None
    else:
        print("The server is not running: `nox -s server -- up` starts it on the new image.")

    step("check")
    kept = f" The backup of the ZenML {data_version} data: {backup}." if backup else ""
    try:
        zenlock(project.root, "check")
    except StepFailed:
        raise ZenlockError(
            f"ZenML {target} is in place, but `check` reports the differences above.{kept}"
        ) from None
    note_way_back(project, done=True)
    print(f"ZenML {target} everywhere.{kept} (`nox -s upgrade -- --back` goes back.)")


def restart_failed(data_version: str, target: Version, backup: Path | None) -> str:
    return (
        f"The server did not come up on ZenML {target} (`nox -s server -- logs`). Its data "
        f"may be partly migrated. The backup made before, of ZenML {data_version}, is "
        f"{backup}. To go back to ZenML {data_version} with it: `nox -s upgrade -- --back`."
    )


def keep_way_back(project: Project, current: Version) -> None:
    """pyproject.toml and uv.lock as they are before an upgrade, for `--back`. Kept once per
    unfinished upgrade: running it again (to resume) keeps the first starting point."""
    record = project.upgrade_backups / "upgrade.json"
    if record.is_file() and json.loads(record.read_text()).get("done") is False:
        return
    project.upgrade_backups.mkdir(parents=True, exist_ok=True)
    for path in (project.pyproject, project.lock):
        shutil.copy2(path, project.upgrade_backups / path.name)
    record.write_text(json.dumps({"from": str(current), "backup": None, "done": False}))


def note_way_back(project: Project, **values) -> None:
    record = project.upgrade_backups / "upgrade.json"
    record.write_text(json.dumps({**json.loads(record.read_text()), **values}))


def back(project: Project) -> None:
    """Where the last upgrade started: its pyproject.toml and uv.lock, .venv, the images, and
    the server's data from the backup made before the migration (if it was migrated)."""
    record_file = project.upgrade_backups / "upgrade.json"
    if not record_file.is_file():
        raise ZenlockError("No upgrade to go back from: build/upgrade/ holds none.")
    record = json.loads(record_file.read_text())
    print(f"Back to ZenML {record['from']}, where the last upgrade started.")
    step("1/5 pyproject.toml and uv.lock")
    for path in (project.pyproject, project.lock):
        path.write_bytes((project.upgrade_backups / path.name).read_bytes())
    stack_versions(project, record["from"])
    step("2/5 .venv")
    lock.uv(project.root, "sync", "--locked")
    step("3/5 pipeline images")
    zenlock(project.root, "images")
    step("4/5 server image")
    zenlock(project.root, "server")
    step("5/5 the server's data")
    server = Server(project, project.server)  # of the lock just put back
    running, _, data_version = server_state(server)
    if database.newer(data_version, record["from"]):
        if not record["backup"]:
            raise ZenlockError(
                f"The server's data is of ZenML {data_version} and no backup was kept."
            )
        zenlock(project.root, "server", "restore", record["backup"], "--yes")
    elif running and running.image.tags[:1] != [server.current_image]:
        zenlock(project.root, "server", "down")  # not migrated yet: the old image serves it again
        zenlock(project.root, "server", "up", "--port", str(port_of(running)))
    else:
        print("The server's data is of this release already.")
    step("check")
    zenlock(project.root, "check")
    record_file.unlink()
    print(f"ZenML {record['from']} everywhere again.")


def stack_versions(project: Project, version: str) -> None:
    """The stack files name the release in the lock, or `zenml stack import` refuses them."""
    for path in write_zenml_version(project.stacks, version):
        print(f"{path.relative_to(project.root)}: zenml_version {version}")


def step(title: str) -> None:
    print(f"\n== {title} ({time.strftime('%H:%M:%S')})", flush=True)


def main(project: Project, argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="nox -s upgrade --", description=__doc__)
    parser.add_argument("version", nargs="?", help="the ZenML release to move to, e.g. 0.98.0")
    parser.add_argument(
        "--back", action="store_true", help="go back to where the last upgrade started"
    )
    args = parser.parse_args(argv)
    if args.back:
        try:
            return back(project)
        except StepFailed as failed:
            raise ZenlockError(
                f"`{failed}` failed (see above); fix it and run --back again."
            ) from None
    if not args.version:
        parser.error("name the ZenML release to move to (e.g. 0.98.0), or --back")
    try:
        target = Version(args.version)
    except InvalidVersion:
        raise ZenlockError(f"{args.version!r} is not a version: use e.g. 0.98.0.") from None
    try:
        upgrade(project, target)
    except StepFailed as failed:
        raise ZenlockError(
            f"`{failed}` failed (see above). pyproject.toml and uv.lock already ask for ZenML "
            f"{target}; the server was not touched. Fix the cause and run `nox -s upgrade -- "
            f"{target}` again, or go back with `nox -s upgrade -- --back`."
        ) from None
