"""Settings of the environment tools: `[tool.envtools]` in pyproject.toml."""

import tomllib
from dataclasses import dataclass, replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MODES = ("iterate", "release")
NETWORKS = ("bridge", "host")


class EnvtoolsError(Exception):
    """A problem the user can fix; the message says how."""


@dataclass(frozen=True)
class ImageSettings:
    name: str
    registry: str
    parent: str
    mode: str
    network: str
    ca_bundle: str
    pipeline_groups: dict[str, list[str]]

    @property
    def repository(self) -> str:
        return f"{self.registry}/{self.name}" if self.registry else self.name


def load_pyproject(root: Path = ROOT) -> dict:
    return tomllib.loads((root / "pyproject.toml").read_text())


def image_settings(root: Path = ROOT) -> ImageSettings:
    table = load_pyproject(root).get("tool", {}).get("envtools", {}).get("images", {})
    settings = ImageSettings(
        name=table.get("name", root.name),
        registry=table.get("registry", "").rstrip("/"),
        parent=table.get("parent", ""),
        mode=table.get("mode", "iterate"),
        network=table.get("network", "bridge"),
        ca_bundle=table.get("ca_bundle", ""),
        pipeline_groups=table.get("pipeline_groups", {}),
    )
    if settings.mode not in MODES:
        raise EnvtoolsError(f"[tool.envtools.images] mode = {settings.mode!r}: use one of {MODES}.")
    if settings.network not in NETWORKS:
        raise EnvtoolsError(
            f"[tool.envtools.images] network = {settings.network!r}: use one of {NETWORKS}."
        )
    if not settings.parent:
        raise EnvtoolsError("[tool.envtools.images] parent is empty: name a parent image.")
    return settings


@dataclass(frozen=True)
class ServerSettings:
    image: ImageSettings  # name, parent, registry, network and CA of the server image
    host: str
    port: int
    env_file: str
    plugins: str


def server_settings(root: Path = ROOT) -> ServerSettings:
    images = image_settings(root)
    table = load_pyproject(root).get("tool", {}).get("envtools", {}).get("server", {})
    return ServerSettings(
        image=replace(
            images,
            name=table.get("name", f"{images.name}-server"),
            parent=table.get("parent", images.parent),
        ),
        host=table.get("host", "127.0.0.1"),
        port=int(table.get("port", 8238)),
        env_file=table.get("env_file", "configs/server.env"),
        plugins=table.get("plugins", ""),
    )
