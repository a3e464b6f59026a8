"""The project is a value (zenlock/project.py): made once by the CLI from the working
directory, or by anyone from any folder, and passed down. No module binds a project, a path
or the working directory when it is imported."""

import ast
import json
import shutil
import subprocess
import sys

import pytest
from conftest import REPO

from zenlock import ZenlockError
from zenlock.identity import claim_id, project_id, state_of
from zenlock.project import Project

PACKAGE = REPO / "src" / "zenlock"
# What a top-level statement must not call or read: the working directory, a root found from
# it, the user's home or environment (each is read when a Project is made).
BOUND_AT_IMPORT = {"cwd", "getcwd", "home", "find_root", "working_root", "environ", "getenv"}


def top_level_reads(tree: ast.Module) -> list[str]:
    """Names from BOUND_AT_IMPORT used by module-level statements (not inside functions or
    classes, whose code runs when called)."""
    found = []
    for statement in tree.body:
        if isinstance(statement, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            continue
        for node in ast.walk(statement):
            name = node.attr if isinstance(node, ast.Attribute) else getattr(node, "id", None)
            if name in BOUND_AT_IMPORT:
                found.append(f"line {node.lineno}: {name}")
    return found


def test_no_module_computes_a_top_level_value_from_where_it_runs():
    """inside/ holds scripts that another environment's python runs as programs: their top
    level is their main code."""
    modules = sorted(path for path in PACKAGE.rglob("*.py") if "inside" not in path.parts)
    assert len(modules) > 40
    bound = {
        str(path.relative_to(PACKAGE)): reads
        for path in modules
        if (reads := top_level_reads(ast.parse(path.read_text())))
    }
    assert not bound, bound


def test_the_check_above_catches_a_module_that_binds_the_working_directory():
    bad = ast.parse(
        "from pathlib import Path\nROOT = Path.cwd()\ndef f():\n    return Path.cwd()\n"
    )
    assert top_level_reads(bad) == ["line 2: cwd"]


def test_every_module_imports_from_a_folder_that_is_no_project(tmp_path):
    """Imported from an empty folder, no module holds a path into it."""
    names = sorted(
        ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        for path in PACKAGE.rglob("*.py")
        if path.name != "__main__.py" and "inside" not in path.parts  # scripts, run elsewhere
    )
    script = (
        "import importlib, json, pathlib, sys\n"
        "here, bound, skipped = pathlib.Path.cwd(), [], []\n"
        "for name in sys.argv[1:]:\n"
        "    try:\n"
        "        module = importlib.import_module(name)\n"
        "    except ModuleNotFoundError as error:\n"
        "        if error.name.split('.')[0] != 'zenml':\n"
        "            raise\n"
        "        skipped.append(name)  # a runtime module, imported in a project's .venv\n"
        "        continue\n"
        "    for key, value in vars(module).items():\n"
        "        if isinstance(value, pathlib.Path) and value.is_relative_to(here):\n"
        "            bound.append(f'{name}.{key}')\n"
        "print(json.dumps({'bound': bound, 'skipped': skipped}))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, *names], cwd=tmp_path, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout)
    assert found["bound"] == []
    assert set(found["skipped"]) <= {"zenlock.containers", "zenlock.builds"}


def make_project(folder, data_home):
    folder.mkdir()
    (folder / "pyproject.toml").write_text('[project]\nname = "p"\n[tool.zenlock]\nschema = 1\n')
    return Project(root=folder, data_home=data_home, cache_home=data_home / "cache")


def test_a_project_is_made_from_any_folder_with_its_own_data_home(tmp_path):
    project = Project.at(tmp_path / "a b", {"XDG_DATA_HOME": str(tmp_path / "data")})
    assert project.root == (tmp_path / "a b").resolve()
    assert project.data_home == tmp_path / "data" / "envtools"
    assert project.connection == project.root / ".zenml-server" / "client.env"
    home = Project.at(tmp_path, {"HOME": str(tmp_path / "home")}).data_home
    assert home == tmp_path / "home" / ".local" / "share" / "envtools"


def test_identity_follows_the_folder_and_a_copy_is_told_apart(tmp_path):
    """In-process, two projects side by side: the original owns its id, a copy is refused
    with the fix, a detached copy gets an id of its own."""
    data = tmp_path / "data"
    original = make_project(tmp_path / "original", data)
    assert state_of(original) == "new" and project_id(original) is None
    identity = claim_id(original)
    assert project_id(original) == identity and state_of(original) == "own"
    assert (data / identity / "root").read_text().startswith(f"{original.root}\n")
    copy_root = tmp_path / "copy"
    shutil.copytree(original.root, copy_root)
    copy = Project(root=copy_root, data_home=data, cache_home=data / "cache")
    assert state_of(copy) == "copy"
    with pytest.raises(ZenlockError, match="copy of .*`nox -s server -- detach`"):
        project_id(copy)
    assert claim_id(copy, new=True) != identity
    assert state_of(copy) == "own" and project_id(original) == identity


def test_a_moved_folder_keeps_its_id(tmp_path):
    data = tmp_path / "data"
    before = make_project(tmp_path / "before", data)
    identity = claim_id(before)
    moved_root = before.root.rename(tmp_path / "after")
    moved = Project(root=moved_root, data_home=data, cache_home=data / "cache")
    assert state_of(moved) == "moved" and project_id(moved) == identity
    assert claim_id(moved) == identity and state_of(moved) == "own"
