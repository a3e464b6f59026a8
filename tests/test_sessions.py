"""Generated sessions keep .venv on the lock: no-op when unchanged, refuse a stale lock."""

import re
import shutil
import sys
from pathlib import Path

import pytest
from conftest import REPO, nox, run

pytestmark = pytest.mark.slow


def site_packages_snapshot(project: Path) -> dict[str, int]:
    (site_packages,) = (project / ".venv" / "lib").glob("python*/site-packages")
    return {entry.name: entry.stat().st_mtime_ns for entry in site_packages.iterdir()}


def test_second_dev_run_changes_nothing(fresh_project):
    project = fresh_project()
    nox("-s", "dev", cwd=project)
    lock_before = (project / "uv.lock").read_text()
    venv_before = site_packages_snapshot(project)

    second = nox("-s", "dev", cwd=project)

    assert (project / "uv.lock").read_text() == lock_before
    assert site_packages_snapshot(project) == venv_before
    assert not re.search(r"(Installed|Uninstalled) \d+ package", second.stderr + second.stdout)


def test_stale_lock_is_refused_with_the_fix_and_changes_nothing(fresh_project):
    project = fresh_project()
    nox("-s", "dev", cwd=project)
    pyproject = project / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text().replace('    "zenml==', '    "tqdm>=4",\n    "zenml==', 1)
    )
    venv_before = site_packages_snapshot(project)

    refused = nox("-s", "run", cwd=project, check=False)

    assert refused.returncode != 0
    assert "needs to be updated" in refused.stderr + refused.stdout
    assert "uv lock" in refused.stderr + refused.stdout
    assert site_packages_snapshot(project) == venv_before

    nox("-s", "lock", "dev", cwd=project)
    run(project / ".venv" / "bin" / "python", "-c", "import tqdm", cwd=project)


def test_a_session_before_the_first_lock_names_the_fix_and_changes_nothing(fresh_project):
    project = fresh_project()
    nox("-l", cwd=project)  # nox's own trace (noxfile's __pycache__) is not a change of ours
    before = sorted(path.name for path in project.iterdir())

    for session in ("run", "images", "server", "integrations", "tests", "lint"):
        refused = nox("-s", session, cwd=project, check=False)

        said = (refused.stdout + refused.stderr).splitlines()
        assert refused.returncode != 0, session
        assert any("No uv.lock yet: run `nox -s dev` first" in line for line in said), said
        assert "Traceback" not in refused.stderr
        assert sorted(path.name for path in project.iterdir()) == before, session


def test_demo_renders_and_runs_the_training_pipeline(tmp_path):
    target = tmp_path / "demo"
    # The README's command (after its `pip install uv`), into a folder of this test's own.
    result = run(sys.executable, "-m", "uv", "run", "nox", "-s", "demo", "--", target, cwd=REPO)
    output = result.stdout + result.stderr
    assert re.search(r"Pipeline run training-\S+: completed", output), output[-3000:]
    accuracy = float(re.search(r"evaluate_model logged test_accuracy = ([0-9.]+)", output).group(1))
    assert 0.9 <= accuracy <= 1.0
    assert (target / ".zenml" / "local_stores").is_dir()


def test_lint_fix_formats_even_when_errors_remain(fresh_project):
    project = fresh_project()
    nox("-s", "dev", cwd=project)
    module = project / "src" / "zenml_project" / "messy.py"
    module.write_text("import os\nx  =  [1,2]\ndef f():\n    return undefined_name\n")

    fixed = nox("-s", "lint", "--", "--fix", cwd=project, check=False)

    assert fixed.returncode != 0
    assert "undefined_name" in fixed.stdout + fixed.stderr  # F821: reported, not fixable
    assert module.read_text() == "x = [1, 2]\n\n\ndef f():\n    return undefined_name\n"


def test_conflict_markers_in_pyproject_are_named_not_a_traceback(fresh_project):
    project = fresh_project()
    pyproject = project / "pyproject.toml"
    pyproject.write_text(
        "<<<<<<< before updating\n=======\n>>>>>>> after updating\n" + pyproject.read_text()
    )

    refused = nox("-s", "lock", cwd=project, check=False)

    said = refused.stdout + refused.stderr
    assert "pyproject.toml is not valid TOML" in said and "resolve any merge conflict" in said
    assert "Traceback" not in said
    assert not (project / "uv.lock").exists()


@pytest.mark.parametrize(
    "owned",
    [
        "docker/pipeline.Dockerfile",
        "docker/server.Dockerfile",
        "deploy/compose.yaml",
        "configs/stacks/local-docker.yaml",
    ],
)
def test_check_names_a_template_file_a_merge_left_conflicted(synced_project, owned, tmp_path):
    path = synced_project / owned
    original = path.read_text()
    marker = "<" * 7 + " before\n" + "=" * 7 + "\n" + ">" * 7 + " after\n"
    try:
        path.write_text(marker + original)
        refused = nox("-s", "check", "--", "--only", "venv", cwd=synced_project, check=False)
    finally:
        path.write_text(original)
    said = refused.stdout + refused.stderr
    assert refused.returncode != 0 and "Traceback" not in said
    assert owned in said and ("merge conflict" in said or "conflict (<<<<<<<)" in said)


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            '"zenml[server]"',
            '"zenml[server,secrets-nope]"',
            "does not have an extra named `secrets-nope`",
        ),
        ('path = "plugins"', 'path = "plugins-missing"', "plugins-missing"),
    ],
    ids=["unknown-extra", "missing-plugin"],
)
def test_lock_refuses_unknown_server_extras_and_plugins(fresh_project, old, new, message):
    project = fresh_project(with_server_plugin=True)
    pyproject = project / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace(old, new))
    refused = nox("-s", "lock", cwd=project, check=False)
    assert refused.returncode != 0
    assert message in refused.stdout + refused.stderr
    assert not (project / "uv.lock").exists()


def test_a_client_env_without_a_project_id_is_refused_in_one_line(synced_project):
    """A .zenml-server/client.env copied in by hand (no `up` or `connect` made the project's
    id): the sessions say how to connect, not a traceback, and guess no artifact folder."""
    state = synced_project / ".zenml-server"
    assert not (state / "project-id").exists()
    made = not state.exists()
    state.mkdir(exist_ok=True)
    (state / "client.env").write_text("ZENML_STORE_URL=http://127.0.0.1:9\nZENML_STORE_API_KEY=x\n")
    try:
        python = synced_project / ".venv" / "bin" / "python"
        said = run(python, "-m", "zenlock", "exec", python, "-c", "pass", cwd=synced_project,
                   check=False)  # fmt: skip
    finally:
        (state / "client.env").unlink()
        if made:
            shutil.rmtree(state)
    output = said.stdout + said.stderr
    assert said.returncode != 0 and "Traceback" not in output
    assert "has no project id: run `nox -s server -- connect URL`" in output
