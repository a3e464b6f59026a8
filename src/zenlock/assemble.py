"""The layers of a pipeline image assembled from the lock on this machine, with no container:
a base layer (the user, /app, the venv's own files), one layer per share of the lock (the
hash-pinned requirements `uv export` writes, the most stable first), each installed by uv for
the image's platform and Python and compiled to bytecode for what a step imports
(bytecode.py), then the SBOM; each written as a reproducible layer. A share is made once per
machine (kept in the cache by what it and the shares below it hold). A release's data/ and
code are folders laid on top as they are (`folder_layers`).

    built = build_layers(recipe, work, compress=..., cache=..., code=...)
    image = ociimage.assemble(parent, built.layers, recipe.settings)

then `enginelayers.load` (plain tar layers) or `ociregistry.push` (gzip layers).
"""

import hashlib
import json
import os
import platform as host
import shutil
import sys
import tempfile
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from . import baselayer, bytecode, tarlayer, venvshare
from .ociimage import Settings
from .parents import ParentFiles
from .tarlayer import Layer

VENV_ENV = {
    "PATH": f"{venvshare.VENV}/bin",
    "VIRTUAL_ENV": str(venvshare.VENV),
    "PYTHONUNBUFFERED": "1",
}
# Where the image's integrations were activated: read by `nox -s images` and `nox -s check`.
ACTIVATION_REPORT = PurePosixPath("/opt/zenlock/activation.json")


@dataclass(frozen=True)
class Share:
    """A layer's share of the lock: its requirements (`uv export`, hash-pinned) and what a
    step imports from it: modules, distributions' top-level modules, ZenML integrations."""

    requirements: str
    modules: tuple[str, ...] = ()
    packages: tuple[str, ...] = ()
    integrations: tuple[str, ...] = ()


@dataclass(frozen=True)
class Recipe:
    shares: list[Share]  # one layer each, the most stable first
    parent: ParentFiles
    platform: str = "linux/amd64"
    sbom: str = ""
    labels: dict[str, str] = field(default_factory=dict)
    created: int = 0  # SOURCE_DATE_EPOCH: the time of every file and of the image

    @property
    def settings(self) -> Settings:
        return Settings(env=VENV_ENV, labels=self.labels, created=self.created)


def this_platform() -> str | None:
    """This machine's image platform, when it can load Linux binaries of its own."""
    machines = {machine: platform for platform, machine in venvshare.MACHINES.items()}
    return machines.get(host.machine()) if sys.platform == "linux" else None


@dataclass(frozen=True)
class Built:
    layers: list[Layer]  # the base layer, then one per share; a share's path None: see sources
    activation: list[dict] | None  # None: not activated here (no interpreter of the version)
    sources: dict[str, Path]  # a layer's digest: the folder it is written from, when needed
    made: int  # shares made by this run (the others came from the cache)


def build_layers(
    recipe: Recipe,
    work: Path,
    *,
    compress: bool,
    cache: Path,
    code: str,
    environment: dict[str, str] | None = None,
    say: Callable[[str], None] = print,
) -> Built:
    """The recipe's layers: gzip blobs to push, or plain tars to load into an engine; a share
    made before (in `cache`, by the key of it and every share below it, and `code`, the
    assembler's) is neither installed nor compiled again, and its layer is written only when
    asked (`Built.sources`). `environment`: uv's (the index settings and CA bundle reach uv,
    never a layer)."""
    version = recipe.parent.python_version
    base = work / "base"
    owners = baselayer.write_base(
        base,
        passwd=recipe.parent.passwd,
        group=recipe.parent.group,
        python=recipe.parent.python,
        python_version=version,
        full_version=recipe.parent.full_version,
    )
    layers = [write(base, work / "base.layer", recipe.created, compress, owners)]
    interpreter = bytecode.host_python(version)
    if not interpreter:
        say(f"  no Python {version} on this machine: no bytecode, integrations not activated here")
    key = content_hash(code, recipe.platform, recipe.parent.python, str(bool(interpreter)))
    writer = ThreadPoolExecutor(max_workers=1)  # layers written while uv and imports run
    shares: list[ShareBuild] = []
    activation = None
    sources, made_here = {}, 0
    for share in recipe.shares:
        key = content_hash(key, share.requirements, *share.modules, "|", *share.packages, "|",
                           *share.integrations)  # fmt: skip
        made = cache / "shares" / key[:32]
        if not (made / "done.json").is_file():
            # Made aside, then moved in whole: another run making the same share at the same
            # time (a second terminal, a test worker) finds it complete or not at all.
            (cache / "shares").mkdir(parents=True, exist_ok=True)
            aside = Path(tempfile.mkdtemp(prefix=".making-", dir=cache / "shares"))
            make_share(share, aside, recipe, shares, interpreter, environment)
            made_here += 1
            try:
                aside.rename(made)
            except OSError:  # made meanwhile by the other run: the same files
                shutil.rmtree(aside)
        shares.append(ShareBuild(made, json.loads((made / "done.json").read_text()), version))
        if shares[-1].meta.get("activation") is not None:
            activation = shares[-1].meta["activation"]
        layer = shares[-1].layer(compress)
        if layer is None:  # its digest not known yet: written (while the next share is made)
            layer = writer.submit(write, made / "root", work / f"{key[:16]}.layer",
                                  recipe.created, compress, {})  # fmt: skip
        else:
            sources[layer.digest] = made / "root"
        layers.append(layer)
    if recipe.sbom:  # last, as in the Dockerfile: it changes with every package
        sbom = work / "sbom"
        (sbom / "opt").mkdir(parents=True)
        (sbom / "opt" / "sbom.cdx.json").write_text(recipe.sbom)
        layers.append(write(sbom, work / "sbom.layer", recipe.created, compress, {}))
    writer.shutdown()
    for n, (layer, share) in enumerate(zip(layers[1:], shares, strict=False), 1):
        if isinstance(layer, Future):
            layers[n] = layer.result()
            share.remember(layers[n])
    return Built(layers, activation, sources, made_here)


def content_hash(*parts: str) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(len(part.encode()).to_bytes(8, "big") + part.encode())
    return digest.hexdigest()


@dataclass(frozen=True)
class ShareBuild:
    """A share made in the cache: its folder (root/: the layer's files; probe/: the same pins
    for this machine, when the image's platform is another) and what is known of its layer."""

    folder: Path
    meta: dict
    python_version: str

    @property
    def site(self) -> Path:
        return site_of(self.folder / "root", self.python_version)

    @property
    def probe(self) -> Path:
        probe = site_of(self.folder / "probe", self.python_version)
        return probe if (self.folder / "probe").is_dir() else self.site

    def layer(self, compress: bool) -> Layer | None:
        known = self.meta.get("gzip" if compress else "tar")
        if not known:
            return None
        media = tarlayer.TAR_GZIP if compress else tarlayer.TAR
        return Layer(None, media, known["digest"], known["size"], known["diff_id"])

    def remember(self, layer: Layer) -> None:
        kind = "gzip" if layer.media_type == tarlayer.TAR_GZIP else "tar"
        self.meta[kind] = {"digest": layer.digest, "size": layer.size, "diff_id": layer.diff_id}
        aside = self.folder / f".done-{os.getpid()}.json"
        aside.write_text(json.dumps(self.meta))
        aside.replace(self.folder / "done.json")


def make_share(
    share: Share,
    folder: Path,
    recipe: Recipe,
    below: list[ShareBuild],
    interpreter: str | None,
    environment: dict[str, str] | None,
) -> None:
    """Install `share` into folder/root for the image, find what its imports load (on this
    machine's install of it), compile that, and keep the activation report in the layer."""
    version = recipe.parent.python_version
    root = install(share, folder / "root", recipe.platform, version, environment)
    site = site_of(root, version)
    meta: dict = {"activation": None}
    if interpreter and share.requirements.strip():
        probe = site
        if recipe.platform != this_platform():  # the same pins for this machine, to import
            probe_root = install(share, folder / "probe", this_platform(), version, environment)
            probe = site_of(probe_root, version)
        probes = [probe, *(lower.probe for lower in below[::-1])]
        # A .pth file changes how what is below imports (setuptools' distutils shim): the
        # lower shares' modules are imported again, and what they load now is this layer's.
        again = recipe.shares[: len(below)] if any(probe.glob("*.pth")) else []
        found = bytecode.imported(
            interpreter,
            probes,
            modules=[*(m for lower in again for m in lower.modules), *share.modules],
            packages=[*(p for lower in again for p in lower.packages), *share.packages],
            integrations=list(share.integrations),
        )
        sites = {probe: site, **{lower.probe: lower.site for lower in below}}
        bytecode.compile_stage(interpreter, version, found.files, sites, site)
        if share.integrations:
            meta["activation"] = found.activation
            report = venvshare.inside(root, ACTIVATION_REPORT)
            report.parent.mkdir(parents=True, exist_ok=True)
            report.write_text(json.dumps(found.activation) + "\n")
    (folder / "done.json").write_text(json.dumps(meta))


def site_of(root: Path, python_version: str) -> Path:
    """The venv's site-packages in the folder `root` that holds a layer's files."""
    return venvshare.inside(root, venvshare.site_packages(venvshare.VENV, python_version))


def install(
    share: Share, root: Path, platform: str, version: str, environment: dict[str, str] | None
) -> Path:
    root.mkdir()
    if share.requirements.strip():
        requirements = root.with_suffix(".txt")
        requirements.write_text(share.requirements)
        venvshare.install_share(
            requirements, root, platform=platform, python_version=version, environment=environment
        )
    return root


def write(folder: Path, blob: Path, epoch: int, compress: bool, owners: dict) -> Layer:
    return tarlayer.write_layer(folder, blob, compress=compress, epoch=epoch, owners=owners,
                                level=1)  # fmt: skip


def folder_layers(folders: list[Path], work: Path, *, compress: bool, epoch: int) -> list[Layer]:
    """Each of `folders` as a layer of its own, its files as they are (a release's data/ and
    code, owned by root)."""
    return [
        tarlayer.write_layer(
            folder, work / f"folder-{n}.layer", compress=compress, epoch=epoch, level=1
        )
        for n, folder in enumerate(folders, 1)
    ]
