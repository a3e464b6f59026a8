"""The project zenlock acts on: one value, made once by the CLI from the working directory (or
by a test from any folder), passed down to every command. Nothing here is read at import."""

import os
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import yaml

from .settings import (  # noqa: F401  (the runtime API's names)
    PipelineSettings,
    ServerSettings,
    find_root,
    pipeline_settings,
    server_settings,
    tool_settings,
    working_root,
)

# The sections of the record: `nox -s images` writes one, `nox -s server` the other.
RECORD_SECTIONS = ("pipelines", "server")


def data_home(environ: Mapping[str, str]) -> Path:
    """Per project id, outside every project folder (so a move keeps every artifact's path):
    the folder that owns the id and the server's artifacts. It keeps the name of projects
    rendered before the package, so their servers are found."""
    base = environ.get("XDG_DATA_HOME") or Path(environ.get("HOME") or Path.home()) / ".local/share"
    return Path(base) / "envtools"


def cache_home(environ: Mapping[str, str]) -> Path:
    """What zenlock keeps to go faster and may lose: the assembler's shares, other platforms'
    uv."""
    base = environ.get("XDG_CACHE_HOME") or Path(environ.get("HOME") or Path.home()) / ".cache"
    return Path(base) / "zenlock"


@dataclass(frozen=True)
class Project:
    root: Path
    data_home: Path
    cache_home: Path

    @classmethod
    def at(cls, root: Path, environ: Mapping[str, str] = os.environ) -> "Project":
        return cls(
            root=Path(root).resolve(), data_home=data_home(environ), cache_home=cache_home(environ)
        )

    # The project's files.
    @property
    def pyproject(self) -> Path:
        return self.root / "pyproject.toml"

    @property
    def lock(self) -> Path:
        return self.root / "uv.lock"

    @property
    def dockerfiles(self) -> Path:
        return self.root / "docker"

    @property
    def source(self) -> Path:
        return self.root / "src"

    @property
    def record(self) -> Path:
        """What `nox -s images` and `nox -s server` built, and from what."""
        return self.root / "configs" / "images.yaml"

    @property
    def sboms(self) -> Path:
        """Each image's CycloneDX SBOM, as the image holds it at /opt/sbom.cdx.json."""
        return self.root / "configs" / "sbom"

    @property
    def stacks(self) -> Path:
        return self.root / "configs" / "stacks"

    @property
    def registry_snapshot(self) -> Path:
        """ZenML's integration registry as the locked ZenML has it."""
        return self.root / "configs" / "zenml-registry.json"

    @property
    def upgrade_backups(self) -> Path:
        return self.root / "build" / "upgrade"

    @property
    def helm_values(self) -> Path:
        return self.root / "deploy" / "helm-values.yaml"

    @property
    def helm_secret(self) -> Path:
        """For `kubectl create secret ... --from-env-file`."""
        return self.root / "deploy" / "helm-secret.env"

    # The project's ZenML state: several projects on one machine never share it.
    @property
    def zenml_config(self) -> Path:
        return self.root / ".zenml"

    @property
    def server_state(self) -> Path:
        """The server's credentials, readable by you only."""
        return self.root / ".zenml-server"

    @property
    def admin_env(self) -> Path:
        return self.server_state / "admin.env"

    @property
    def api_key(self) -> Path:
        return self.server_state / "api-key"

    @property
    def connection(self) -> Path:
        """Exists while the project is connected to a server."""
        return self.server_state / "client.env"

    @property
    def server_client_config(self) -> Path:
        """ZenML saves an env-provided store in its config folder: the server's client gets
        its own."""
        return self.server_state / "client"

    @property
    def identity_file(self) -> Path:
        """Which project this folder is; it moves with the folder."""
        return self.server_state / "project-id"

    # Its settings, read once, when first asked.
    @cached_property
    def settings(self) -> dict:
        return tool_settings(self.root)

    @cached_property
    def pipeline(self) -> PipelineSettings:
        return pipeline_settings(self.root)

    @cached_property
    def server(self) -> ServerSettings:
        return server_settings(self.root)

    @property
    def default_stack(self) -> str | None:
        """`[tool.zenlock.stacks] default`: the stack plain `nox -s run` runs on."""
        return self.settings.get("stacks", {}).get("default")

    # The record of built images.
    def read_record(self) -> dict:
        if not self.record.is_file():
            return {}
        return yaml.safe_load(self.record.read_text()) or {}

    def update_record(self, **sections) -> None:
        """Replace sections of the record (`pipelines`, `server`), keeping the other one."""
        header = "# Written by `nox -s images` and `nox -s server`: each image and what it holds.\n"
        kept = {key: value for key, value in self.read_record().items() if key in RECORD_SECTIONS}

        class Plain(yaml.SafeDumper):  # a value two images share is written out twice
            def ignore_aliases(self, data) -> bool:
                return True

        record = yaml.dump({**kept, **sections}, Dumper=Plain, sort_keys=False)
        self.record.write_text(header + record)
