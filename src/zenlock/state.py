"""The project's state on disk: env files, merge conflicts, the project's ZenML environment."""

import os
import stat
from pathlib import Path

import yaml

from . import ZenlockError
from .identity import local_stores, project_id
from .project import Project

# The label whose value (the project id) marks this project's server container; both keep the
# names of projects rendered before the package, so their servers are found.
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


def conflicted_files(root: Path) -> list[str]:
    """Files of the project in which a merge (`copier update`) left conflict markers."""
    found = []
    for folder, subfolders, files in os.walk(root):
        subfolders[:] = [name for name in subfolders if name not in DERIVED]
        if Path(folder) == root:
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
                found.append(str(path.relative_to(root)))
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


def analytics_choice(project: Project) -> str:
    """ZenML's client analytics follow the project's answer, as its server's do
    (`[tool.zenlock.server] analytics`, off unless true), whatever the shell says."""
    try:
        server = project.settings.get("server", {})
    except OSError:  # no pyproject.toml here: nothing chose analytics
        return "false"
    return "true" if server.get("analytics") is True else "false"


def zenml_environment(project: Project) -> dict[str, str]:
    """The project's ZenML config, and the connection to its server while one runs."""
    analytics = {"ZENML_ANALYTICS_OPT_IN": analytics_choice(project)}
    if not project.connection.is_file():
        return {"ZENML_CONFIG_PATH": str(project.zenml_config), **analytics}
    connection = read_env_file(project.connection)
    url, key = connection.get("ZENML_STORE_URL", ""), connection.get("ZENML_STORE_API_KEY", "")
    if key_in_credentials_store(project, url, key):
        # ZenML renews its token with the stored key and keeps it between processes; with the
        # key in the environment it would log in again in each one (ZenML's credentials store
        # drops the token when the key is set again), and logins are rate-limited.
        connection.pop("ZENML_STORE_API_KEY")
    found = project_id(project)
    if found is None:  # a client.env copied in by hand: whose artifacts it would use is unknown
        raise ZenlockError(
            f"{project.connection.relative_to(project.root)} names a server, but this folder "
            "has no project id: run `nox -s server -- connect URL` (or `-- up`) to connect it."
        )
    return {
        **analytics,
        **connection,
        "ZENML_CONFIG_PATH": str(project.server_client_config),
        # Where the server's artifact store keeps them: the same path for this process, the
        # step containers and the server (which mounts it), wherever the project folder is.
        "ZENML_LOCAL_STORES_PATH": str(local_stores(project, found)),
    }


def keep_zenml_state_private(project: Project) -> None:
    """ZenML writes its client config and credentials (API key, access tokens) with the
    default mode: folders 0700, files 0600, before and after a command that runs ZenML."""
    for folder in (project.zenml_config, project.server_client_config):
        if folder.is_dir():
            try:
                folder.chmod(0o700)
                for path in folder.glob("*.yaml"):
                    path.chmod(0o600)
            except OSError:  # not ours to change (a read-only folder): nothing was written
                pass


def key_in_credentials_store(project: Project, url: str, key: str) -> bool:
    """Whether ZenML's credentials store of the server's client holds this API key for `url`."""
    try:
        stored = yaml.safe_load((project.server_client_config / "credentials.yaml").read_text())
    except (OSError, yaml.YAMLError):
        return False
    entry = stored.get(url) if isinstance(stored, dict) else None
    return bool(key) and isinstance(entry, dict) and entry.get("api_key") == key


def port_of(container) -> int:
    """The host port a server container was started on (`up --port`, or the setting)."""
    return int(container.labels[URL_LABEL].rsplit(":", 1)[1])
