"""Projects rendered before zenlock was a package carried the engine in their own folder
(envtools/, and containers.py in their package). `copier update` removes those files, edited or
not; a file that held the user's own edits is named, so that they are not lost unseen."""

import hashlib
import json
import shutil
import subprocess
from importlib.resources import files
from pathlib import Path


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


def report_dropped_edits(root: Path) -> str | None:
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
