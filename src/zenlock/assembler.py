"""Pipeline images assembled from the lock (assemble.py), on a parent from the local engine or,
with no engine, from its registry; loaded into the engine, pushed to the registry straight
from their layers, or both. When the engine must build instead (`engine_reason`) and why is
said in one line.

The tag hashes every input as BuildKit's do (the parent's id, the lock's share, the SBOM) plus
the assembler's own code: the same inputs give the same bytes, so a tag found in the engine or
the registry is the image this run would make, and is not made again.
"""

import hashlib
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import partial
from importlib.resources import files
from pathlib import Path

from . import ZenlockError, engine, enginelayers, ociimage, ociregistry, parents, registry
from .assemble import Recipe, Share, build_layers, folder_layers
from .imagespec import ImageSpec, content_hash, write_sbom
from .ociimage import Parent
from .parents import ParentFiles
from .project import Project
from .settings import BuildSettings
from .tarlayer import TAR_GZIP, Layer, write_layer

# The code whose output an image is: a change to any of it is a new tag.
ASSEMBLER_CODE = (
    "assembler.py", "assemble.py", "baselayer.py", "bytecode.py", "imagelayers.py",
    "ociimage.py", "parents.py", "tarlayer.py", "venvshare.py", "activation.py",
    "inside/imports.py", "inside/compile.py",
)  # fmt: skip
# The Python of an assembled image's venv, on its config (read back without running it).
PYTHON_LABEL = "envtools.python-version"
# The template's docker/*.Dockerfile, whose steps the assembler does: sha256 of each version.
TEMPLATE_DOCKERFILES = {
    "pipeline.Dockerfile": {"98fa784f6a79df8a8e3a2ec4e4d9fb5c658af5d74019aee9dea9cbedcbac7777"},
    "release.Dockerfile": {"1ae665d2d823c26d52c3f95eef41e08bd5277f2bb205c23b59068d03ce6ba394"},
}


def code_hash() -> str:
    package = files("zenlock")
    return content_hash(*(package.joinpath(name).read_bytes() for name in ASSEMBLER_CODE))


def own_dockerfile(dockerfiles: Path, name: str) -> bool:
    """Whether docker/`name` is the user's own (changed from the template's)."""
    path = dockerfiles / name
    digest = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else ""
    return digest not in TEMPLATE_DOCKERFILES[name]


def engine_reason(project: Project, groups: tuple[str, ...], release: bool, requirements: str):
    """Why an image of `groups` must be built by the engine (BuildKit), in a few words; None
    when the assembler makes it."""
    names = ["pipeline.Dockerfile", *(["release.Dockerfile"] if release else [])]
    own = [name for name in names if own_dockerfile(project.dockerfiles, name)]
    if own:
        return (
            f"docker/{own[0]} is not the template's (yours, or an older one that "
            "`nox -s update` replaces): its steps run as written"
        )
    apt = registry.apt_packages_in(project.root, groups)
    if apt:
        return f"the integrations need apt packages ({', '.join(apt)})"
    local = [line for line in requirements.splitlines() if line.startswith(("-e ", ".", "/"))]
    if local:
        return f"the lock installs a local package ({local[0].split()[-1]})"
    return None


@dataclass(frozen=True)
class Made:
    tag: str
    image_id: str  # the config's digest: the engine's id of it
    python: str
    digest: str | None = None  # repository@sha256:… once in the registry
    activation: list[dict] | None = None  # None: not activated by this run


class Assembler:
    """Assembles on one machine: `client` is the local engine, or None (no engine); images
    are loaded into the engine, or with `push` pushed (and loaded, with an engine). `scratch`:
    a folder that outlives the run's pushes (a local parent's saved layers)."""

    def __init__(
        self,
        project: Project,
        settings: BuildSettings,
        client: engine.Engine | None,
        labels: dict[str, str],
        *,
        no_cache: bool,
        push: bool,
        scratch: Path,
    ) -> None:
        self.project = project
        self.settings = settings
        self.client = client
        self.labels = labels
        self.no_cache = no_cache
        self.push = push
        self.scratch = scratch
        self.code = code_hash()
        self.parents: dict[str, Parent] = {}
        self.files: dict[str, Callable[[], ParentFiles]] = {}

    def parent(self, platform: str) -> Parent:
        """`platform`'s parent: to push, from its registry (its blobs mount or copy from
        there) unless it came from no registry, else the engine's copy (pulled if need be;
        its layers saved, to push). Its files are read when an image is assembled on it."""
        if platform not in self.parents:
            name = self.settings.parent_for(platform)
            found = None
            local = self.client.image(name) if self.client is not None else None
            # A parent only this engine has (built here) is read from it, never asked for.
            if self.client is None or (self.push and (not local or local.get("RepoDigests"))):
                try:
                    found = ociregistry.parent_in_registry(name, platform)
                    self.files[platform] = partial(
                        parents.files_in_registry, name, found, self.project.data_home
                    )
                except ZenlockError:
                    if self.client is None:
                        raise
            if found is None:
                engine.pull(self.client, name, platform)
                found = enginelayers.parent_in_engine(self.client, name)
                self.files[platform] = partial(
                    parents.files_in_engine, self.client, name, found, self.project.data_home
                )
                if self.push:  # the registry has none of it: the layers as files
                    folder = Path(tempfile.mkdtemp(dir=self.scratch))
                    found = replace(
                        found, layers=enginelayers.saved_layers(self.client, name, folder)
                    )
            if found.platform != platform:
                raise ZenlockError(
                    f"Parent {name} is an image of {found.platform}, not {platform}: name a "
                    f"{platform} parent in [tool.zenlock.{self.settings.section}.parents]."
                )
            self.parents[platform] = found
        return self.parents[platform]

    def tag(self, spec: ImageSpec, base_id: str) -> str:
        return replace(spec, inputs=(*spec.inputs, "assembled", self.code)).tag(base_id)

    def ensure(
        self,
        spec: ImageSpec,
        shares_of: Callable[[], list[Share]],
        release: tuple[ImageSpec, list[Path]] | None,
    ) -> Made:
        """The image of `spec` (and of the release on it: its spec and folders), assembled from
        the lock's shares (`shares_of()`) unless its tag is in the engine (or, to push, in the
        registry)."""
        parent = self.parent(spec.platform)
        tag = self.tag(spec, parent.id)
        write_sbom(self.project.sboms, tag, spec.sbom)
        name = self.settings.parent_for(spec.platform)
        push = self.push
        final = self.tag(release[0], tag) if release else tag
        if release and push:  # the release is what is pushed; its dependencies may not be
            there = self.found(final)
            dependencies = None if there else self.found(tag)
        else:  # listed as they are built: the dependencies image first
            dependencies = self.found(tag)
            there = self.found(final) if release and dependencies else dependencies
        if there:
            return there
        found = self.files[spec.platform]()
        shares = shares_of()  # read off the lock only when there is something to make
        recipe = Recipe(
            shares,
            found,
            platform=spec.platform,
            sbom=spec.sbom,
            labels={**self.image_labels(spec, parent), PYTHON_LABEL: found.full_version},
            created=int(os.environ.get("SOURCE_DATE_EPOCH", "0") or 0),
        )
        with tempfile.TemporaryDirectory(prefix="zenlock-assemble-") as work:
            images, activation, sources = [], None, {}
            if dependencies:  # a release on the dependencies image there already
                base = self.found_parent(tag, spec.platform)
            else:
                print(f"  {tag}  assembling ...", flush=True)
                # --no-cache: every share made again, in a cache of this run's own.
                cache = Path(work) / "cache" if self.no_cache else self.project.cache_home
                environment = uv_environment(self.settings)
                built = build_layers(recipe, Path(work), compress=push, cache=cache,
                                     code=self.code, environment=environment)  # fmt: skip
                activation, sources = built.activation, built.sources
                cached = len(shares) - built.made
                said = f", {cached} from this machine's cache" if cached else ""
                print(
                    f"    {built.made} of {len(shares)} shares of the lock made{said}", flush=True
                )
                image = ociimage.assemble(parent, built.layers, recipe.settings)
                images.append((tag, image))
                base = replace(parent, name=tag, id=image.config_digest, layers=image.layers)
            if release:
                print(f"  {final}  assembling ...", flush=True)
                top = folder_layers(release[1], Path(work), compress=push, epoch=recipe.created)
                # On the parent's config, as the dependencies image was: the same bytes
                # whether that image was assembled now or found.
                on = replace(base, config=parent.config)
                labels = {**recipe.labels, "envtools.kind": release[0].kind,
                          "org.opencontainers.image.base.name": tag}  # fmt: skip
                settings = replace(recipe.settings, labels=labels)
                images.append((final, ociimage.assemble(on, top, settings)))
            source = tag if dependencies else name  # where the lower layers' files are
            files = Files(Path(work), sources, recipe.created, source)
            return self.place(images, files, found.full_version, activation)

    def found_parent(self, tag: str, platform: str) -> Parent:
        """The dependencies image under `tag` as a parent: the registry's to push (its
        blobs are there), else the engine's."""
        if self.push:
            return ociregistry.parent_in_registry(tag, platform)
        return enginelayers.parent_in_engine(self.client, tag)

    def found(self, tag: str) -> Made | None:
        """The image under `tag` where this run would put it, if it is there already."""
        if self.no_cache:
            return None
        local = self.client.image(tag) if self.client is not None else None
        if not self.push:
            if local:
                print(f"  {tag}  {engine.size(self.client, tag)}  up to date", flush=True)
                python = (local["Config"].get("Labels") or {}).get(PYTHON_LABEL, "")
                return Made(tag, local["Id"], python)
            return None
        served = ociregistry.manifest_digest(tag)
        if not served:
            return None
        repository = tag.rpartition(":")[0]
        config_digest, config = ociregistry.config_of(tag)
        print(f"  {tag}  already in the registry", flush=True)
        python = (config.get("config", {}).get("Labels") or {}).get(PYTHON_LABEL, "")
        return Made(tag, config_digest, python, digest=f"{repository}@{served[0]}")

    def place(
        self,
        images: list[tuple[str, ociimage.Image]],
        files: "Files",
        python: str,
        activation: list[dict] | None,
    ) -> Made:
        """Load `images` into the engine and push the last (the one recorded); `files`: where
        the files of the layers not written yet come from, when the engine or the registry
        lacks them."""
        tag, image = images[-1]
        if self.client is not None:
            known = self.engine_chains(tag.rpartition(":")[0])
            for name, each in images:
                stack = chains([layer.diff_id for layer in each.layers])
                unsent = [
                    replace(layer, path=None) if chain in known
                    else files.written(layer) if layer.path is None and layer.digest in
                    files.sources else layer
                    for layer, chain in zip(each.layers, stack, strict=True)
                ]  # fmt: skip
                enginelayers.load(self.client, replace(each, layers=unsent), name)
                known |= set(stack)
                print(f"  {name}  {engine.size(self.client, name)}  assembled", flush=True)
        digest = None
        if self.push:
            with tempfile.TemporaryDirectory(prefix="zenlock-parent-") as folder:
                pushed = ociregistry.push(
                    image,
                    tag,
                    files.provider(Path(folder)),
                    self.mount_from(files.parent, tag),
                )
            digest = f"{tag.rpartition(':')[0]}@{pushed.digest}"
            print(f"  {tag}  pushed as {digest} ({len(pushed.uploaded)} blobs sent)", flush=True)
        return Made(tag, image.config_digest, python, digest, activation)

    def engine_chains(self, repository: str) -> set[str]:
        """The layer chains the engine has under images of `repository` and the parents: a
        load need not send a layer whose chain (it and every layer below) is among them."""
        images = [*self.client.images.list(name=repository),
                  *(self.client.images.get(parent.name) for parent in self.parents.values()
                    if self.client.image(parent.name))]  # fmt: skip
        return {chain for image in images for chain in chains(image.attrs["RootFS"]["Layers"])}

    @staticmethod
    def mount_from(parent: str, tag: str) -> str | None:
        """The parent's repository when it is in the registry the image goes to."""
        host, _, repository = ociregistry.qualified(parent).partition("/")
        repository = repository.split("@")[0].rsplit(":", 1)[0]
        return repository if ociregistry.qualified(tag).startswith(f"{host}/") else None

    def image_labels(self, spec: ImageSpec, parent: Parent) -> dict[str, str]:
        name = spec.base
        pinned = name.split("@", 1)[1] if "@" in name else parent.id
        labels = {
            **self.labels,
            "envtools.kind": spec.kind,
            "org.opencontainers.image.base.name": name,
            "org.opencontainers.image.base.digest": pinned,
        }
        if spec.sbom:
            labels["envtools.sbom-sha256"] = hashlib.sha256(spec.sbom.encode()).hexdigest()
        return labels

    def push_index(self, tag: str, digests: dict[str, str]) -> str:
        """The manifest list of the pushed images (platform: repository@sha256:…)."""
        repository = tag.rpartition(":")[0]
        sizes = {platform: ociregistry.manifest_digest(reference)
                 for platform, reference in digests.items()}  # fmt: skip
        document = ociimage.index(sizes)
        served = None if self.no_cache else ociregistry.manifest_digest(tag)
        if served and served[0] == ociimage.digest_of(document):
            print(f"  {tag}  already in the registry", flush=True)
            return f"{repository}@{served[0]}"
        pushed = ociregistry.push_index(document, [d for d, _ in sizes.values()], tag)
        reference = f"{repository}@{pushed.digest}"
        print(f"  {tag}  pushed as {reference} ({len(digests)} platforms)", flush=True)
        return reference


def chains(diff_ids: list[str]) -> list[str]:
    """The chain id of each layer of a stack, bottom first: the engine's name for the layer
    with all those below it (the OCI image spec's ChainID)."""
    found: list[str] = []
    for diff_id in diff_ids:
        found.append(ociimage.digest_of(f"{found[-1]} {diff_id}".encode()) if found else diff_id)
    return found


@dataclass(frozen=True)
class Files:
    """Where the files of an image's layers come from when they are not written: a share's
    folder in the cache (`sources`, by the layer's digest), else the registry of `parent`
    (the parent's, or a found dependencies image's)."""

    work: Path
    sources: dict[str, Path]
    epoch: int
    parent: str

    def written(self, layer: Layer) -> Layer:
        """`layer` written from its share's folder: the same digest, or the cache is not what
        it was."""
        compress = layer.media_type == TAR_GZIP
        blob = self.work / f"{layer.digest.split(':')[1]}.layer"
        made = write_layer(self.sources[layer.digest], blob, compress=compress, epoch=self.epoch,
                           level=1)  # fmt: skip
        if made.digest != layer.digest:
            raise ZenlockError(
                f"The cached share {self.sources[layer.digest].parent} changed: delete it and "
                "run again."
            )
        return made

    def provider(self, folder: Path):
        def provide(missing: list[Layer]) -> dict[str, Path]:
            ours = {layer.digest: self.written(layer).path
                    for layer in missing if layer.digest in self.sources}  # fmt: skip
            theirs = [layer for layer in missing if layer.digest not in self.sources]
            return {**ours, **(ociregistry.blobs_from(self.parent, theirs, folder)
                               if theirs else {})}  # fmt: skip

        return provide


def uv_environment(settings: BuildSettings) -> dict[str, str]:
    """uv's environment for the installs: this one, with the project's CA bundle (index
    settings such as UV_INDEX pass as they are; none of it reaches a layer)."""
    environment = dict(os.environ)
    if settings.ca_bundle:
        environment["SSL_CERT_FILE"] = str(Path(settings.ca_bundle).resolve())
    return environment
