"""Which project a folder is, on this machine: its id names its server, data volume and
artifacts. A moved folder keeps its id; a copy is told apart (its files are not the original's)."""

import hashlib
import secrets
from pathlib import Path

from . import ZenlockError
from .project import Project


def local_stores(project: Project, identity: str) -> Path:
    return project.data_home / identity / "local_stores"


def project_id(project: Project) -> str | None:
    """This project's server, data volume and artifacts on this machine, or None before its
    first `up`. A moved folder keeps its id; a copy's id still names the original, so a copy
    is refused until `nox -s server -- detach` gives it its own."""
    state = state_of(project)
    if state == "copy":
        raise ZenlockError(
            f"This folder is a copy of {recorded_owner(project)} and would use that project's "
            "server and artifacts. Give the copy its own with `nox -s server -- detach`."
        )
    if state == "unsure":
        raise ZenlockError(
            f"This folder has the id of the project last seen at {recorded_owner(project)}, "
            "which is gone, and its files are not that folder's (a copy, or a move to another "
            "disk). A copy: `nox -s server -- detach` gives it its own, empty server. Only if "
            "this folder is the project that owns the server: `nox -s server -- claim` (every "
            "other folder with this id, the original too, then becomes a copy and cannot claim "
            "it back)."
        )
    if project.identity_file.is_file():
        return project.identity_file.read_text().strip()
    return recovered_id(project)


def recorded_owner(project: Project) -> Path | None:
    return owner_of(project, project.identity_file.read_text().strip())


def state_of(project: Project) -> str:
    """Whose this folder's id is: `new` (none yet), `own` (recorded here), `moved` (the folder
    recorded elsewhere, moved here: the same files), `copy` (its original still has the id),
    `unsure` (the original is gone and this folder's files are not its files)."""
    if not project.identity_file.is_file():
        return "new"
    identity = project.identity_file.read_text().strip()
    owner = owner_of(project, identity)
    if owner is None or owner == project.root:
        return "own"
    if identity_in(owner) == identity:
        return "copy"
    recorded = recorded_file(project, identity)
    return "moved" if recorded in (None, file_id(project.identity_file)) else "unsure"


def file_id(path: Path) -> str:
    """A file's device and inode: kept by a move on one disk, new for every copy."""
    found = path.stat()
    return f"{found.st_dev}:{found.st_ino}"


def recorded_file(project: Project, identity: str) -> str | None:
    lines = (project.data_home / identity / "root").read_text().splitlines()
    return lines[1] if len(lines) > 1 else None  # None: recorded before files were kept


def recovered_id(project: Project) -> str | None:
    """The id of this folder's server after .zenml-server/ was lost, if it had one."""
    if project.data_home.is_dir():
        for owner_file in project.data_home.glob("*/root"):
            lines = owner_file.read_text().splitlines()
            if lines and Path(lines[0].strip()) == project.root:
                return owner_file.parent.name
    if project.admin_env.is_file():  # a server made before ids were kept: named after the path
        return hashlib.sha256(str(project.root).encode()).hexdigest()[:12]
    return None


def claim_id(project: Project, *, new: bool = False, claiming: bool = False) -> str:
    """This folder's project id, made if it has none (or `new`), recorded as this folder's.
    `claiming`: the user said this folder owns the id (`nox -s server -- claim`)."""
    identity_file = project.identity_file
    identity = (
        identity_file.read_text().strip() if claiming else None if new else project_id(project)
    )
    if identity is None:
        identity = secrets.token_hex(6)
    moved = not (new or claiming) and identity_file.is_file()
    if moved and owner_of(project, identity) not in (None, project.root):
        print(
            f"This project moved here from {owner_of(project, identity)}; its server moved with it."
        )
    project.server_state.mkdir(mode=0o700, exist_ok=True)
    if not identity_file.is_file() or identity_file.read_text() != identity + "\n":
        identity_file.write_text(identity + "\n")
    local_stores(project, identity).mkdir(parents=True, exist_ok=True)
    record = f"{project.root}\n{file_id(identity_file)}\n"
    owner_file = project.data_home / identity / "root"
    if not owner_file.is_file() or owner_file.read_text() != record:  # an `up` rewrites nothing
        owner_file.write_text(record)
    return identity


def owner_of(project: Project, identity: str) -> Path | None:
    owner_file = project.data_home / identity / "root"
    if not owner_file.is_file():
        return None
    lines = owner_file.read_text().splitlines()
    return Path(lines[0].strip()) if lines else None


def identity_in(folder: Path) -> str | None:
    identity_file = Project.at(folder).identity_file
    return identity_file.read_text().strip() if identity_file.is_file() else None
