"""What a render over an existing project took away, found before anything builds on it.

Projects rendered before zenlock was a package carried the engine in their own folder
(envtools/, and containers.py in their package). `copier update` removes those files, edited or
not; a file that held the user's own edits is named, so that they are not lost unseen.

`zenml init --template` over a project (copier with overwrite) writes the template's
pyproject.toml over the user's, and copier cannot look first: the template runs no code. The
next lock would make the loss final, so the dependencies it dropped are refused by name.
"""

import hashlib
import json
import shutil
import subprocess
import tomllib
from importlib.resources import files
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from . import ZenlockError


def vendored_hashes() -> set[str]:
    """The sha256 of every version of those files the template shipped."""
    return set(json.loads(files("zenlock").joinpath("data/vendored.json").read_text()))


def was_vendored(path: str) -> bool:
    parts = Path(path).parts
    return parts[0] == "envtools" or (parts[0] == "src" and parts[-1] == "containers.py")


def dropped_edits(root: Path) -> list[str]:
    """Engine files the last commit has, the working tree no longer has, and whose committed
    content is no template version: the user's edits, removed by the update."""
    if (root / "envtools" / "__main__.py").is_file() or not (root / ".git").exists():
        return []
    listing = subprocess.run(
        ["git", "ls-tree", "-r", "HEAD", "--", "envtools", "src"],
        cwd=root, capture_output=True, text=True, check=False,
    )  # fmt: skip
    known, dropped = None, []
    for line in listing.stdout.splitlines():
        meta, path = line.split("\t", 1)
        if not was_vendored(path) or (root / path).exists():
            continue
        blob = subprocess.run(
            ["git", "cat-file", "blob", meta.split()[2]], cwd=root, capture_output=True
        ).stdout
        known = vendored_hashes() if known is None else known
        if hashlib.sha256(blob).hexdigest() not in known:
            dropped.append(path)
    return dropped


def requirement_names(pyproject: dict) -> set[str]:
    """The names pyproject.toml requires: [project] dependencies and extras, every group."""
    project = pyproject.get("project", {})
    entries = [
        *project.get("dependencies", []),
        *(entry for extra in project.get("optional-dependencies", {}).values() for entry in extra),
        *(entry for group in pyproject.get("dependency-groups", {}).values() for entry in group),
    ]
    names = set()
    for entry in entries:
        try:
            names.add(canonicalize_name(Requirement(entry).name))
        except (InvalidRequirement, TypeError):  # an {include-group = ...} table, or garbage
            continue
    return names


def locked_names(lock_file: Path) -> set[str] | None:
    """The names uv.lock recorded as the project's own requirements (the package at "."),
    None without a lock to read."""
    try:
        lock = tomllib.loads(lock_file.read_text())
    except (OSError, tomllib.TOMLDecodeError):
        return None
    for package in lock.get("package", []):
        if package.get("source") in ({"editable": "."}, {"virtual": "."}):
            metadata = package.get("metadata", {})
            groups = metadata.get("requires-dev", {}).values()
            required = [*metadata.get("requires-dist", []), *(r for g in groups for r in g)]
            return {canonicalize_name(requirement["name"]) for requirement in required}
    return None


def dropped_dependencies(root: Path) -> list[str]:
    """Requirements that git's pyproject.toml (the staged one) names, the working tree's no
    longer does, and uv.lock still holds (when there is one): what the next lock would drop
    though no one said so. `git add pyproject.toml` says so; so does a lock zenlock made
    itself (`integrations remove`), which holds them no more."""
    try:
        staged = subprocess.run(
            ["git", "show", ":./pyproject.toml"], cwd=root, capture_output=True, text=True
        )
    except OSError:  # no git installed
        return []
    if staged.returncode != 0:  # not a repository, or pyproject.toml not in it: no memory
        return []
    try:
        before = requirement_names(tomllib.loads(staged.stdout))
        now = requirement_names(tomllib.loads((root / "pyproject.toml").read_text()))
    except tomllib.TOMLDecodeError:  # a merge conflict: the sessions name it
        return []
    dropped = before - now
    locked = locked_names(root / "uv.lock")
    return sorted(dropped if locked is None else dropped & locked)


def refuse_dropped_dependencies(root: Path) -> None:
    dropped = dropped_dependencies(root)
    if dropped:
        raise ZenlockError(
            f"pyproject.toml no longer lists {', '.join(dropped)}, which git's does "
            "(`git diff pyproject.toml`): `zenml init --template` or `copier copy` over a "
            "project writes the template's pyproject.toml. Put them back in pyproject.toml, or "
            "`git add pyproject.toml` if you removed them yourself; nothing was changed."
        )


def report_dropped_edits(root: Path) -> str | None:
    """What a project runs first after a render (`lock`, `check`): dependencies dropped from
    pyproject.toml are refused; engine files that held the user's edits are named."""
    refuse_dropped_dependencies(root)
    dropped = dropped_edits(root)
    if not dropped:
        return None
    return (
        f"notice: the update removed {', '.join(dropped)}, which held your own edits: zenlock "
        "does that work now. They stay in git (`git show HEAD:PATH`); carry over what you "
        "still need (a fix is welcome upstream)."
    )


def remove_leftovers(root: Path) -> None:
    """What Python left in envtools/ (its bytecode) once the update removed the sources."""
    folder = root / "envtools"
    if folder.is_dir() and all(path.name == "__pycache__" for path in folder.iterdir()):
        shutil.rmtree(folder)
