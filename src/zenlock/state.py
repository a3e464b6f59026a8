"""The project's state on disk: where things live, env files, the project's ZenML environment."""

import hashlib
import os
import secrets
import stat
import sys
import tomllib
from pathlib import Path

import yaml

from . import ZenlockError

# Projects rendered before the package kept their settings under this name; still read.
OLD_TOOL_TABLE = "envtools"


def declares_zenlock(pyproject: Path) -> bool:
    try:
        tool = tomllib.loads(pyproject.read_text()).get("tool", {})
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return False
    return "zenlock" in tool or OLD_TOOL_TABLE in tool


def find_root(start: Path) -> Path | None:
    """The project zenlock acts on: the nearest folder from `start` up whose pyproject.toml has
    a [tool.zenlock] table."""
    for folder in (start, *start.parents):
        if declares_zenlock(folder / "pyproject.toml"):
            return folder
    return None


# Found once, from the working directory (nox runs the sessions in the project's folder).
FOUND = find_root(Path.cwd().resolve())
ROOT = FOUND or Path.cwd().resolve()
LOCK = ROOT / "uv.lock"
DOCKERFILES = ROOT / "docker"
# What `nox -s images` and `nox -s server` built, and from what; `run` and `check` read it.
RECORD = ROOT / "configs" / "images.yaml"
# Beside it: each image's CycloneDX SBOM, as the image holds it at /opt/sbom.cdx.json.
SBOMS = ROOT / "configs" / "sbom"
# The project's own ZenML config folder: several projects on one machine never share state.
ZENML_CONFIG = ROOT / ".zenml"
# The server's credentials, readable by you only; CONNECTION exists while the server runs.
SERVER_STATE = ROOT / ".zenml-server"
ADMIN_ENV = SERVER_STATE / "admin.env"
API_KEY = SERVER_STATE / "api-key"
CONNECTION = SERVER_STATE / "client.env"
# ZenML saves an env-provided store in its config folder: the server's client gets its own.
SERVER_CLIENT_CONFIG = SERVER_STATE / "client"
# Which project this folder is (`project_id()`); it moves with the folder.
IDENTITY = SERVER_STATE / "project-id"
# Per project id: the folder that owns it (`root`) and the server's artifacts (`local_stores`),
# outside the project folder so that a move keeps every artifact's path. It and the labels keep
# the names of projects rendered before the package, so their servers and images are found.
DATA_HOME = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share") / "envtools"
# The label whose value (`project_id()`) marks this project's server container.
SERVER_LABEL = "envtools.server"
URL_LABEL = "envtools.server-url"  # where `up` made it listen, for `status` and a second `up`


# How a merge conflict that `copier update` leaves inline starts (not spelt out: this file
# would carry one).
CONFLICT_MARKER = "<" * 7 + " "
# Folders the sessions derive (environments, state, builds): never the user's or template's.
DERIVED = {".git", ".venv", ".nox", ".zenml", ".zenml-server", "build", "__pycache__"}


def has_conflict(text: str) -> bool:
    return ("\n" + CONFLICT_MARKER) in ("\n" + text)


# What a merge of the template can have touched: regular files of a template's size (a FIFO
# would block the read; a data set is never merged, and reading one would cost its size).
MERGED_FILE_LIMIT = 1_000_000


def conflicted_files() -> list[str]:
    """Files of the project in which a merge (`copier update`) left conflict markers."""
    found = []
    for folder, subfolders, files in os.walk(ROOT):
        subfolders[:] = [name for name in subfolders if name not in DERIVED]
        if Path(folder) == ROOT:
            subfolders[:] = [name for name in subfolders if name != "data"]
        for name in files:
            path = Path(folder, name)
            try:
                status = path.lstat()
                if not stat.S_ISREG(status.st_mode) or status.st_size > MERGED_FILE_LIMIT:
                    continue
                text = path.read_text(errors="ignore")
            except OSError:
                continue
            if has_conflict(text):
                found.append(str(path.relative_to(ROOT)))
    return sorted(found)


def read_env_file(path: Path) -> dict[str, str]:
    """KEY=VALUE lines (values may hold spaces); blank lines and # comments are skipped."""
    values = {}
    if path.is_file():
        for line in path.read_text().splitlines():
            key, separator, value = line.partition("=")
            if separator and not key.strip().startswith("#"):
                values[key.strip()] = value.strip()
    return values


def write_env_file(path: Path, values: dict[str, str]) -> None:
    """Write KEY=VALUE lines to a file only the current user can read."""
    path.parent.mkdir(mode=0o700, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as file:
        file.writelines(f"{key}={value}\n" for key, value in values.items())


def tool_table(root: Path = ROOT) -> object:
    """[tool.zenlock] of the project's pyproject.toml as written (settings.tool_settings checks
    it); [tool.envtools] (older projects) with a notice."""
    try:
        tool = tomllib.loads((root / "pyproject.toml").read_text()).get("tool", {})
    except tomllib.TOMLDecodeError as error:
        raise ZenlockError(
            f"{root / 'pyproject.toml'} is not valid TOML ({error}): fix it there (a merge "
            "conflict that `copier update` left?)."
        ) from None
    if "zenlock" in tool or OLD_TOOL_TABLE not in tool:
        return tool.get("zenlock", {})
    if not getattr(tool_table, "noticed", False):
        tool_table.noticed = True
        print(
            "notice: pyproject.toml has [tool.envtools]; zenlock reads it, and `nox -s update` "
            "renames it [tool.zenlock].",
            file=sys.stderr,
        )
    return tool[OLD_TOOL_TABLE]


def refuse_unknown_schema(root: Path = ROOT) -> None:
    """Before any command acts: a project of a newer template (its `schema`), or a setting of
    [tool.zenlock] zenlock would misread or ignore, is refused with the fix."""
    from .settings import tool_settings  # settings imports this module: imported when called

    tool_settings(root)


def analytics_choice() -> str:
    """ZenML's client analytics follow the project's answer, as its server's do
    (`[tool.zenlock.server] analytics`, off unless true), whatever the shell says."""
    from .settings import tool_settings

    try:
        server = tool_settings(ROOT).get("server", {})
    except OSError:  # no pyproject.toml here: nothing chose analytics
        return "false"
    return "true" if server.get("analytics") is True else "false"


def zenml_environment() -> dict[str, str]:
    """The project's ZenML config, and the connection to its server while one runs."""
    analytics = {"ZENML_ANALYTICS_OPT_IN": analytics_choice()}
    if not CONNECTION.is_file():
        return {"ZENML_CONFIG_PATH": str(ZENML_CONFIG), **analytics}
    connection = read_env_file(CONNECTION)
    url, key = connection.get("ZENML_STORE_URL", ""), connection.get("ZENML_STORE_API_KEY", "")
    if key_in_credentials_store(url, key):
        # ZenML renews its token with the stored key and keeps it between processes; with the
        # key in the environment it would log in again in each one (ZenML's credentials store
        # drops the token when the key is set again), and logins are rate-limited.
        connection.pop("ZENML_STORE_API_KEY")
    identity = project_id()
    if identity is None:  # a client.env copied in by hand: whose artifacts it would use is unknown
        raise ZenlockError(
            f"{CONNECTION.relative_to(ROOT)} names a server, but this folder has no project id: "
            "run `nox -s server -- connect URL` (or `-- up`) to connect it."
        )
    return {
        **analytics,
        **connection,
        "ZENML_CONFIG_PATH": str(SERVER_CLIENT_CONFIG),
        # Where the server's artifact store keeps them: the same path for this process, the
        # step containers and the server (which mounts it), wherever the project folder is.
        "ZENML_LOCAL_STORES_PATH": str(local_stores(identity)),
    }


def keep_zenml_state_private() -> None:
    """ZenML writes its client config and credentials (API key, access tokens) with the
    default mode: folders 0700, files 0600, before and after a command that runs ZenML."""
    for folder in (ZENML_CONFIG, SERVER_CLIENT_CONFIG):
        if folder.is_dir():
            try:
                folder.chmod(0o700)
                for path in folder.glob("*.yaml"):
                    path.chmod(0o600)
            except OSError:  # not ours to change (a read-only folder): nothing was written
                pass


def key_in_credentials_store(url: str, key: str) -> bool:
    """Whether ZenML's credentials store of the server's client holds this API key for `url`."""
    try:
        stored = yaml.safe_load((SERVER_CLIENT_CONFIG / "credentials.yaml").read_text())
    except (OSError, yaml.YAMLError):
        return False
    entry = stored.get(url) if isinstance(stored, dict) else None
    return bool(key) and isinstance(entry, dict) and entry.get("api_key") == key


def local_stores(identity: str) -> Path:
    return DATA_HOME / identity / "local_stores"


def project_id() -> str | None:
    """This project's server, data volume and artifacts on this machine, or None before its
    first `up`. A moved folder keeps its id; a copy's id still names the original, so a copy
    is refused until `nox -s server -- detach` gives it its own."""
    state = state_of()
    if state == "copy":
        raise ZenlockError(
            f"This folder is a copy of {owner_of(IDENTITY.read_text().strip())} and would use "
            "that project's server and artifacts. Give the copy its own with `nox -s server -- "
            "detach`."
        )
    if state == "unsure":
        raise ZenlockError(
            "This folder has the id of the project last seen at "
            f"{owner_of(IDENTITY.read_text().strip())}, which is gone, and its files are not "
            "that folder's (a copy, or a move to another disk). A copy: `nox -s server -- "
            "detach` gives it its own, empty server. Only if this folder is the project that "
            "owns the server: `nox -s server -- claim` (every other folder with this id, the "
            "original too, then becomes a copy and cannot claim it back)."
        )
    return IDENTITY.read_text().strip() if IDENTITY.is_file() else recovered_id()


def state_of() -> str:
    """Whose this folder's id is: `new` (none yet), `own` (recorded here), `moved` (the folder
    recorded elsewhere, moved here: the same files), `copy` (its original still has the id),
    `unsure` (the original is gone and this folder's files are not its files)."""
    if not IDENTITY.is_file():
        return "new"
    identity = IDENTITY.read_text().strip()
    owner = owner_of(identity)
    if owner is None or owner == ROOT:
        return "own"
    if identity_in(owner) == identity:
        return "copy"
    recorded = recorded_file(identity)
    return "moved" if recorded in (None, file_id(IDENTITY)) else "unsure"


def file_id(path: Path) -> str:
    """A file's device and inode: kept by a move on one disk, new for every copy."""
    found = path.stat()
    return f"{found.st_dev}:{found.st_ino}"


def recorded_file(identity: str) -> str | None:
    lines = (DATA_HOME / identity / "root").read_text().splitlines()
    return lines[1] if len(lines) > 1 else None  # None: recorded before files were kept


def recovered_id() -> str | None:
    """The id of this folder's server after .zenml-server/ was lost, if it had one."""
    if DATA_HOME.is_dir():
        for owner_file in DATA_HOME.glob("*/root"):
            lines = owner_file.read_text().splitlines()
            if lines and Path(lines[0].strip()) == ROOT:
                return owner_file.parent.name
    if ADMIN_ENV.is_file():  # a server made before ids were kept: named after the path
        return hashlib.sha256(str(ROOT).encode()).hexdigest()[:12]
    return None


def claim_id(*, new: bool = False, claiming: bool = False) -> str:
    """This folder's project id, made if it has none (or `new`), recorded as this folder's.
    `claiming`: the user said this folder owns the id (`nox -s server -- claim`)."""
    identity = IDENTITY.read_text().strip() if claiming else None if new else project_id()
    if identity is None:
        identity = secrets.token_hex(6)
    moved = not (new or claiming) and IDENTITY.is_file()
    if moved and owner_of(identity) not in (None, ROOT):
        print(f"This project moved here from {owner_of(identity)}; its server moved with it.")
    SERVER_STATE.mkdir(mode=0o700, exist_ok=True)
    if not IDENTITY.is_file() or IDENTITY.read_text() != identity + "\n":
        IDENTITY.write_text(identity + "\n")
    local_stores(identity).mkdir(parents=True, exist_ok=True)
    record = f"{ROOT}\n{file_id(IDENTITY)}\n"
    owner_file = DATA_HOME / identity / "root"
    if not owner_file.is_file() or owner_file.read_text() != record:  # an `up` rewrites nothing
        owner_file.write_text(record)
    return identity


def owner_of(identity: str) -> Path | None:
    owner_file = DATA_HOME / identity / "root"
    if not owner_file.is_file():
        return None
    lines = owner_file.read_text().splitlines()
    return Path(lines[0].strip()) if lines else None


def identity_in(folder: Path) -> str | None:
    identity_file = folder / IDENTITY.relative_to(ROOT)
    return identity_file.read_text().strip() if identity_file.is_file() else None


def read_record() -> dict:
    if not RECORD.is_file():
        return {}
    return yaml.safe_load(RECORD.read_text()) or {}


RECORD_SECTIONS = ("pipelines", "server")


def update_record(**sections) -> None:
    """Replace sections of the record (`pipelines`, `server`), keeping the other one."""
    import yaml

    header = "# Written by `nox -s images` and `nox -s server`: each image and what it holds.\n"
    kept = {name: value for name, value in read_record().items() if name in RECORD_SECTIONS}
    record = {**kept, **sections}

    class Plain(yaml.SafeDumper):  # a value two images share is written out twice, not as &id001
        def ignore_aliases(self, data) -> bool:
            return True

    RECORD.write_text(header + yaml.dump(record, Dumper=Plain, sort_keys=False))


def port_of(container) -> int:
    """The host port a server container was started on (`up --port`, or the setting)."""
    return int(container.labels[URL_LABEL].rsplit(":", 1)[1])
