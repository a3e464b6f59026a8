"""Settings of zenlock: `[tool.zenlock]` in pyproject.toml.

`[tool.zenlock.images]` says how this machine builds images (parent, registry, network, CA
bundle) and how pipelines use them; `[tool.zenlock.server]` holds the server's own settings
and may set its own name, parent and registry.
"""

from dataclasses import dataclass, field
from pathlib import Path

from . import ZenlockError
from .inputs import host_address, image_reference, platforms, port_number, repository
from .state import ROOT, tool_table

MODES = ("iterate", "release")
NETWORKS = ("bridge", "host")


@dataclass(frozen=True)
class BuildSettings:
    """What every image build needs."""

    name: str
    registry: str
    parent: str
    network: str
    ca_bundle: str
    # The platforms to build for; () = the Docker engine's own. Each has its own parent image
    # (`parents`, else `parent`): a local tag holds one platform.
    platforms: tuple[str, ...] = ()
    parents: dict[str, str] = field(default_factory=dict)
    section: str = "images"  # its table in [tool.zenlock], for messages

    @property
    def repository(self) -> str:
        return f"{self.registry}/{self.name}" if self.registry else self.name

    def parent_for(self, platform: str) -> str:
        return self.parents.get(platform, self.parent)


@dataclass(frozen=True)
class PipelineSettings:
    build: BuildSettings
    mode: str
    pipeline_groups: dict[str, list[str]]


@dataclass(frozen=True)
class ServerSettings:
    build: BuildSettings
    host: str
    port: int
    env_file: str
    plugins: str
    analytics: bool  # ZenML's usage analytics from the server: an explicit choice


def zenlock_table(root: Path, name: str) -> dict:
    return tool_table(root).get(name, {})


def build_settings(table: dict, images: dict, default_name: str, section: str) -> BuildSettings:
    """`table`'s own values first, then the machine-wide ones of [tool.zenlock.images]."""

    def where(key: str) -> str:
        return f"[tool.zenlock.{section if key in table else 'images'}] {key}"

    def value(key: str, default: str = "") -> str:
        found = table.get(key, images.get(key, default))
        return ",".join(found) if isinstance(found, list) else str(found)

    settings = BuildSettings(
        name=str(table.get("name", default_name)),
        registry=value("registry").rstrip("/"),
        parent=value("parent"),
        network=value("network", "bridge"),
        ca_bundle=value("ca_bundle"),
        platforms=platforms(value("platforms"), where("platforms")) if value("platforms") else (),
        # A table with a parent of its own has its own parents too.
        parents=parent_images(
            table.get("parents", {} if "parent" in table else images.get("parents", {})),
            where("parents"),
        ),
        section=section,
    )
    if settings.network not in NETWORKS:
        raise ZenlockError(
            f"[tool.zenlock.images] network = {settings.network!r}: use one of {NETWORKS}."
        )
    if not settings.parent:
        raise ZenlockError(f"[tool.zenlock.{section}] parent is empty: name a parent image.")
    image_reference(settings.parent, f"[tool.zenlock.{section}] parent")
    if settings.registry:
        repository(settings.registry, f"[tool.zenlock.{section}] registry")
    repository(settings.name, f"[tool.zenlock.{section}] name")
    return settings


def parent_images(table: object, where: str) -> dict[str, str]:
    """PLATFORM = IMAGE: the parent of that platform's images."""
    if not isinstance(table, dict):
        raise ZenlockError(f'{where} is not a table: write "linux/arm64" = "IMAGE" lines.')
    return {
        platforms(key, where)[0]: image_reference(str(value), f'{where} "{key}"')
        for key, value in table.items()
    }


def pipeline_settings(root: Path = ROOT) -> PipelineSettings:
    table = zenlock_table(root, "images")
    settings = PipelineSettings(
        build=build_settings(table, table, root.name, "images"),
        mode=table.get("mode", "iterate"),
        pipeline_groups=table.get("pipeline_groups", {}),
    )
    if settings.mode not in MODES:
        raise ZenlockError(f"[tool.zenlock.images] mode = {settings.mode!r}: use one of {MODES}.")
    return settings


def server_settings(root: Path = ROOT) -> ServerSettings:
    images, table = zenlock_table(root, "images"), zenlock_table(root, "server")
    default_name = f"{images.get('name', root.name)}-server"
    return ServerSettings(
        build=build_settings(table, images, default_name, "server"),
        host=host_address(table.get("host", "127.0.0.1"), "[tool.zenlock.server] host"),
        port=port_number(table.get("port", 8238), "[tool.zenlock.server] port"),
        env_file=table.get("env_file", "configs/server.env"),
        plugins=table.get("plugins", ""),
        analytics=table.get("analytics", False) is True,
    )


def default_stack(root: Path = ROOT) -> str | None:
    """`[tool.zenlock.stacks] default`: the stack plain `nox -s run` runs on (a stack file's
    `stack_name`), locally and on the project's server; None: ZenML's active stack."""
    name = zenlock_table(root, "stacks").get("default")
    if name is not None and (not isinstance(name, str) or not name.strip()):
        raise ZenlockError(
            f"[tool.zenlock.stacks] default = {name!r}: name a stack of configs/stacks/."
        )
    return name
