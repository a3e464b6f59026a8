"""What a run finds in the project without importing any of it: the pipelines in the source
of `pipelines/` (no module runs before its pipeline's stack is active, and a broken module
hides only its own), the pipeline a plain run runs, and the data files its steps read.
ZenML is not imported."""

import ast
from collections.abc import Iterable
from pathlib import Path
from typing import NoReturn

from . import ZenlockError
from .project import working_root
from .settings import tool_table

# The home of the files a step reads by a path relative to the project's folder
# (`data/rows.csv`): they reach the step in every mode (containers.py, images.py).
DATA = "data"
# Above this many MB, data/ is refused in iterate mode (ZenML archives it on every run).
DATA_LIMIT_MB = 20


def pipelines_in(source: str) -> list[str]:
    """The names of the pipelines a module's source defines: functions decorated with ZenML's
    `pipeline` (`@pipeline`, `@pipeline(name=...)`, `@zenml.pipeline`, an alias of it)."""
    tree = ast.parse(source)
    aliases = {"pipeline"} | {
        alias.asname or alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("zenml")
        for alias in node.names
        if alias.name == "pipeline"
    }
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        for decorator in node.decorator_list:
            call = decorator if isinstance(decorator, ast.Call) else None
            target = call.func if call else decorator
            named = target.id if isinstance(target, ast.Name) else getattr(target, "attr", None)
            if named not in aliases:
                continue
            name = node.name
            for keyword in call.keywords if call else []:
                if keyword.arg == "name" and isinstance(keyword.value, ast.Constant):
                    name = str(keyword.value.value)
            found.append(name)
    return found


def discover(folder: Path, package: str) -> tuple[dict[str, str], dict[str, str]]:
    """Pipeline name -> module of the modules under `folder` (the package `package`), and
    module -> why it cannot be read; nothing is imported."""
    found, broken = {}, {}
    for path in sorted(folder.rglob("*.py")):
        parts = path.relative_to(folder).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        module = ".".join((package, *parts))
        try:
            names = pipelines_in(path.read_text(encoding="utf-8"))
        except (SyntaxError, UnicodeDecodeError) as error:
            broken[module] = f"{type(error).__name__}: {error}"
            continue
        for name in names:
            found.setdefault(name, module)
    return found, broken


def run_table(root: Path | None = None) -> dict:
    """`[tool.zenlock.run]`: which pipeline a plain run runs, and how much data/ may weigh."""
    zenlock = tool_table(working_root(root))
    table = zenlock.get("run", {}) if isinstance(zenlock, dict) else {}
    if not isinstance(table, dict):
        raise ZenlockError(
            "[tool.zenlock] run is not a table: write it as [tool.zenlock.run] with "
            'default = "PIPELINE" under it.'
        )
    return table


def default_pipeline(names: Iterable[str], root: Path | None = None) -> str | None:
    """The pipeline `nox -s run` runs without `--pipeline`: `[tool.zenlock.run] default`, else
    `training`, else the first by name; None when there are none."""
    names = sorted(names)
    table = run_table(root)
    if "default" not in table:
        return "training" if "training" in names else (names[0] if names else None)
    chosen = table["default"]
    if not isinstance(chosen, str) or chosen not in names:
        found = ", ".join(names) or "none"
        raise ZenlockError(
            f"[tool.zenlock.run] default = {chosen!r} is not a pipeline under pipelines/ "
            f"(found: {found}): name one of them."
        )
    return chosen


def data_files(root: Path | None = None) -> dict[str, Path]:
    """Every file under the project's data/ by its path from the project's folder
    (`data/rows.csv`), in a stable order, each mapped to the real file it is: what travels to
    the steps, as content, the same in every mode (ZenML's archive, the release image).

    A link (a file or a folder, data/ itself too) is followed while its target stays in the
    project; one that leaves it, dangles or loops is refused: in a container it would be
    missing (iterate mode) or copy a file from anywhere on this machine into the image
    (release mode)."""
    project = working_root(root)
    root = project
    found: dict[str, Path] = {}

    def visit(path: Path, name: str, above: tuple[Path, ...]) -> None:
        real = followed(path, name, project)
        if real.is_dir():
            if any(folder.is_relative_to(real) for folder in above):
                refuse_link(name, f"{real}, a folder that holds it (a loop)")
            for child in sorted(real.iterdir()):
                visit(path / child.name, f"{name}/{child.name}", (*above, real))
        elif real.is_file():  # not a socket, a pipe or a device
            found[name] = real

    if (root / DATA).is_dir() or (root / DATA).is_symlink():
        visit(root / DATA, DATA, ())
    return dict(sorted(found.items()))


def followed(path: Path, name: str, project: Path) -> Path:
    """The real path of `path` (the data/ entry `name`), refused unless it is in `project`."""
    if not path.is_symlink():
        return path.resolve()  # through the links above it, already checked
    try:
        real = path.resolve(strict=True)
    except FileNotFoundError:
        refuse_link(name, f"{path.readlink()}, which does not exist")
    except (OSError, RuntimeError):  # RuntimeError: Python 3.11's word for a link loop
        refuse_link(name, f"{path.readlink()}, which leads back to itself (a loop)")
    if not real.is_relative_to(project):
        refuse_link(name, f"{real}, outside the project")
    return real


def refuse_link(name: str, target: str) -> NoReturn:
    raise ZenlockError(
        f"{name} is a link to {target}; data/ travels to the steps in containers as content, "
        "and only from inside the project: copy the file into data/, or keep large or secret "
        "data in the artifact store."
    )


def data_limit_mb(root: Path | None = None) -> int:
    """`[tool.zenlock.run] data_limit_mb`: how many MB data/ may hold in iterate mode."""
    limit = run_table(root).get("data_limit_mb", DATA_LIMIT_MB)
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
        raise ZenlockError(
            f"[tool.zenlock.run] data_limit_mb = {limit!r}: write a whole number of MB, e.g. "
            f"data_limit_mb = {DATA_LIMIT_MB}."
        )
    return limit


def refuse_heavy_data(files: dict[str, Path], root: Path | None = None) -> int:
    """The size of `files` (data/) in bytes, refused above `data_limit_mb`: iterate mode
    archives data/ with the code on every run, and uploads it again on every code change."""
    size = sum(path.stat().st_size for path in files.values())
    limit = data_limit_mb(root)
    if size > limit * 1_000_000:
        raise ZenlockError(
            f"data/ holds {size / 1_000_000:.1f} MB, more than [tool.zenlock.run] "
            f"data_limit_mb = {limit}: iterate mode archives it with the code on every run. "
            "Keep large data in the artifact store or object storage, bake data/ into release "
            "images (`nox -s images -- --release`), or raise the limit."
        )
    return size
