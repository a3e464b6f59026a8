"""The project's state on disk: where things live, env files, the project's ZenML environment."""

import hashlib
import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LOCK = ROOT / "uv.lock"
DOCKERFILES = ROOT / "docker"
# What `nox -s images` and `nox -s server` built, and from what; `run` and `check` read it.
RECORD = ROOT / "configs" / "images.yaml"
# The project's own ZenML config folder: several projects on one machine never share state.
ZENML_CONFIG = ROOT / ".zenml"
# The server's credentials, readable by you only; CONNECTION exists while the server runs.
SERVER_STATE = ROOT / ".zenml-server"
ADMIN_ENV = SERVER_STATE / "admin.env"
API_KEY = SERVER_STATE / "api-key"
CONNECTION = SERVER_STATE / "client.env"
# ZenML saves an env-provided store in its config folder: the server's client gets its own.
SERVER_CLIENT_CONFIG = SERVER_STATE / "client"
# The label whose value (`project_id()`) marks this project's server container.
SERVER_LABEL = "envtools.server"


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


def zenml_environment() -> dict[str, str]:
    """The project's ZenML config, and the connection to its server while one runs."""
    return {"ZENML_CONFIG_PATH": str(ZENML_CONFIG), **read_env_file(CONNECTION)}


def project_id() -> str:
    """Tells this project's server apart from other projects' on the same Docker engine."""
    return hashlib.sha256(str(ROOT).encode()).hexdigest()[:12]


def read_record() -> dict:
    import yaml  # not at the top: `nox -s lock` runs envtools where only the stdlib is

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
    RECORD.write_text(header + yaml.safe_dump(record, sort_keys=False))
