"""The first layer an assembled image adds to its parent: what today's Dockerfiles make with
RUN useradd and mkdir (the user 10001 `zenml` with its home, /app for the steps' code), the
venv's own files pointing at the parent's Python. (The SBOM is the image's last layer: it
changes with every package.)

The user is added to the parent's /etc/passwd and /etc/group as `useradd` would: the layer
holds both files whole (a layer replaces a file, it cannot append to it).
"""

from pathlib import Path

from . import venvshare

USER = "zenml"
UID = 10001
HOME = f"home/{USER}"


def with_line(content: str, line: str) -> str:
    """`content` (an /etc file) with `line` added, unless its first field is there already."""
    name = line.split(":", 1)[0]
    lines = [entry for entry in content.splitlines() if entry.split(":", 1)[0] != name]
    return "".join(f"{entry}\n" for entry in [*lines, line])


def write_base(
    root: Path,
    *,
    passwd: str,
    group: str,
    python: str,
    python_version: str,
    full_version: str = "",
) -> dict[str, tuple[int, int]]:
    """The base layer's files under `root`, from the parent's /etc/passwd and /etc/group and
    the path of its Python (`python`); returns the owners the layer gives (path: uid, gid)."""
    (root / "etc").mkdir(parents=True, exist_ok=True)
    (root / "etc" / "passwd").write_text(
        with_line(passwd, f"{USER}:x:{UID}:{UID}::/{HOME}:/usr/sbin/nologin")
    )
    (root / "etc" / "group").write_text(with_line(group, f"{USER}:x:{UID}:"))
    (root / HOME).mkdir(parents=True, exist_ok=True)
    # /app is where ZenML puts step code; world-writable (sticky) because ZenML's local Docker
    # orchestrator runs step containers with the host user's uid.
    (root / "app").mkdir(exist_ok=True)
    (root / "app").chmod(0o1777)
    venvshare.write_venv(
        root, python=python, python_version=python_version, full_version=full_version
    )
    return {HOME: (UID, UID)}
