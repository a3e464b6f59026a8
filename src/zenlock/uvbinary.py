"""The uv a build mounts to install the venv: this machine's own when the image's platform is
this machine's, else the binary of uv's wheel for that platform, installed by uv from uv.lock
(hash-checked) into the user's cache."""

import importlib.metadata
import os
import platform as host
import shutil
import sys
import tempfile
from pathlib import Path

from . import ZenlockError, lock
from .inputs import PLATFORMS

MACHINES = {
    "x86_64": "linux/amd64",
    "amd64": "linux/amd64",
    "aarch64": "linux/arm64",
    "arm64": "linux/arm64",
}


def host_platform() -> str | None:
    """This machine's platform when its programs run in a Linux container as they are."""
    return MACHINES.get(host.machine().lower()) if sys.platform == "linux" else None


NO_UV = (
    "uv.lock has no uv to build images of other platforms with: add nox[uv] (or uv) to "
    "[dependency-groups] dev, then nox -s lock."
)


def locked_uv(root: Path) -> str:
    """uv's requirement in uv.lock (with its hashes): nox[uv] of the dev group brings it."""
    entries = dict(lock.requirement_entries(lock.export(root, ["--all-groups"], frozen=True)))
    if "uv" not in entries:
        raise ZenlockError(NO_UV)
    return entries["uv"]


def version(root: Path, platform: str) -> str:
    """The version of the uv that builds for `platform` (read off the lock, never installed)."""
    if platform == host_platform():
        return importlib.metadata.version("uv")
    found = lock.locked_version((root / "uv.lock").read_text(), "uv")
    if not found:
        raise ZenlockError(NO_UV)
    return found


def binary(root: Path, platform: str) -> Path:
    """The uv executable for `platform`, installed into the cache on first use."""
    if platform == host_platform():
        import uv

        return Path(uv.find_uv_bin())
    requirement = locked_uv(root)
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "zenlock" / "uv"
    found = cache / f"{version(root, platform)}-{platform.replace('/', '-')}" / "uv"
    if found.is_file():
        return found
    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache) as work:
        requirements = Path(work) / "requirements.txt"
        requirements.write_text(requirement)
        target = Path(work) / "target"
        lock.uv(root, 
            "pip", "install", "--quiet", "--no-deps", "--require-hashes", "--target", str(target),
            "--python-platform", PLATFORMS[platform][1], "--requirement", str(requirements),
        )  # fmt: skip
        if not (target / "bin" / "uv").is_file():
            raise ZenlockError(f"uv's wheel for {platform} holds no uv binary: {requirement}")
        found.parent.mkdir(exist_ok=True)
        shutil.move(target / "bin" / "uv", found)
    return found
