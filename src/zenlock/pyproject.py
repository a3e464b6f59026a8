"""A project's pyproject.toml: the folder that has one with a [tool.zenlock] table, and that
table as written (settings.py checks it)."""

import sys
import tomllib
from pathlib import Path

from . import ZenlockError

# Projects rendered before the package kept their settings under this name; still read.
OLD_TOOL_TABLE = "envtools"


def declares_zenlock(pyproject: Path) -> bool:
    try:
        tool = tomllib.loads(pyproject.read_text()).get("tool", {})
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return False
    return "zenlock" in tool or OLD_TOOL_TABLE in tool


def find_root(start: Path) -> Path | None:
    """The nearest folder from `start` up whose pyproject.toml has a [tool.zenlock] table."""
    for folder in (start, *start.parents):
        if declares_zenlock(folder / "pyproject.toml"):
            return folder
    return None


def working_root(root: Path | None = None) -> Path:
    """`root`, or else the project of the working directory, found when asked: the runtime
    API (containers, discovery), which a project's own code calls in its folder, finds it so.
    A working directory in no project is taken as it is."""
    if root is not None:
        return root.resolve()
    start = Path.cwd().resolve()
    return find_root(start) or start


def tool_table(root: Path) -> object:
    """[tool.zenlock] of the project's pyproject.toml as written (tool_settings checks it);
    [tool.envtools] (older projects) with a notice."""
    try:
        tool = tomllib.loads((root / "pyproject.toml").read_text()).get("tool", {})
    except tomllib.TOMLDecodeError as error:
        raise ZenlockError(
            f"{root / 'pyproject.toml'} is not valid TOML ({error}): fix it there (a merge "
            "conflict that `copier update` left?)."
        ) from None
    if "zenlock" in tool or OLD_TOOL_TABLE not in tool:
        return tool.get("zenlock", {})
    if not getattr(tool_table, "noticed", False):
        tool_table.noticed = True
        print(
            "notice: pyproject.toml has [tool.envtools]; zenlock reads it, and `nox -s update` "
            "renames it [tool.zenlock].",
            file=sys.stderr,
        )
    return tool[OLD_TOOL_TABLE]
