"""What an assembled image needs of its parent besides its layers: its /etc/passwd and
/etc/group (the user is added to them) and the Python its `python3` is (the venv's home, and
the version uv installs for). Read from the local engine when the parent is there, else from
its registry with no engine; kept in the data home by the parent's id, so each parent is read
once per machine. (The parent itself, its config and layers: `enginelayers.parent_in_engine`,
`ociregistry.parent_in_registry`.)
"""

import json
import posixpath
import re
import tarfile
from dataclasses import asdict, dataclass
from pathlib import Path

from . import ZenlockError, engine, ociregistry, oneoff
from .ociimage import Parent

# Where `uv venv --python python3` (today's Dockerfile) finds python3, in PATH's order.
PYTHON_LINKS = ("usr/local/bin/python3", "usr/bin/python3")
FILES = ("etc/passwd", "etc/group")
# Where a Debian parent says which Python it has, to the patch level (read when met).
DPKG_STATUS = "var/lib/dpkg/status"
VERSIONED = re.compile(r"python(3\.\d+)$")


@dataclass(frozen=True)
class ParentFiles:
    passwd: str
    group: str
    python: str  # the interpreter python3 leads to: /usr/local/bin/python3.11
    python_full_version: str = ""  # 3.11.2, when the parent says it

    @property
    def python_version(self) -> str:
        return VERSIONED.search(self.python).group(1)

    @property
    def full_version(self) -> str:
        return self.python_full_version or self.python_version


def full_version(version: str, env: list[str], dpkg_status: bytes | None) -> str:
    """The parent's Python to the patch level: the PYTHON_VERSION of the official images'
    environment, else the Debian package's version; "" when neither says."""
    said = dict(entry.split("=", 1) for entry in env if "=" in entry).get("PYTHON_VERSION", "")
    if said.startswith(f"{version}."):
        return said
    package = re.search(
        rf"^Package: (?:lib)?python{re.escape(version)}-minimal\n(?:.+\n)*?Version: "
        rf"({re.escape(version)}\.\d+)",
        (dpkg_status or b"").decode(errors="replace"),
        re.M,
    )
    return package.group(1) if package else ""


def files_of(
    name: str, found: dict[str, tarfile.TarInfo | bytes | None], env: list[str] = ()
) -> ParentFiles:
    """The ParentFiles of the entries read from parent `name` (and its environment, `env`);
    a parent without them is one line that names what to choose instead."""
    for path in FILES:
        if not isinstance(found.get(path), bytes):
            raise ZenlockError(f"Parent {name} has no /{path}: name a Debian-based parent.")
    link = next((path for path in PYTHON_LINKS if found.get(path) is not None), None)
    entry = found.get(link)
    target = entry.linkname if isinstance(entry, tarfile.TarInfo) and entry.issym() else ""
    python = posixpath.join("/" + posixpath.dirname(link), target) if link and target else ""
    if not VERSIONED.search(python):
        raise ZenlockError(
            f"Parent {name} has no python3 that links to a python3.N in /usr/local/bin or "
            "/usr/bin: name a parent with Python (python:3.11-slim-bookworm, say)."
        )
    version = VERSIONED.search(python).group(1)
    status = found.get(DPKG_STATUS)
    full = full_version(version, list(env), status if isinstance(status, bytes) else None)
    return ParentFiles(found[FILES[0]].decode(), found[FILES[1]].decode(), python, full)


def cached(data_home: Path, parent: Parent) -> ParentFiles | None:
    path = cache_path(data_home, parent)
    found = json.loads(path.read_text()) if path.is_file() else {}
    return ParentFiles(**found) if "python_full_version" in found else None


def cache_path(data_home: Path, parent: Parent) -> Path:
    return data_home / "parents" / f"{parent.id.removeprefix('sha256:')}.json"


def remember(data_home: Path, parent: Parent, files: ParentFiles) -> ParentFiles:
    path = cache_path(data_home, parent)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(asdict(files)))
    return files


def files_in_engine(client: engine.Engine, name: str, parent: Parent, data_home: Path):
    """The ParentFiles of `parent`, the engine's image `name`."""
    files = cached(data_home, parent)
    if files is None:
        wanted = [f"/{path}" for path in (*FILES, *PYTHON_LINKS, DPKG_STATUS)]
        found = {k[1:]: v for k, v in oneoff.read_entries(client, name, wanted).items()}
        env = parent.config["config"].get("Env") or []
        files = remember(data_home, parent, files_of(name, found, env))
    return files


def files_in_registry(name: str, parent: Parent, data_home: Path) -> ParentFiles:
    """The ParentFiles of `parent`, image `name` in its registry: no layer is downloaded
    whole unless the files sit low in it, and then only once per machine."""
    files = cached(data_home, parent)
    if files is None:
        found = ociregistry.entries_in_registry(
            name, parent, (*FILES, *PYTHON_LINKS, DPKG_STATUS), enough=(*FILES, PYTHON_LINKS[0])
        )
        env = parent.config["config"].get("Env") or []
        files = remember(data_home, parent, files_of(name, found, env))
    return files
