"""A layer's share of the lock installed on this machine, for an image's platform and Python,
into a folder laid out as the image's venv (/opt/venv), with no container and no emulation.

uv installs the hash-pinned requirements (`uv export`) with `--target` for the image's
platform and Python version (no resolution, no interpreter of the image needed); the venv's
own files (pyvenv.cfg, bin/python pointing at the parent's Python) are written here, not by
`uv venv`, which would need an interpreter of the image's Python on this machine.
"""

import base64
import hashlib
import shutil
import subprocess
from pathlib import Path, PurePosixPath

from . import ZenlockError

VENV = PurePosixPath("/opt/venv")
# The glibc of the parents zenlock builds on (Debian bookworm): wheels tagged for a newer
# one would not load there.
GLIBC = "2_36"
MACHINES = {"linux/amd64": "x86_64", "linux/arm64": "aarch64"}


def uv_platform(platform: str, glibc: str = GLIBC) -> str:
    """uv's --python-platform for an image platform: linux/arm64 -> aarch64-manylinux_2_36."""
    if platform not in MACHINES:
        raise ZenlockError(f"No wheels platform for {platform}: use one of {', '.join(MACHINES)}.")
    return f"{MACHINES[platform]}-manylinux_{glibc}"


def uv_binary() -> str:
    import uv  # zenlock's own dependency: the uv that runs here, whatever the image's platform

    return uv.find_uv_bin()


def site_packages(venv: PurePosixPath, python_version: str) -> PurePosixPath:
    return venv / "lib" / f"python{python_version}" / "site-packages"


def inside(root: Path, path: PurePosixPath) -> Path:
    """`path` of the image, in the folder `root` that holds the layer's files."""
    return root / path.relative_to("/")


def write_venv(
    root: Path, *, python: str, python_version: str, full_version: str = "", venv=VENV
) -> None:
    """The venv's own files under `root`: pyvenv.cfg whose home is the parent's Python
    (`python`, e.g. /usr/bin/python3.11), bin/python a link to it, an empty site-packages."""
    where = inside(root, venv)
    inside(root, site_packages(venv, python_version)).mkdir(parents=True, exist_ok=True)
    (where / "bin").mkdir(exist_ok=True)
    (where / "pyvenv.cfg").write_text(
        f"home = {PurePosixPath(python).parent}\n"
        "implementation = CPython\n"
        f"version_info = {full_version or python_version}\n"
        "include-system-site-packages = false\n"
    )
    for name, target in (
        ("python", python),
        ("python3", "python"),
        (f"python{python_version}", "python"),
    ):
        (where / "bin" / name).unlink(missing_ok=True)
        (where / "bin" / name).symlink_to(target)


def install_share(
    requirements: Path,
    root: Path,
    *,
    platform: str,
    python_version: str,
    venv=VENV,
    environment: dict[str, str] | None = None,
) -> None:
    """Install `requirements` (hash-pinned, as `uv export` writes them) under `root` where the
    image's venv is, for `platform` (linux/amd64, linux/arm64) and `python_version` (3.11):
    the packages in its site-packages, their commands in its bin/ running its python."""
    target = inside(root, site_packages(venv, python_version))
    # --no-config, and run from the share's folder: the project's [tool.uv] (its constraints,
    # sources) made the lock and has no say over installing it, as in a Dockerfile's build.
    command = [
        uv_binary(), "pip", "install", "--quiet", "--no-config", "--target", str(target),
        "--python-platform", uv_platform(platform), "--python-version", python_version,
        "--require-hashes", "--no-deps", "-r", str(requirements),
    ]  # fmt: skip
    result = subprocess.run(
        command, capture_output=True, text=True, env=environment, cwd=requirements.parent
    )
    if result.returncode != 0:
        said = (result.stderr + result.stdout).strip()
        raise ZenlockError(f"uv could not install {requirements.name} for {platform}:\n{said}")
    move_commands(target, inside(root, venv / "bin"), venv / "bin" / "python")


def move_commands(target: Path, bin_dir: Path, python: PurePosixPath) -> None:
    """uv --target writes the packages' commands to site-packages/bin, started by the Python
    that ran uv: move them to the venv's bin/, started by the venv's python, and say so in
    each distribution's RECORD (their new path, hash and size: nothing of the machine that
    installed them stays, so the layer is the same from any folder)."""
    scripts = target / "bin"
    if not scripts.is_dir():
        return
    bin_dir.mkdir(parents=True, exist_ok=True)
    entries = {}
    for script in sorted(scripts.iterdir()):
        if script.is_file() and not script.is_symlink():
            content = with_shebang(script.read_bytes(), python)
            replace(script, content)
            digest = base64.urlsafe_b64encode(hashlib.sha256(content).digest()).rstrip(b"=")
            entries[script.name] = f"sha256={digest.decode()},{len(content)}"
        shutil.move(script, bin_dir / script.name)
    scripts.rmdir()
    moved = f"../../../{bin_dir.name}/"
    for record in target.glob("*.dist-info/RECORD"):
        lines = record.read_text().splitlines(keepends=True)
        text = "".join(moved_entry(line, moved, entries) for line in lines)
        replace(record, text.encode())


def moved_entry(line: str, moved: str, entries: dict[str, str]) -> str:
    """A RECORD line of a command in bin/, for its moved file; other lines as they are."""
    if not line.startswith("bin/"):
        return line
    name = line[4:].split(",", 1)[0]
    if name in entries:
        return f"{moved}{name},{entries[name]}\n"
    return moved + line[4:]


def replace(path: Path, content: bytes) -> None:
    """Write a new file of the same mode: uv links installed files to its cache, which must
    stay as it is."""
    mode = path.stat().st_mode
    path.unlink()
    path.write_bytes(content)
    path.chmod(mode)


# uv's launcher for an interpreter path too long for a #! line, three lines long.
LONG_SHEBANG = b"#!/bin/sh\n'''exec' "


def with_shebang(content: bytes, python: PurePosixPath) -> bytes:
    """A script started by `python`: its #! line (or uv's sh launcher) replaced."""
    if content.startswith(LONG_SHEBANG):
        body = content.split(b"\n' '''\n", 1)[1]
    elif content.startswith(b"#!") and b"python" in content.split(b"\n", 1)[0]:
        body = content.split(b"\n", 1)[1] if b"\n" in content else b""
    else:
        return content
    return f"#!{python}\n".encode() + body
