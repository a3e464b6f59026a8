"""An OCI image written without a container: the parent's config and layers, our layers on
top, a config (user, env, workdir, labels) and a manifest; several platforms' manifests in an
index. Every document is canonical JSON (sorted keys, no spaces): the same inputs give the
same digests on any machine. Also the docker-archive stream `docker load` reads.
"""

import hashlib
import json
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

from .tarlayer import TAR, TAR_GZIP, Layer

MANIFEST = "application/vnd.oci.image.manifest.v1+json"
INDEX = "application/vnd.oci.image.index.v1+json"
CONFIG = "application/vnd.oci.image.config.v1+json"
# Docker's media types of the same bytes, as parents pulled from Docker Hub name them.
DOCKER_LAYERS = {
    "application/vnd.docker.image.rootfs.diff.tar.gzip": TAR_GZIP,
    "application/vnd.docker.image.rootfs.diff.tar": TAR,
}
# The image config's fields an image keeps (inspect adds a container's: Hostname, Tty, …).
CONFIG_FIELDS = (
    "User", "ExposedPorts", "Env", "Entrypoint", "Cmd", "Volumes", "WorkingDir", "Labels",
    "StopSignal", "Healthcheck", "Shell",
)  # fmt: skip


def canonical(document: dict) -> bytes:
    return json.dumps(document, sort_keys=True, separators=(",", ":")).encode()


def digest_of(data: bytes) -> str:
    return f"sha256:{hashlib.sha256(data).hexdigest()}"


def timestamp(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class Parent:
    """The image we build on: its id (the digest of its config), what of its config an image
    inherits (`parent_config`), and its layers, bottom first (a layer's path is None when its
    blob is only in a registry, or only in the local engine)."""

    name: str
    id: str
    config: dict
    layers: list[Layer]

    @property
    def platform(self) -> str:
        variant = self.config.get("variant")
        return f"{self.config['os']}/{self.config['architecture']}" + (
            f"/{variant}" if variant else ""
        )


@dataclass(frozen=True)
class Settings:
    """What our image's config says beyond the parent's (today's Dockerfiles' ENV, WORKDIR,
    USER and LABELs)."""

    user: str = "10001"
    env: dict[str, str] = field(default_factory=dict)  # PATH: prepended to the parent's
    workdir: str = "/app"
    labels: dict[str, str] = field(default_factory=dict)
    created: int = 0  # seconds since 1970 (SOURCE_DATE_EPOCH)


@dataclass(frozen=True)
class Image:
    config: bytes
    manifest: bytes
    layers: list[Layer]  # all of them, the parent's first

    @property
    def digest(self) -> str:
        return digest_of(self.manifest)

    @property
    def config_digest(self) -> str:
        return digest_of(self.config)


# What a build sees as ${PATH} in an image that sets none (Docker's default).
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def parent_config(architecture: str, system: str, variant: str | None, config: dict) -> dict:
    """What an image inherits from its parent's config, the same whether it was read from a
    registry (the config blob) or from the local engine (its inspection, which lacks the
    history): so the same parent gives the same image config, wherever it was found."""
    document = {
        "architecture": architecture,
        "os": system,
        "config": {key: config[key] for key in CONFIG_FIELDS if config.get(key)},
    }
    return {**document, "variant": variant} if variant else document


def merged_env(parent: list[str], ours: dict[str, str]) -> list[str]:
    """The parent's environment with ours set over it; our PATH goes before the parent's
    (as `ENV PATH=/opt/venv/bin:${PATH}` does)."""
    env = dict(entry.split("=", 1) for entry in parent)
    for name, value in ours.items():
        env[name] = f"{value}:{env.get(name) or DEFAULT_PATH}" if name == "PATH" else value
    return [f"{name}={value}" for name, value in env.items()]


def image_config(parent: Parent, layers: list[Layer], settings: Settings) -> dict:
    base = parent.config.get("config") or {}
    config = {key: base[key] for key in CONFIG_FIELDS if base.get(key) is not None}
    config["Env"] = merged_env(base.get("Env") or [], settings.env)
    config["User"] = settings.user
    config["WorkingDir"] = settings.workdir
    config["Labels"] = {**(base.get("Labels") or {}), **settings.labels}
    created = timestamp(settings.created)
    history = [{"created": created, "comment": f"parent {parent.id}"} for _ in parent.layers]
    document = {
        "architecture": parent.config["architecture"],
        "os": parent.config["os"],
        "created": created,
        "config": config,
        "rootfs": {
            "type": "layers",
            "diff_ids": [layer.diff_id for layer in [*parent.layers, *layers]],
        },
        "history": [
            *history,
            *({"created": created, "created_by": "zenlock assemble"} for _ in layers),
        ],
    }
    if parent.config.get("variant"):
        document["variant"] = parent.config["variant"]
    return document


def oci_type(media_type: str) -> str:
    return DOCKER_LAYERS.get(media_type, media_type)


def assemble(parent: Parent, layers: list[Layer], settings: Settings) -> Image:
    """The image of `layers` on `parent`: its config and manifest."""
    config = canonical(image_config(parent, layers, settings))
    all_layers = [*parent.layers, *layers]
    manifest = {
        "schemaVersion": 2,
        "mediaType": MANIFEST,
        "config": {"mediaType": CONFIG, "digest": digest_of(config), "size": len(config)},
        "layers": [
            {**layer.descriptor(), "mediaType": oci_type(layer.media_type)} for layer in all_layers
        ],
    }
    return Image(config, canonical(manifest), all_layers)


def index(manifests: dict[str, tuple[str, int]]) -> bytes:
    """The index (manifest list) of one image per platform ("linux/arm64": its manifest's
    digest and size)."""
    entries = []
    for platform, (digest, size) in sorted(manifests.items()):
        system, architecture, *variant = platform.split("/")
        where = {"os": system, "architecture": architecture}
        if variant:
            where["variant"] = variant[0]
        entries.append({"mediaType": MANIFEST, "digest": digest, "size": size, "platform": where})
    return canonical({"schemaVersion": 2, "mediaType": INDEX, "manifests": entries})


def tar_member(name: str, size: int) -> bytes:
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = size, 0o644, 0
    return info.tobuf(format=tarfile.GNU_FORMAT)


def padding(size: int) -> bytes:
    return b"\0" * (-size % tarfile.BLOCKSIZE)


def docker_archive(image: Image, tag: str, chunk: int = 1 << 20) -> Iterator[bytes]:
    """`image` as the tar `docker load` reads (docker-archive), streamed. Layers with no file
    here (the parent's, which the engine holds) are named in manifest.json but not sent: the
    engine reuses a layer it has and reads its file only when it lacks it. Layers may be plain
    tars (cheapest: no compression) or gzip blobs (the engine unpacks them)."""
    layer_names = [f"{layer.diff_id.split(':')[1]}/layer.tar" for layer in image.layers]
    manifest = json.dumps(
        [{"Config": "config.json", "RepoTags": [tag], "Layers": layer_names}]
    ).encode()
    for name, data in (("config.json", image.config), ("manifest.json", manifest)):
        yield tar_member(name, len(data)) + data + padding(len(data))
    for name, layer in zip(layer_names, image.layers, strict=True):
        if layer.path is None:
            continue
        yield tar_member(name, layer.size)
        with layer.path.open("rb") as content:
            while data := content.read(chunk):
                yield data
        yield padding(layer.size)
    yield b"\0" * (2 * tarfile.BLOCKSIZE)
