"""uv.lock: lock, export what each environment installs, read its pins."""

import contextlib
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tomllib
import urllib.parse
from collections.abc import Callable
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from . import ZenlockError, requirements
from .project import Project

# The uv export options of each kind of environment. Images never hold the project itself.
PIPELINE_KINDS = ("iterate", "release")
# The dependency group every pipeline image holds when pyproject.toml declares it: pip, with
# which ZenML records a run's packages (`pip freeze` in the step), locked like the rest.
STEP_TOOLS = "pipeline-image"


def uv_bin() -> str:
    """The uv of this environment (its `uv` package), else the one that started us, else PATH's."""
    try:
        import uv  # in .venv through nox[uv]

        return uv.find_uv_bin()
    except ImportError:
        found = os.environ.get("UV") or shutil.which("uv")
        if not found:
            raise ZenlockError("uv not found: install it (https://docs.astral.sh/uv/).") from None
        return found


def uv(root: Path, *args: str) -> str:
    """uv run in the project's folder `root`."""
    result = subprocess.run([uv_bin(), *args], cwd=root, capture_output=True, text=True)
    if result.returncode != 0:
        if "needs to be updated" in result.stderr:
            raise ZenlockError(
                "uv.lock is out of date with pyproject.toml: run `nox -s lock`, then `nox -s dev`."
            )
        said = (result.stderr + result.stdout).strip()
        raise ZenlockError(f"`uv {' '.join(args)}` failed (exit {result.returncode}):\n{said}")
    return result.stdout


def selection(root: Path, kind: str, groups: list[str] | tuple[str, ...] = ()) -> list[str]:
    """uv export options for an environment of the project in `root`: `venv` (every group), a
    pipeline image kind ([project] dependencies and `groups`), or `server` (only `groups`)."""
    if kind == "venv":
        return []
    if kind == "server":
        return [*(f"--only-group={g}" for g in groups), "--no-emit-project"]
    if kind not in PIPELINE_KINDS:
        raise ValueError(kind)
    tools = (
        [STEP_TOOLS] if STEP_TOOLS in dependency_groups(root) and STEP_TOOLS not in groups else []
    )
    return [
        "--no-default-groups",
        "--no-emit-project",
        *(f"--group={g}" for g in [*tools, *groups]),
    ]


def dependency_groups(root: Path) -> dict[str, list]:
    return read_toml(root / "pyproject.toml").get("dependency-groups", {})


def export(
    root: Path,
    options: list[str],
    *,
    hashes: bool = True,
    frozen: bool = False,
    cache: Path | None = None,
) -> str:
    """The lock's requirements for `options` (see `selection`), in requirements.txt format.

    A lock older than pyproject.toml is an error, unless `frozen`: read the lock as it is.
    """
    flags = ["--format=requirements.txt", "--no-header", "--no-annotate"]
    flags += ["--frozen" if frozen else "--locked", *([] if hashes else ["--no-hashes"])]
    return exported(root, cache, *flags, *options)


def sbom(root: Path, options: list[str], cache: Path | None = None) -> str:
    """The CycloneDX 1.5 SBOM of the lock's selection `options` (see `selection`), without the
    time stamp and serial number uv writes: the same lock gives the same bytes."""

    def without_stamps(text: str) -> str:
        document = json.loads(text)
        document.pop("serialNumber", None)
        document.get("metadata", {}).pop("timestamp", None)
        return json.dumps(document, indent=2, sort_keys=True) + "\n"

    args = ["--format=cyclonedx1.5", "--preview-features=sbom-export", "--frozen", *options]
    return exported(root, cache, *args, finish=without_stamps)


def exported(
    root: Path,
    cache: Path | None,
    *args: str,
    finish: Callable[[str], str] = str,
    salt: tuple[str, ...] = (),
) -> str:
    """`finish` of `uv export ARGS` in the project `root`. With a `cache` folder, kept there
    by what decides it (uv.lock, pyproject.toml, the uv binary, ARGS and `salt`: whatever else
    `finish` reads): a no-op build reads it back instead of running uv. (A stale lock is never
    kept: `--locked` fails first.)"""
    if cache is None or not (root / "uv.lock").is_file():
        return finish(uv(root, "export", *args))
    binary = Path(uv_bin()).stat()
    parts = [
        (root / "uv.lock").read_bytes(),
        (root / "pyproject.toml").read_bytes(),
        f"{binary.st_size} {binary.st_mtime_ns}".encode(),
        Path(__file__).read_bytes(),  # this code (`finish`): another zenlock keeps its own
        *(part.encode() for part in (*args, "--", *salt)),
    ]
    key = hashlib.sha256(b"\0".join(parts)).hexdigest()
    path = cache / "exports" / key
    with contextlib.suppress(OSError):
        return path.read_text()
    text = finish(uv(root, "export", *args))
    path.parent.mkdir(parents=True, exist_ok=True)
    aside = path.with_name(f"{key}.{os.getpid()}")  # parallel runs: each renames its own
    aside.write_text(text)
    aside.replace(path)
    return text


def dependency_closure(roots: list[str], packages: dict[str, list[dict]]) -> set[str]:
    """The names of the requirements `roots` and of all they need in the lock's `packages`
    (name -> entries), for any marker: a superset does no harm, it only sorts the export's
    lines into layers."""
    wanted = [
        (canonicalize_name(parsed.name), tuple(parsed.extras)) for parsed in map(Requirement, roots)
    ]
    seen: set[tuple[str, str]] = set()
    found: set[str] = set()
    while wanted:
        name, extras = wanted.pop()
        for part in ("", *extras):
            if (name, part) in seen:
                continue
            seen.add((name, part))
            found.add(name)
            for package in packages.get(name, []):
                if part:
                    needs = package.get("optional-dependencies", {}).get(part, [])
                else:
                    needs = package.get("dependencies", [])
                wanted += [(need["name"], tuple(need.get("extra", ()))) for need in needs]
    return found


def requirement_entries(requirements: str) -> list[tuple[str, str]]:
    """(name, text) of each requirement of a `uv export` (a line and its --hash lines)."""
    entries: list[tuple[str, str]] = []
    for line in requirements.splitlines(keepends=True):
        if not line.strip() or line.startswith("#"):
            continue
        if line[:1].isspace() and entries:
            entries[-1] = (entries[-1][0], entries[-1][1] + line)
        else:
            name = re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", line)
            entries.append((canonicalize_name(name.group(0)) if name else "", line))
    return entries


def layered(lock: Path, requirements: str, *roots: list[str]) -> list[str]:
    """`requirements` in len(roots) + 1 parts: the first holds what roots[0] needs, the next
    what roots[1] needs beyond that, ..., the last everything else."""
    packages: dict[str, list[dict]] = {}
    for package in read_toml(lock).get("package", []):
        packages.setdefault(package["name"], []).append(package)
    closures = [dependency_closure(layer, packages) for layer in roots]
    parts = [""] * (len(roots) + 1)
    for name, text in requirement_entries(requirements):
        index = next((i for i, closure in enumerate(closures) if name in closure), len(roots))
        parts[index] += text
    return parts


def pins(root: Path, options: list[str], environment: dict[str, str]) -> dict[str, str]:
    """Package -> what the lock installs for `options` on an interpreter whose PEP 508 marker
    environment is `environment`: a version, the URL and commit of a requirement by URL
    (requirements.pinned), or a local project's own version."""
    expected = {}
    # --frozen: a check reads the lock as it is (and reports a stale one on its own).
    lock = (root / "uv.lock").read_text()
    for line in export(root, options, hashes=False, frozen=True).splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith(("-e ", ".", "/", "file:")):  # the project, a plugin, a wheel
            name, version = local_package(root, lock, line)
            expected[name] = version
            continue
        requirement = Requirement(line)
        if requirement.marker is None or requirement.marker.evaluate(environment):
            pinned = requirements.pinned(line)
            if pinned.startswith("file:"):  # a local wheel or folder: by its version
                pinned = locked_version(lock, canonicalize_name(requirement.name))
            expected[canonicalize_name(requirement.name)] = pinned
    return expected


# A package of the lock from a path (uv.lock's own layout, read without parsing the whole lock).
LOCAL_PACKAGE = re.compile(
    r'^\[\[package\]\]\nname = "([^"]+)"\n(?:version = "([^"]+)"\n)?'
    r'source = \{ (?:editable|path|directory|virtual) = "([^"]+)" \}',
    re.MULTILINE,
)


def local_package(root: Path, lock: str, line: str) -> tuple[str, str]:
    """Name and locked version of an export's line for a local package (`-e ./plugins`, `.`,
    `./wheels/x.whl`, `file:///abs/folder`): found in uv.lock by its path, as installed it is
    compared by its version (`lock`: uv.lock's text). A version the lock does not hold
    (dynamic) reads as "dynamic"."""
    where = line.removeprefix("-e ").split(" ;", 1)[0].strip()
    if where.startswith("file:"):
        where = urllib.parse.unquote(urllib.parse.urlsplit(where).path)  # a POSIX path
    wanted = (root / where).resolve()
    for name, version, source in LOCAL_PACKAGE.findall(lock):
        if (root / source).resolve() == wanted:
            return canonicalize_name(name), version or "dynamic"
    raise ZenlockError(f"uv.lock has no package at {where}: run `nox -s lock`.")


def read_toml(path) -> dict:
    return tomllib.loads(path.read_text())


def lock_hash(lock: Path) -> str:
    return hashlib.sha256(lock.read_bytes()).hexdigest()


def locked_version(lock: str, name: str) -> str:
    """A package's version in uv.lock (`lock`: its text), read off its `[[package]]` entry
    (parsing the whole lock as TOML takes longer than a no-op build)."""
    found = re.search(
        rf'^\[\[package\]\]\nname = "{re.escape(name)}"\nversion = "([^"]+)"',
        lock,
        re.MULTILINE,
    )
    return found.group(1) if found else ""


def is_stale(root: Path) -> bool:
    """True when pyproject.toml changed since uv.lock was written."""
    return (
        subprocess.run([uv_bin(), "lock", "--check"], cwd=root, capture_output=True).returncode != 0
    )


def write_lock(root: Path, *args: str) -> None:
    """`uv lock ARGS`, where an unknown extra (a misspelt server plugin) is an error, not a
    warning: the lock is left as it was."""
    lock = root / "uv.lock"
    previous = lock.read_bytes() if lock.exists() else None
    result = subprocess.run([uv_bin(), "lock", *args], cwd=root, capture_output=True, text=True)
    output = result.stdout + result.stderr
    unknown_extras = re.findall(r"does not have an extra named `[^`]+`", output)
    if result.returncode == 0 and not unknown_extras:
        print(output, end="", file=sys.stderr)
        return
    if previous is None:
        lock.unlink(missing_ok=True)
    else:
        lock.write_bytes(previous)
    if unknown_extras:
        raise ZenlockError(f"{'; '.join(unknown_extras)}: fix the extras in pyproject.toml.")
    raise ZenlockError(f"`uv lock` failed, uv.lock is unchanged:\n{output.strip()}")


def main(project: Project, argv: list[str]) -> None:
    """`nox -s lock [-- uv lock options]`."""
    write_lock(project.root, *argv)


STOPS = (signal.SIGINT, signal.SIGTERM)


@contextlib.contextmanager
def all_or_nothing(root: Path):
    """pyproject.toml, uv.lock and .venv as they were if anything in the block fails."""
    files = (root / "pyproject.toml", root / "uv.lock")
    saved = {path: path.read_bytes() for path in files if path.exists()}
    try:
        yield
    except BaseException:
        # A second Ctrl-C or SIGTERM (nox sends one) must not stop the way back half-way.
        held = {number: signal.signal(number, signal.SIG_IGN) for number in STOPS}
        try:
            changed = any(path.read_bytes() != content for path, content in saved.items())
            for path, content in saved.items():
                path.write_bytes(content)
            if changed:  # .venv back to the restored lock
                with contextlib.suppress(ZenlockError):
                    uv(root, "sync", "--locked")
        finally:
            for number, handler in held.items():
                signal.signal(number, handler)
        raise
