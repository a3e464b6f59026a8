"""A render over an existing project (`zenml init --template`, copier with overwrite) replaces
its pyproject.toml: the dependencies that git's pyproject.toml names and the working tree's
lost are refused by name before a lock makes the loss final (tests/test_zenml_init.py runs it
for real). Here, the cases, in process."""

import subprocess

import pytest

from zenlock import ZenlockError
from zenlock.moved import dropped_dependencies, refuse_dropped_dependencies

COMMITTED = """\
[project]
name = "mine"
version = "0.1.0"
dependencies = ["zenml==0.98.0", "Six_Thing>=1", "scipy"]

[project.optional-dependencies]
plots = ["matplotlib"]

[dependency-groups]
dev = ["pytest>=9.0", "zenlock"]
notebooks = ["jupyterlab", {include-group = "dev"}]
"""
# The template's pyproject.toml, as a render over the project writes it.
RENDERED = """\
[project]
name = "my-project"
version = "0.1.0"
dependencies = ["zenml==0.98.0"]

[dependency-groups]
dev = ["pytest>=9.0", "zenlock"]
"""


def lock_holding(*names: str) -> str:
    """A uv.lock whose project (the package at ".") was locked with `names`."""
    required = ", ".join(f'{{ name = "{name}" }}' for name in names)
    return (
        'version = 1\n\n[[package]]\nname = "scipy"\nversion = "1.0"\n'
        'source = { registry = "https://pypi.org/simple" }\n\n'
        '[[package]]\nname = "mine"\nversion = "0.1.0"\nsource = { editable = "." }\n\n'
        f"[package.metadata]\nrequires-dist = [{required}]\n"
    )


def git(folder, *args: str) -> None:
    subprocess.run(["git", *args], cwd=folder, check=True, capture_output=True)


@pytest.fixture
def project(tmp_path):
    """A project folder whose committed pyproject.toml is COMMITTED."""
    git(tmp_path, "init", "-q")
    (tmp_path / "pyproject.toml").write_text(COMMITTED)
    git(tmp_path, "add", "pyproject.toml")
    git(tmp_path, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", "c")
    return tmp_path


EVERY_LOST = ["jupyterlab", "matplotlib", "scipy", "six-thing"]
MOVED = COMMITTED.replace('"scipy", ', "").replace('"jupyterlab"', '"jupyterlab", "scipy"')


@pytest.mark.parametrize(
    ("working", "lock", "dropped"),
    [
        (RENDERED, None, EVERY_LOST),  # no lock yet: git's pyproject.toml alone remembers
        (RENDERED, ("zenml", "six-thing", "scipy", "matplotlib", "jupyterlab"), EVERY_LOST),
        (RENDERED, ("zenml", "scipy"), ["scipy"]),  # the others left the lock already
        (RENDERED, (), []),  # a lock made since (`integrations remove` relocks)
        (COMMITTED, None, []),
        (COMMITTED.replace('"scipy"', '"scipy>=1.13"'), None, []),  # a new pin drops nothing
        (MOVED, None, []),  # scipy in another group
        (COMMITTED.replace("Six_Thing", "six.thing"), None, []),  # the same name, normalized
        (RENDERED.replace('"zenml==', '"zenml[local]=='), None, EVERY_LOST),
        (RENDERED + "<<<<<<< before\n", None, []),  # a conflict: the sessions name it
    ],
)
def test_what_a_render_dropped(project, working, lock, dropped):
    (project / "pyproject.toml").write_text(working)
    if lock is not None:
        (project / "uv.lock").write_text(lock_holding(*lock))
    assert dropped_dependencies(project) == dropped


def test_the_refusal_names_them_and_the_fix(project):
    (project / "pyproject.toml").write_text(RENDERED)
    with pytest.raises(ZenlockError) as refused:
        refuse_dropped_dependencies(project)
    message = str(refused.value)
    assert "no longer lists jupyterlab, matplotlib, scipy, six-thing" in message
    assert "`git add pyproject.toml`" in message and "\n" not in message
    assert (project / "pyproject.toml").read_text() == RENDERED  # nothing was changed


def test_a_removal_staged_is_the_users_word(project):
    (project / "pyproject.toml").write_text(RENDERED)
    git(project, "add", "pyproject.toml")
    assert dropped_dependencies(project) == []
    refuse_dropped_dependencies(project)


def test_without_git_nothing_remembers(tmp_path):
    (tmp_path / "pyproject.toml").write_text(RENDERED)
    (tmp_path / "uv.lock").write_text(lock_holding("zenml", "scipy"))
    assert dropped_dependencies(tmp_path) == []


def test_a_pyproject_not_in_git_has_no_memory(tmp_path):
    git(tmp_path, "init", "-q")
    (tmp_path / "pyproject.toml").write_text(RENDERED)
    assert dropped_dependencies(tmp_path) == []


def test_a_project_in_a_subfolder_of_the_repository(project):
    sub = project / "ml"
    sub.mkdir()
    (sub / "pyproject.toml").write_text(COMMITTED)
    git(project, "add", "ml/pyproject.toml")
    (sub / "pyproject.toml").write_text(RENDERED)
    assert dropped_dependencies(sub) == EVERY_LOST
