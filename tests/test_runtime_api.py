"""The runtime API: what a generated project's own code imports from zenlock (its run module,
its tests' conftest.py). Projects pin zenlock and may move it forward without `copier update`,
so these names and signatures are public: this test fails when one changes, and a template
that starts to use another name must add it here on purpose. The rest of zenlock is the
CLI's own and may change."""

import ast

from conftest import REPO

PACKAGE = REPO / "src" / "zenlock"
# name -> its signature, as written in zenlock's source.
RUNTIME_API = {
    "zenlock.ZenlockError": "class",
    "zenlock.containers.activate": "(stack: str) -> None",
    "zenlock.containers.image_options": (
        "(pipeline_name: str, config: Path | None=None) -> tuple[dict, str]"
    ),
    "zenlock.discovery.discover": (
        "(folder: Path, package: str) -> tuple[dict[str, str], dict[str, str]]"
    ),
    "zenlock.discovery.default_pipeline": (
        "(names: Iterable[str], root: Path | None=None) -> str | None"
    ),
    "zenlock.settings.default_stack": "(root: Path | None=None) -> str | None",
    "zenlock.stackfiles.THROWAWAY": "constant",
    "zenlock.stackfiles.use_throwaway_store": (
        "(config: str, stack: str | None, project: Project | None=None) -> None"
    ),
}
USERS = [
    REPO / "template" / "src" / "{{package_name}}" / "run.py",
    REPO / "template" / "tests" / "conftest.py",
]


def used_by_the_template() -> set[str]:
    """zenlock's names the template's code uses: `from zenlock.M import N`, and `M.N` of a
    module imported with `from zenlock import M`."""
    used = set()
    for path in USERS:
        tree = ast.parse(path.read_text())
        modules = {}
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("zenlock"):
                for alias in node.names:
                    if (PACKAGE / f"{alias.name}.py").is_file() and node.module == "zenlock":
                        modules[alias.asname or alias.name] = f"zenlock.{alias.name}"
                    else:
                        used.add(f"{node.module}.{alias.name}")
        for node in ast.walk(tree):
            named = isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
            if named and node.value.id in modules:
                used.add(f"{modules[node.value.id]}.{node.attr}")
    return used


def signature(name: str) -> str:
    """The signature of `name` as its module's source writes it (read, not imported: the
    runtime modules import ZenML, which this repository's environment lacks)."""
    module, _, attribute = name.rpartition(".")
    path = PACKAGE / "__init__.py" if module == "zenlock" else PACKAGE / f"{module[8:]}.py"
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.FunctionDef) and node.name == attribute:
            arguments = ast.unparse(node.args)
            return f"({arguments}) -> {ast.unparse(node.returns)}"
        if isinstance(node, ast.ClassDef) and node.name == attribute:
            return "class"
        targets = node.targets if isinstance(node, ast.Assign) else []
        if any(isinstance(t, ast.Name) and t.id == attribute for t in targets):
            return "constant"
    return "missing"


def test_the_template_uses_exactly_the_runtime_api():
    assert used_by_the_template() == set(RUNTIME_API)


def test_the_runtime_api_keeps_its_signatures():
    assert {name: signature(name) for name in RUNTIME_API} == RUNTIME_API


def test_a_name_the_runtime_modules_lack_is_missing():
    assert signature("zenlock.containers.no_such_function") == "missing"
