"""Pipelines found by reading the source of a project's `pipelines/`: nothing is imported, so
no module runs before its pipeline's stack is active, and a broken module hides only its own
pipelines. The standard library only."""

import ast
from pathlib import Path


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
