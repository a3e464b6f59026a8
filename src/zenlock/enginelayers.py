"""Assembled images and the local Docker engine: the parent as the engine has it (no pull, no
save when it is only built on), and an image loaded with `docker load` of its layers."""

import hashlib
import json
import tarfile
from pathlib import Path

from . import ZenlockError, engine
from .ociimage import Image, Parent, docker_archive, parent_config
from .tarlayer import TAR, Layer


def parent_in_engine(client: engine.Engine, name: str) -> Parent:
    """`name` as the local engine holds it: its config from the engine's inspection, its
    layers by diff_id (their files stay in the engine)."""
    found = client.image(name)
    if not found:
        raise ZenlockError(f"Parent image {name} is not in the local engine: pull it first.")
    config = parent_config(
        found["Architecture"], found["Os"], found.get("Variant"), found["Config"] or {}
    )
    layers = [Layer(None, TAR, diff_id, 0, diff_id) for diff_id in found["RootFS"]["Layers"]]
    return Parent(name, found["Id"], config, layers)


def load(client: engine.Engine, image: Image, tag: str) -> str:
    """Load `image` into the engine as `tag`; its id (the digest of its config)."""
    said = [part for part in client.api.load_image(docker_archive(image, tag)) or []]
    errors = [part["error"] for part in said if isinstance(part, dict) and part.get("error")]
    if errors or engine.image_id(client, tag) != image.config_digest:
        raise ZenlockError(f"The engine did not load {tag} as assembled: {errors or said}")
    return image.config_digest


def saved_layers(client: engine.Engine, name: str, folder: Path) -> list[Layer]:
    """The parent's layers as files (`docker save`), for a registry that lacks them: plain
    tars, each blob's digest its diff_id."""
    archive = folder / "parent.tar"
    with archive.open("wb") as out:
        for chunk in client.api.get_image(name):
            out.write(chunk)
    layers = []
    with tarfile.open(archive) as saved:
        manifest = json.load(saved.extractfile("manifest.json"))[0]
        for member in manifest["Layers"]:
            target = folder / member.replace("/", "-")
            digest = hashlib.sha256()
            with saved.extractfile(member) as source, target.open("wb") as out:
                while data := source.read(1 << 20):
                    digest.update(data)
                    out.write(data)
            sha = f"sha256:{digest.hexdigest()}"
            layers.append(Layer(target, TAR, sha, target.stat().st_size, sha))
    archive.unlink()
    return layers
