"""A PEP 751 lock file per image (`pylock.<image>.toml`), beside its SBOM: uv's export of the
image's selection of uv.lock, narrowed to the image's platform and Python — the packages
whose markers hold there, the wheels that install there. Scanners read it; teams without
uv install it (`uv pip install -r FILE`, pip >= 26.1: `pip install -r FILE`).
"""

import posixpath
import tomllib
from pathlib import Path

import tomli_w
from packaging.markers import Marker
from packaging.tags import Tag, compatible_tags, cpython_tags
from packaging.utils import InvalidWheelFilename, canonicalize_name, parse_wheel_filename

from . import lock
from .project import Project
from .venvshare import GLIBC, MACHINES

HEADER = "# The packages of image {tag} ({platform}, Python {python}), from uv.lock by uv export.\n"


def file_name(tag: str) -> str:
    """pylock.<image>.toml: the spec's name allows no dot in <image>."""
    image = tag.rsplit("/", 1)[-1].replace(":", "-").replace(".", "-")
    return f"pylock.{image}.toml"


def environment(platform: str, python: str) -> dict[str, str]:
    """The marker values of a Linux image of `platform` whose Python is `python` (X.Y.Z)."""
    short = ".".join(python.split(".")[:2])
    return {
        "implementation_name": "cpython",
        "implementation_version": python,
        "os_name": "posix",
        "platform_machine": MACHINES[platform],
        "platform_python_implementation": "CPython",
        "platform_system": "Linux",
        "python_full_version": python,
        "python_version": short,
        "sys_platform": "linux",
    }


def wheel_tags(platform: str, python: str) -> set[Tag]:
    """The wheel tags CPython `python` installs on `platform` with the parents' glibc."""
    machine = MACHINES[platform]
    newest = int(GLIBC.split("_")[1])
    platforms = [f"manylinux_2_{minor}_{machine}" for minor in range(newest, 4, -1)]
    platforms += [f"manylinux2014_{machine}", f"manylinux2010_{machine}",
                  f"manylinux1_{machine}", f"linux_{machine}"]  # fmt: skip
    version = tuple(int(part) for part in python.split(".")[:2])
    interpreter = f"cp{version[0]}{version[1]}"
    return {
        *cpython_tags(version, [interpreter, "abi3", "none"], platforms),
        *compatible_tags(version, interpreter, platforms),
    }


def installs_on(url: str, tags: set[Tag]) -> bool:
    try:
        _, _, _, file_tags = parse_wheel_filename(url.rsplit("/", 1)[-1])
    except InvalidWheelFilename:
        return False
    return not file_tags.isdisjoint(tags)


def narrowed(document: str, tag: str, platform: str, python: str) -> str:
    """uv's pylock.toml `document` with only what an image of `platform` and `python` takes."""
    data = tomllib.loads(document)
    values, tags = environment(platform, python), wheel_tags(platform, python)
    packages = []
    for package in data.get("packages", []):
        if "marker" in package and not Marker(package["marker"]).evaluate(values):
            continue
        if "directory" in package:  # a local package (the server's plugins): built into a
            # wheel for the image; its path from configs/sbom/, where this file is
            folder = posixpath.join("../..", package["directory"]["path"])
            package = {**package, "directory": {"path": folder, "editable": False}}
        if "wheels" in package:
            wheels = [wheel for wheel in package["wheels"] if installs_on(wheel["url"], tags)]
            package = {**package, "wheels": wheels} if wheels else {
                key: value for key, value in package.items() if key != "wheels"
            }  # fmt: skip
        packages.append(package)
    short = values["python_version"]
    data["environments"] = [
        f"sys_platform == 'linux' and platform_machine == '{MACHINES[platform]}' "
        f"and python_version == '{short}'"
    ]
    data["packages"] = packages
    ordered = {key: data[key] for key in ("lock-version", "environments", "requires-python",
                                          "created-by") if key in data}  # fmt: skip
    ordered.update(data)
    return HEADER.format(tag=tag, platform=platform, python=python) + tomli_w.dumps(ordered)


def of_image(
    root: Path, options: list[str], tag: str, platform: str, python: str, cache: Path | None
) -> str:
    """The pylock.toml of the image `tag`, whose selection of the lock is `options` (kept in
    `cache` with the lock's exports: a no-op build reads it back)."""
    return lock.exported(
        root, cache, "--format=pylock.toml", "--frozen", "--no-header", *options,
        finish=lambda text: narrowed(text, tag, platform, python),
        salt=(tag, platform, python, Path(__file__).read_text()),
    )  # fmt: skip


def write(folder: Path, tag: str, text: str) -> Path:
    """`text` as the image `tag`'s file in `folder` (configs/sbom/, beside its SBOM)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / file_name(tag)
    if not path.is_file() or path.read_text() != text:
        path.write_text(text)
    return path


def write_for(project: Project, tag: str, options: list[str], platform: str, python: str) -> Path:
    """configs/sbom/pylock.<image>.toml of the image `tag` (selection `options`)."""
    text = of_image(project.root, options, tag, platform, python, project.cache_home)
    return write(project.sboms, tag, text)


def problem(project: Project, tag: str, options: list[str], found: dict) -> str | None:
    """What is wrong with image `tag`'s pylock.toml, read-only (no cache written): missing,
    not the lock's selection `options` any more, or not what the image holds (`found`: what
    inside/inspect_python.py read there). Packages from a URL or a local folder (the
    server's plugins) are compared by the image's record of the lock, not here."""
    environment = found["environment"]
    path = project.sboms / file_name(tag)
    name = path.relative_to(project.root)
    if not path.is_file():
        return f"its {name} is missing"
    platform = {machine: key for key, machine in MACHINES.items()}[environment["platform_machine"]]
    expected = of_image(project.root, options, tag, platform, environment["python_full_version"],
                        None)  # fmt: skip
    if path.read_text() != expected:
        return f"its {name} is not the lock's"
    by_url = {canonicalize_name(name) for name in found.get("from_urls", {})}
    every = pins(expected)
    listed = {n: v for n, v in every.items() if v and n not in by_url}
    local = {n for n, v in every.items() if not v}
    held = {canonicalize_name(name): version for name, version in found["installed"].items()}
    held = {n: v for n, v in held.items() if n not in by_url | local}
    differ = sorted(n for n in listed.keys() | held.keys() if listed.get(n) != held.get(n))
    if differ:
        said = (f"{n} {listed.get(n, '-')} listed, {held.get(n, '-')} installed" for n in differ)
        return f"its {name} differs from what is installed: {', '.join(said)}"
    return None


def pins(text: str) -> dict[str, str | None]:
    """Name -> version of every package a pylock.toml lists (None: a local folder's)."""
    return {
        canonicalize_name(package["name"]): package.get("version")
        for package in tomllib.loads(text).get("packages", [])
    }
