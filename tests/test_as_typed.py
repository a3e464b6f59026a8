"""The README's commands as a new user types them: `uvx nox -s ...` in a fresh render under a
path with a space and a non-ASCII character, with HOME an empty folder. Every session acts on
the project's .venv, and no ZenML state reaches ~/.config/zenml."""

import re
import subprocess

import pytest
from conftest import nox, render_project, run

pytestmark = pytest.mark.slow

# Like ZenML's own e2e template: the module reads the active stack when it is imported,
# before any fixture could isolate ZenML.
IMPORT_TIME_CLIENT = """
from zenml.client import Client

STACK = Client().active_stack_model.name


def test_the_stack_read_at_import_time_is_a_fresh_default_one():
    assert STACK == "default"
"""


@pytest.fixture(scope="module")
def typed(tmp_path_factory):
    """A fresh project under "my projé", and the environment of a shell with an empty HOME."""
    root = tmp_path_factory.mktemp("typed")
    home = root / "home"
    home.mkdir()
    project = render_project(root / "my projé")
    uv_cache = subprocess.run(["uv", "cache", "dir"], capture_output=True, text=True).stdout
    # The uv cache stays where it is: an empty one would only download the same wheels again.
    env = {"HOME": str(home), "UV_CACHE_DIR": uv_cache.strip(), "XDG_CONFIG_HOME": ""}
    return project, home, env


def uvx_nox(typed, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    project, _, env = typed
    return run("uvx", "nox", *args, cwd=project, check=check, **env)


def test_dev_creates_the_project_venv(typed):
    project, _, _ = typed
    uvx_nox(typed, "-s", "dev")
    assert (project / ".venv" / "bin" / "python").is_file()
    assert (project / "uv.lock").is_file()
    assert not (project / ".nox" / "_nox_script_mode").exists()


def test_run_uses_the_venv_and_the_projects_zenml_state(typed):
    project, _, _ = typed
    output = uvx_nox(typed, "-s", "run").stdout
    assert re.search(r"Pipeline run training-\S+: completed", output), output[-2000:]
    assert (project / ".zenml" / "local_stores").is_dir()


def test_tests_run_on_a_throwaway_store_even_at_import_time(typed):
    project, _, _ = typed
    (project / "tests" / "test_import_time.py").write_text(IMPORT_TIME_CLIENT)
    runs_before = sorted((project / ".zenml" / "local_stores").iterdir())
    result = uvx_nox(typed, "-s", "tests")
    assert re.search(r"\b4 passed\b", result.stdout), result.stdout[-2000:]
    assert sorted((project / ".zenml" / "local_stores").iterdir()) == runs_before


def test_check_reads_the_venv_an_ide_uses(typed):
    project, _, env = typed
    assert "ok  .venv" in uvx_nox(typed, "-s", "check", "--", "--only", "venv").stdout
    python = project / ".venv" / "bin" / "python"
    run("uv", "pip", "install", "--python", python, "termcolor==2.5.0", cwd=project, **env)

    drift = uvx_nox(typed, "-s", "check", "--", "--only", "venv", check=False)

    assert drift.returncode != 0
    assert ".venv: termcolor locked -, found 2.5.0" in drift.stdout
    assert "to keep termcolor: add it to pyproject.toml, then nox -s lock dev" in drift.stdout
    # The README's other forms act on the same .venv: `uv run nox` and a plain `nox`.
    run("uv", "run", "nox", "-s", "dev", cwd=project, **env)
    assert nox("-s", "check", "--", "--only", "venv", cwd=project, **env).returncode == 0


def test_no_zenml_state_reached_home(typed):
    _, home, _ = typed
    assert not (home / ".config" / "zenml").exists()
    assert [path for path in home.rglob("*") if "zenml" in path.name.lower()] == []
