"""What goes into an image and what it is called: the tag is a hash of every input.

Same inputs, same tag, nothing to build. `ImageSpec.tag` is pure; `Builder` builds.
"""

import functools
import hashlib
import json
import os
import shlex
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from . import ZenlockError, buildkit, engine, lock, oneoff, pushes, registry, uvbinary
from .assemble import this_platform
from .project import Project
from .settings import BuildSettings
from .state import has_conflict

# Package-index settings (with credentials) that reach the install step, never the image.
INDEX_VARIABLES = ("UV_INDEX", "UV_DEFAULT_INDEX", "UV_EXTRA_INDEX_URL", "UV_INSECURE_HOST")


@dataclass(frozen=True)
class ImageSpec:
    kind: str  # iterate, release or server: the tag's prefix and the envtools.kind label
    repository: str
    dockerfile: Path  # the project's docker/NAME
    base: str  # the image it builds on: the parent, or the dependencies image of a release
    inputs: tuple[str | bytes, ...]  # everything else that decides the contents
    base_arg: str = "PARENT_IMAGE"  # the Dockerfile's ARG that names `base`
    platform: str = "linux/amd64"  # of the image and its base (a base's id says it too)
    sbom: str = ""  # CycloneDX SBOM of what it installs (in `inputs` too): a file inside and beside
    write_context: Callable[[Path], None] = field(default=lambda context: None, compare=False)

    def tag(self, base_id: str) -> str:
        name = f"docker/{self.dockerfile.name}"
        if not self.dockerfile.is_file():
            raise ZenlockError(
                f"{name} is missing: restore it (`git checkout -- {name}`, or `nox -s update` "
                "brings the template's)."
            )
        definition = self.dockerfile.read_text()
        if has_conflict(definition):
            raise ZenlockError(
                f"{name} holds merge-conflict markers (<<<<<<<): resolve them, then run again."
            )
        return (
            f"{self.repository}:{self.kind}-{content_hash(definition, base_id, *self.inputs)[:16]}"
        )


def content_hash(*parts: str | bytes) -> str:
    digest = hashlib.sha256()
    for part in parts:
        data = part.encode() if isinstance(part, str) else part
        digest.update(len(data).to_bytes(8, "big") + data)
    return digest.hexdigest()


def tree_contents(root: Path) -> tuple[str | bytes, ...]:
    """Every file's relative path and bytes under `root`, caches left out, in a stable order."""
    files = sorted(
        path
        for path in root.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc"
    )
    return tuple(
        part for path in files for part in (str(path.relative_to(root)), path.read_bytes())
    )


def locked_spec(
    root: Path,
    kind: str,
    settings: BuildSettings,
    platform: str,
    dockerfile: Path,
    requirements: str,
    *inputs: str | bytes,
    sbom: str,
    add_files: Callable[[Path], None] | None = None,
) -> ImageSpec:
    """`platform`'s parent plus a venv of the hash-pinned `requirements` (a `uv export`: its
    markers pick each platform's wheels), installed by that platform's uv, and `sbom` (the
    same selection's CycloneDX export) at /opt/sbom.cdx.json. `root`: the project's folder,
    whose uv.lock has the uv for other platforms."""

    def write_context(context: Path) -> None:
        (context / "requirements.txt").write_text(requirements)
        (context / "sbom.cdx.json").write_text(sbom)
        shutil.copy2(uvbinary.binary(root, platform), context / "uv")
        if add_files:
            add_files(context)

    return ImageSpec(
        kind,
        settings.repository,
        dockerfile,
        base=settings.parent_for(platform),
        inputs=(requirements, uvbinary.version(root, platform), sbom, *inputs),
        platform=platform,
        write_context=write_context,
        sbom=sbom,
    )


def build_secrets(settings: BuildSettings) -> dict[str, str | Path]:
    """What the install step mounts as secrets: `ca`, an extra CA bundle for builds behind a
    TLS-intercepting proxy, and `index`, package-index settings with their credentials."""
    secrets: dict[str, str | Path] = {}
    ca_bundle = settings.ca_bundle or os.environ.get("SSL_CERT_FILE", "")
    if ca_bundle:
        if not Path(ca_bundle).is_file():
            raise ZenlockError(
                f"CA bundle {ca_bundle} not found: fix [tool.zenlock.images] ca_bundle."
            )
        secrets["ca"] = Path(ca_bundle).resolve()
    index = "".join(
        f"{name}={shlex.quote(value)}\n"
        for name, value in sorted(os.environ.items())
        if name.startswith(INDEX_VARIABLES)
    )
    if index:
        secrets["index"] = index
    return secrets


def git(root: Path, *args: str) -> str:
    result = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True)
    return result.stdout.strip() if result.returncode == 0 else ""


def source_revision(root: Path) -> str:
    revision = git(root, "rev-parse", "HEAD") or "unversioned"
    return f"{revision}-dirty" if git(root, "status", "--porcelain") else revision


def source_labels(root: Path) -> dict[str, str]:
    """OCI labels of where an image comes from; `created` is the commit's time, so a rebuild
    of the same commit is labelled the same."""
    labels = {
        "org.opencontainers.image.revision": source_revision(root),
        "org.opencontainers.image.created": git(root, "log", "-1", "--format=%cI") or "unknown",
        "org.opencontainers.image.version": lock.read_toml(root / "pyproject.toml")["project"][
            "version"
        ],
    }
    source = git(root, "remote", "get-url", "origin")
    return {**labels, "org.opencontainers.image.source": source} if source else labels


def write_sbom(folder: Path, tag: str, sbom: str) -> Path:
    """The image's SBOM beside the record: configs/sbom/NAME-KIND-HASH.cdx.json."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / (tag.rsplit("/", 1)[-1].replace(":", "-") + ".cdx.json")
    path.write_text(sbom)
    return path


def sbom_label(spec: ImageSpec) -> dict[str, str]:
    """A release image keeps its dependencies image's SBOM, and that image's label."""
    if not spec.sbom:
        return {}
    return {"envtools.sbom-sha256": hashlib.sha256(spec.sbom.encode()).hexdigest()}


def planned_tag(client, spec: ImageSpec) -> str | None:
    """The tag `spec` builds to, or None when its base is not on this machine (never pulls)."""
    base_id = engine.image_id(client, spec.base)
    return spec.tag(base_id) if base_id else None


class Builder:
    """Builds specs on one Docker engine; an image whose tag exists is not built again."""

    def __init__(
        self,
        project: Project,
        settings: BuildSettings,
        *,
        no_cache: bool = False,
        client: engine.Engine | None | bool = True,
    ) -> None:
        """`client`: the engine (True: connect, which must answer; None: none here, for the
        assembled images alone)."""
        self.project = project
        self.settings = settings
        self.no_cache = no_cache
        self.client = engine.connect() if client is True else client
        self.labels = {
            "org.opencontainers.image.title": settings.name,
            **source_labels(project.root),
            "envtools.lock-sha256": lock.lock_hash(project.lock),
            "envtools.zenml-version": lock.locked_version(project.lock.read_text(), "zenml"),
        }

    @functools.cached_property
    def native_platform(self) -> str:
        """The engine's own platform, asked once per Builder (this machine's, with none)."""
        if self.client is None:
            return this_platform()
        return engine.native_platform(self.client)

    def platforms(self) -> list[str]:
        """The platforms to build for (the engine's own when none is set), each parent checked
        before anything is built: it must be an image of the platform it is the parent for."""
        targets = list(self.settings.platforms) or [self.native_platform]
        for platform in targets if self.client is not None else ():  # else: the assembler's
            parent = self.settings.parent_for(platform)
            engine.pull(self.client, parent, platform)
            found = engine.image_platform(self.client, parent)
            if found != platform:
                raise ZenlockError(
                    f"Parent {parent} is an image of {found}, not {platform}: name a {platform} "
                    f'parent in [tool.zenlock.{self.settings.section}.parents] ("{platform}" = '
                    f'"IMAGE@sha256:…", the digest `docker manifest inspect IMAGE` lists for '
                    f'{platform}), or build for {found} (platforms = ["{found}"]).'
                )
        return targets

    def ensure(self, spec: ImageSpec) -> str:
        """Build `spec` unless an image with its tag exists; print what happened."""
        base_id = engine.pull(self.client, spec.base, spec.platform)
        tag = spec.tag(base_id)
        if spec.sbom:
            write_sbom(self.project.sboms, tag, spec.sbom)
        if engine.image_id(self.client, tag) and not self.no_cache:
            print(f"  {tag}  {engine.size(self.client, tag)}  up to date", flush=True)
            return tag
        print(f"  {tag}  building ...", flush=True)
        with tempfile.TemporaryDirectory(prefix="zenlock-build-") as context:
            context = Path(context)
            shutil.copy2(spec.dockerfile, context / spec.dockerfile.name)
            spec.write_context(context)
            buildkit.build(
                context,
                spec.dockerfile.name,
                tag,
                buildargs={spec.base_arg: spec.base},
                labels={
                    **self.labels,
                    "envtools.kind": spec.kind,
                    "org.opencontainers.image.base.name": spec.base,
                    "org.opencontainers.image.base.digest": pushes.repo_digest(
                        self.client, spec.base
                    )
                    or base_id,
                    **sbom_label(spec),
                },
                secrets=build_secrets(self.settings),
                network=self.settings.network,
                platform=spec.platform,
                no_cache=self.no_cache,
            )
        print(f"  {tag}  {engine.size(self.client, tag)}  built", flush=True)
        return tag

    def combined(self, variants: list[dict], push: bool, previous: dict, push_index=None) -> dict:
        """The record of an image built once per platform (`variants`, each with its
        `platform` and `tag`): what runs on this engine first-hand, every platform's under
        `platforms`, and under `digest` the manifest list that names them all, once pushed
        (by `push_index`(tag, {platform: digest}) when given, else by Docker)."""
        native = self.native_platform
        primary = next((v for v in variants if v["platform"] == native), variants[0])
        if len(variants) == 1:
            return primary
        tags = sorted(variant["tag"] for variant in variants)
        repository, _, version = tags[0].rpartition(":")
        index = f"{repository}:{version.split('-')[0]}-{content_hash(*tags)[:16]}"
        record = {key: value for key, value in primary.items() if key != "digest"}
        record |= {"platforms": variants, "index": index}
        if push:
            if push_index:
                digests = {variant["platform"]: variant["digest"] for variant in variants}
                record["digest"] = push_index(index, digests)
            else:
                digests = [variant["digest"] for variant in variants]
                record["digest"] = pushes.push_index(self.client, index, digests)
        elif previous.get("index") == index and previous.get("digest"):
            record["digest"] = previous["digest"]
        return record


# Where the pipeline Dockerfile's build activated the image's integrations (precompile.py).
ACTIVATION_REPORT = "/opt/zenlock/activation.json"


def inactive_in_image(client, tag: str, network: str, names: list[str]) -> list[dict]:
    """activation.py's reports of those among `names` that fail in image `tag`: the report its
    build wrote when it is of these integrations, else activated now, in a container."""
    report = oneoff.read_file(client, tag, ACTIVATION_REPORT)
    found = json.loads(report) if report else []
    if sorted(result["integration"] for result in found) != sorted(names):
        output = oneoff.run_python(client, tag, network, registry.ACTIVATION.read_text(), *names)
        found = json.loads(output)
    return [result for result in found if not result["ok"]]


def activated(root: Path, client, tag: str, network: str, groups, recorded: dict | None) -> dict:
    """The record that `tag`'s integrations activate in it: kept from `recorded` when it is of
    this very image, else made by activating them there. One that fails is an error."""
    names = registry.integrations_in(root, groups)
    record = {"image_id": engine.image_id(client, tag), "integrations": names}
    if recorded == record:
        return record
    failed = inactive_in_image(client, tag, network, names) if names else []
    if failed:
        raise ZenlockError(
            f"Image {tag} is built, but its integrations do not import there:\n"
            + "\n".join(registry.inactive_message(result) for result in failed)
        )
    return record


def python_version(client, tag: str) -> str | None:
    """The Python of the venv in image `tag`, from its pyvenv.cfg (`version_info` from uv,
    `version` from venv), or None."""
    found = oneoff.read_file(client, tag, "/opt/venv/pyvenv.cfg") or b""
    for line in found.decode(errors="replace").splitlines():
        key, _, value = line.partition("=")
        if key.strip() in ("version_info", "version"):
            return value.strip()
    return None
