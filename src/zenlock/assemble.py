"""A pipeline image assembled from the lock on this machine, with no container: a base layer
(the user, /app, the venv's own files, the SBOM) and one layer per share of the lock (the
hash-pinned requirement files `uv export` writes, the most stable first), installed by uv for
the image's platform, compiled to bytecode (bytecode.py), and written as reproducible layers
on the parent.

    layers = build_layers(recipe, work, passwd=..., group=..., compress=...)
    image = ociimage.assemble(parent, layers, recipe.settings)

then `enginelayers.load` (plain tar layers) or `ociregistry.push` (gzip layers).
"""

import platform as host
import sys
from dataclasses import dataclass, field
from pathlib import Path

from . import baselayer, bytecode, tarlayer, venvshare
from .ociimage import Settings
from .tarlayer import Layer

VENV_ENV = {
    "PATH": f"{venvshare.VENV}/bin",
    "VIRTUAL_ENV": str(venvshare.VENV),
    "PYTHONUNBUFFERED": "1",
}


@dataclass(frozen=True)
class Share:
    """A layer's share of the lock: its requirements file (`uv export`, hash-pinned) and the
    modules a step imports from it, compiled to bytecode (none named: all its modules)."""

    requirements: Path
    modules: tuple[str, ...] = ()


@dataclass(frozen=True)
class Recipe:
    shares: list[Share]  # one layer each, the most stable first
    platform: str = "linux/amd64"
    python: str = "/usr/bin/python3.11"  # the parent's Python, the venv's home
    python_version: str = "3.11"
    sbom: str = ""
    labels: dict[str, str] = field(default_factory=dict)
    created: int = 0  # SOURCE_DATE_EPOCH: the time of every file and of the image
    bytecode: bool = True

    @property
    def settings(self) -> Settings:
        return Settings(env=VENV_ENV, labels=self.labels, created=self.created)


def this_platform() -> str | None:
    """This machine's image platform, when it can load Linux binaries of its own."""
    machines = {machine: platform for platform, machine in venvshare.MACHINES.items()}
    return machines.get(host.machine()) if sys.platform == "linux" else None


def build_layers(
    recipe: Recipe, work: Path, *, passwd: str, group: str, compress: bool, say=print
) -> list[Layer]:
    """The recipe's layers, written under `work` (an empty folder): gzip blobs to push, or
    plain tars to load into an engine. `passwd` and `group` are the parent's files; `say`
    hears one line per share on its bytecode."""
    base = work / "base"
    owners = baselayer.write_base(
        base,
        passwd=passwd,
        group=group,
        python=recipe.python,
        python_version=recipe.python_version,
        sbom=recipe.sbom,
    )
    layers = [write(base, work / "base.layer", recipe, compress, owners)]
    roots: list[Path] = []
    for number, share in enumerate(recipe.shares, 1):
        root = work / f"share-{number}"
        root.mkdir()
        venvshare.install_share(
            share.requirements, root, platform=recipe.platform, python_version=recipe.python_version
        )
        if recipe.bytecode:
            done = bytecode.compile_share(
                root,
                python_version=recipe.python_version,
                modules=list(share.modules),
                below=roots[::-1],
                importable=recipe.platform == this_platform(),
            )
            say(f"  {share.requirements.name} ({recipe.platform}): {done}")
        roots.append(root)
        layers.append(write(root, work / f"share-{number}.layer", recipe, compress, {}))
    return layers


def write(folder: Path, blob: Path, recipe: Recipe, compress: bool, owners: dict) -> Layer:
    return tarlayer.write_layer(
        folder, blob, compress=compress, epoch=recipe.created, owners=owners, level=1
    )
