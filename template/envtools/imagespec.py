"""What goes into an image and what it is called: the tag is a hash of every input.

Same inputs, same tag, nothing to build. `ImageSpec.tag` is pure; `Builder` builds.
"""

import hashlib
import importlib.metadata
import os
import shlex
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import uv

from . import EnvtoolsError, engine, lock
from .settings import BuildSettings
from .state import DOCKERFILES, ROOT

# Package-index settings (with credentials) that reach the install step, never the image.
INDEX_VARIABLES = ("UV_INDEX", "UV_DEFAULT_INDEX", "UV_EXTRA_INDEX_URL", "UV_INSECURE_HOST")


@dataclass(frozen=True)
class ImageSpec:
    kind: str  # iterate, release or server: the tag's prefix and the envtools.kind label
    repository: str
    dockerfile: str  # under docker/
    base: str  # the image it builds on: the parent, or the dependencies image of a release
    inputs: tuple[str | bytes, ...]  # everything else that decides the contents
    base_arg: str = "PARENT_IMAGE"  # the Dockerfile's ARG that names `base`
    write_context: Callable[[Path], None] = field(default=lambda context: None, compare=False)

    def tag(self, base_id: str) -> str:
        if not (DOCKERFILES / self.dockerfile).is_file():
            raise EnvtoolsError(
                f"docker/{self.dockerfile} is missing: restore it (`git checkout -- "
                f"docker/{self.dockerfile}`, or `nox -s update` brings the template's)."
            )
        definition = (DOCKERFILES / self.dockerfile).read_text()
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
    kind: str,
    settings: BuildSettings,
    dockerfile: str,
    requirements: str,
    *inputs: str | bytes,
    add_files: Callable[[Path], None] | None = None,
) -> ImageSpec:
    """The parent plus a venv of the hash-pinned `requirements` (a `uv export`)."""

    def write_context(context: Path) -> None:
        (context / "requirements.txt").write_text(requirements)
        shutil.copy2(uv.find_uv_bin(), context / "uv")
        if add_files:
            add_files(context)

    uv_version = importlib.metadata.version("uv")
    return ImageSpec(
        kind,
        settings.repository,
        dockerfile,
        base=settings.parent,
        inputs=(requirements, uv_version, *inputs),
        write_context=write_context,
    )


def build_secrets(settings: BuildSettings) -> dict[str, str | Path]:
    """What the install step mounts as secrets: `ca`, an extra CA bundle for builds behind a
    TLS-intercepting proxy, and `index`, package-index settings with their credentials."""
    secrets: dict[str, str | Path] = {}
    ca_bundle = settings.ca_bundle or os.environ.get("SSL_CERT_FILE", "")
    if ca_bundle:
        if not Path(ca_bundle).is_file():
            raise EnvtoolsError(
                f"CA bundle {ca_bundle} not found: fix [tool.envtools.images] ca_bundle."
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


def source_revision() -> str:
    def git(*args: str) -> str:
        result = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True)
        return result.stdout.strip() if result.returncode == 0 else ""

    revision = git("rev-parse", "HEAD") or "unversioned"
    return f"{revision}-dirty" if git("status", "--porcelain") else revision


def planned_tag(client, spec: ImageSpec) -> str | None:
    """The tag `spec` builds to, or None when its base is not on this machine (never pulls)."""
    base_id = engine.image_id(client, spec.base)
    return spec.tag(base_id) if base_id else None


class Builder:
    """Builds specs on one Docker engine; an image whose tag exists is not built again."""

    def __init__(self, settings: BuildSettings, *, no_cache: bool = False) -> None:
        self.settings = settings
        self.no_cache = no_cache
        self.client = engine.connect()
        self.labels = {
            "org.opencontainers.image.title": settings.name,
            "org.opencontainers.image.revision": source_revision(),
            "envtools.lock-sha256": lock.lock_hash(),
            "envtools.zenml-version": lock.locked_version("zenml"),
        }

    def ensure(self, spec: ImageSpec) -> str:
        """Build `spec` unless an image with its tag exists; print what happened."""
        tag = spec.tag(engine.pull(self.client, spec.base))
        if engine.image_id(self.client, tag) and not self.no_cache:
            print(f"  {tag}  {engine.size(self.client, tag)}  up to date", flush=True)
            return tag
        print(f"  {tag}  building ...", flush=True)
        with tempfile.TemporaryDirectory(prefix="envtools-build-") as context:
            context = Path(context)
            shutil.copy2(DOCKERFILES / spec.dockerfile, context / spec.dockerfile)
            spec.write_context(context)
            engine.build(
                context,
                spec.dockerfile,
                tag,
                buildargs={spec.base_arg: spec.base},
                labels={**self.labels, "envtools.kind": spec.kind},
                secrets=build_secrets(self.settings),
                network=self.settings.network,
                no_cache=self.no_cache,
            )
        print(f"  {tag}  {engine.size(self.client, tag)}  built", flush=True)
        return tag
