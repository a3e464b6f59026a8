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
VERSIONED = re.compile(r"python(3\.\d+)$")


@dataclass(frozen=True)
class ParentFiles:
    passwd: str
    group: str
    python: str  # the interpreter python3 leads to: /usr/local/bin/python3.11

    @property
    def python_version(self) -> str:
        return VERSIONED.search(self.python).group(1)


def files_of(name: str, found: dict[str, tarfile.TarInfo | bytes | None]) -> ParentFiles:
    """The ParentFiles of the entries read from parent `name`; a parent without them is one
    line that names what to choose instead."""
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
    return ParentFiles(found[FILES[0]].decode(), found[FILES[1]].decode(), python)


def cached(data_home: Path, parent: Parent) -> ParentFiles | None:
    path = cache_path(data_home, parent)
    return ParentFiles(**json.loads(path.read_text())) if path.is_file() else None


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
        found = oneoff.read_entries(client, name, [f"/{path}" for path in (*FILES, *PYTHON_LINKS)])
        files = remember(data_home, parent, files_of(name, {k[1:]: v for k, v in found.items()}))
    return files


def files_in_registry(name: str, parent: Parent, data_home: Path) -> ParentFiles:
    """The ParentFiles of `parent`, image `name` in its registry: no layer is downloaded
    whole unless the files sit low in it, and then only once per machine."""
    files = cached(data_home, parent)
    if files is None:
        found = ociregistry.entries_in_registry(
            name, parent, (*FILES, *PYTHON_LINKS), enough=(*FILES, PYTHON_LINKS[0])
        )
        files = remember(data_home, parent, files_of(name, found))
    return files
