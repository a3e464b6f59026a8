"""Pipeline images from uv.lock: `nox -s images [-- --release --push --parent-image IMG]`.

Each image is tagged with a hash of everything that goes into it, so unchanged inputs build
nothing. The tags are recorded in configs/images.yaml, which `run` hands to ZenML.
"""

import argparse
import hashlib
import importlib.metadata
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import tomllib
from dataclasses import replace
from pathlib import Path

import uv
import yaml

from . import docker_build
from .config import ROOT, EnvtoolsError, ImageSettings, image_settings

RECORD = ROOT / "configs" / "images.yaml"
DOCKERFILES = ROOT / "docker"
# Package-index settings (with credentials) that reach the build stage, never the image.
INDEX_VARIABLES = ("UV_INDEX", "UV_DEFAULT_INDEX", "UV_EXTRA_INDEX_URL", "UV_INSECURE_HOST")
IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc")
# The tag's prefix says what kind of image it is; the mode label says it for `docker inspect`.
MODE_LABELS = {"deps": "iterate", "release": "release", "server": "server"}


def uv_run(*args: str) -> str:
    result = subprocess.run([uv.find_uv_bin(), *args], cwd=ROOT, capture_output=True, text=True)
    if result.returncode != 0:
        if "needs to be updated" in result.stderr:
            raise EnvtoolsError(
                "uv.lock is out of date with pyproject.toml: run `nox -s lock`, then `nox -s dev`."
            )
        raise EnvtoolsError(f"`uv {' '.join(args)}` failed:\n{result.stderr}")
    return result.stdout


def locked_export(*selection: str) -> str:
    """Hash-pinned requirements of the lock for `selection` (uv export options), no project."""
    return uv_run(
        "export",
        "--locked",
        "--format=requirements.txt",
        "--no-emit-project",
        "--no-header",
        "--no-annotate",
        *selection,
    )


def export_requirements(groups: tuple[str, ...] = ()) -> str:
    """What a pipeline image installs: the [project] dependencies plus `groups`."""
    return locked_export("--no-default-groups", *(f"--group={group}" for group in groups))


def locked_version(lock: dict, name: str) -> str:
    return next((pkg["version"] for pkg in lock["package"] if pkg["name"] == name), "unknown")


def content_hash(*parts: str | bytes) -> str:
    digest = hashlib.sha256()
    for part in parts:
        data = part.encode() if isinstance(part, str) else part
        digest.update(len(data).to_bytes(8, "big") + data)
    return digest.hexdigest()


def tree_contents(root: Path) -> list[str | bytes]:
    """Every file's relative path and bytes under `root`, caches left out, in a stable order."""
    files = sorted(
        path
        for path in root.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc"
    )
    return [part for path in files for part in (str(path.relative_to(root)), path.read_bytes())]


def source_revision() -> str:
    def git(*args: str) -> str:
        result = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True)
        return result.stdout.strip() if result.returncode == 0 else ""

    revision = git("rev-parse", "HEAD") or "unversioned"
    return f"{revision}-dirty" if git("status", "--porcelain") else revision


def index_environment() -> str:
    return "".join(
        f"{name}={shlex.quote(value)}\n"
        for name, value in sorted(os.environ.items())
        if name.startswith(INDEX_VARIABLES)
    )


def ca_bundle(settings: ImageSettings) -> bytes:
    """The extra CA bundle for builds behind a TLS-intercepting proxy (empty when none)."""
    path = settings.ca_bundle or os.environ.get("SSL_CERT_FILE", "")
    if not path:
        return b""
    if not Path(path).is_file():
        raise EnvtoolsError(f"CA bundle {path} not found: fix [tool.envtools.images] ca_bundle.")
    return Path(path).read_bytes()


def image_sets(settings: ImageSettings) -> dict[tuple[str, ...], list[str]]:
    """Pipelines grouped by the extra dependency groups they need; () is the default image."""
    sets: dict[tuple[str, ...], list[str]] = {(): ["default"]}
    for pipeline, groups in sorted(settings.pipeline_groups.items()):
        sets.setdefault(tuple(sorted(groups)), []).append(pipeline)
    return sets


class ImageBuilder:
    """Builds images of locked requirements; `plan_only` computes their tags and builds nothing."""

    def __init__(
        self, settings: ImageSettings, no_cache: bool = False, plan_only: bool = False
    ) -> None:
        self.settings = settings
        self.no_cache = no_cache
        self.plan_only = plan_only
        self.client = docker_build.connect()
        self.parent_id = docker_build.parent_image_id(self.client, settings.parent)
        lock = (ROOT / "uv.lock").read_bytes()
        self.lock_hash = hashlib.sha256(lock).hexdigest()
        self.labels = {
            "org.opencontainers.image.title": settings.name,
            "org.opencontainers.image.revision": source_revision(),
            "envtools.lock-sha256": self.lock_hash,
            "envtools.zenml-version": locked_version(tomllib.loads(lock.decode()), "zenml"),
        }

    def locked_image(
        self, kind: str, dockerfile: str, requirements: str, *inputs: str | bytes, extra=None
    ) -> str:
        """The parent plus a venv of `requirements`; `extra(context)` adds files to the build."""
        uv_version = importlib.metadata.version("uv")
        definition = (DOCKERFILES / dockerfile).read_text()
        tag = self.tag(kind, requirements, definition, self.parent_id, uv_version, *inputs)

        def write_context(context: Path) -> None:
            (context / "requirements.txt").write_text(requirements)
            (context / "ca-bundle.crt").write_bytes(ca_bundle(self.settings))
            (context / "build.env").write_text(index_environment())
            shutil.copy2(uv.find_uv_bin(), context / "uv")
            if extra:
                extra(context)

        return self.ensure(
            tag, dockerfile, write_context, MODE_LABELS[kind], PARENT_IMAGE=self.settings.parent
        )

    def dependencies_image(self, groups: tuple[str, ...]) -> str:
        return self.locked_image("deps", "pipeline.Dockerfile", export_requirements(groups))

    def release_image(self, dependencies: str) -> str:
        src = ROOT / "src"
        # The dependencies image's id, not its tag: a rebuilt base must give a new release tag.
        base_id = docker_build.image_id(self.client, dependencies) or dependencies
        definition = (DOCKERFILES / "release.Dockerfile").read_text()
        tag = self.tag("release", base_id, definition, *tree_contents(src))

        def write_context(context: Path) -> None:
            shutil.copytree(src, context / "src", ignore=IGNORED)

        return self.ensure(
            tag, "release.Dockerfile", write_context, "release", DEPENDENCIES_IMAGE=dependencies
        )

    def tag(self, kind: str, *inputs: str | bytes) -> str:
        return f"{self.settings.repository}:{kind}-{content_hash(*inputs)[:16]}"

    def ensure(self, tag: str, dockerfile: str, write_context, mode: str, **buildargs: str) -> str:
        """Build `tag` unless an image with that tag exists; print what happened."""
        if self.plan_only:
            return tag
        if docker_build.image_id(self.client, tag) and not self.no_cache:
            print(f"  {tag}  {self.size(tag)}  up to date", flush=True)
            return tag
        print(f"  {tag}  building ...", flush=True)
        with tempfile.TemporaryDirectory(prefix="envtools-build-") as context:
            context = Path(context)
            shutil.copy2(DOCKERFILES / dockerfile, context / dockerfile)
            write_context(context)
            docker_build.build(
                self.client,
                context,
                dockerfile,
                tag,
                buildargs=buildargs,
                labels={**self.labels, "envtools.mode": mode},
                network=self.settings.network,
                no_cache=self.no_cache,
            )
        print(f"  {tag}  {self.size(tag)}  built", flush=True)
        return tag

    def size(self, tag: str) -> str:
        return f"{self.client.images.get(tag).attrs['Size'] / 1e6:.0f} MB"


def build_images(settings: ImageSettings, *, no_cache: bool = False, push: bool = False) -> dict:
    """Build (or find) every pipeline image and record which pipeline runs in which."""
    builder = ImageBuilder(settings, no_cache=no_cache)
    print(f"Pipeline images ({settings.mode} mode, parent {settings.parent}):", flush=True)
    images = {}
    for groups, pipelines in image_sets(settings).items():
        tag = builder.dependencies_image(groups)
        if settings.mode == "release":
            tag = builder.release_image(tag)
        if push:
            docker_build.push(builder.client, tag)
            print(f"  {tag}  pushed", flush=True)
        images.update(dict.fromkeys(pipelines, tag))
    record = {
        "mode": settings.mode,
        "network": settings.network,
        "lock_sha256": builder.lock_hash,
        "images": images,
    }
    write_record(record)
    return record


def write_record(record: dict) -> None:
    header = "# Written by `nox -s images`: the image each pipeline runs in on a Docker stack.\n"
    RECORD.write_text(header + yaml.safe_dump(record, sort_keys=False))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="nox -s images --", description=__doc__)
    parser.add_argument("--release", action="store_true", help="bake the code into the images")
    parser.add_argument("--push", action="store_true", help="push to the configured registry")
    parser.add_argument("--parent-image", help="parent image for this build only")
    parser.add_argument("--no-cache", action="store_true", help="rebuild even when up to date")
    args = parser.parse_args(argv)
    try:
        settings = image_settings()
        if args.parent_image:
            settings = replace(settings, parent=args.parent_image)
        if args.release:
            settings = replace(settings, mode="release")
        if args.push and not settings.registry:
            raise EnvtoolsError("--push needs a registry: set [tool.envtools.images] registry.")
        build_images(settings, no_cache=args.no_cache, push=args.push)
    except EnvtoolsError as error:
        sys.exit(f"error: {error}")


if __name__ == "__main__":
    main()
