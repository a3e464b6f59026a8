"""ZenML's own way in: `zenml init --template` renders zenlock (copier underneath), and the
project it renders runs its pipeline, as the guide's Quickstart shows."""

import re
import subprocess

import pytest
from conftest import project_env, run, template_repository

pytestmark = pytest.mark.slow


def test_zenml_init_with_the_template_renders_a_project_that_runs(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    uv_cache = subprocess.run(["uv", "cache", "dir"], capture_output=True, text=True).stdout
    env = {
        "HOME": str(home),
        "UV_CACHE_DIR": uv_cache.strip(),
        "XDG_CONFIG_HOME": "",
        "ZENML_CONFIG_PATH": str(tmp_path / "zenml-config"),
    }
    # ZenML with its templates extra (copier), in a tool environment of its own, as
    # `uvx --from "zenml[local,templates]" zenml init ...` would make it.
    tool = tmp_path / "zenml-tool"
    run("uv", "venv", "--quiet", "--python", "3.11", tool, cwd=tmp_path, **env)
    run("uv", "pip", "install", "--quiet", "--python", tool / "bin" / "python",
        "zenml[local,templates]==0.98.0", cwd=tmp_path, **env)  # fmt: skip
    # A clone, as a user's would be: the project gets zenlock from the template's repository
    # at the commit rendered (the working tree's, as every render of the suite).
    template = tmp_path / "zenlock"
    run("git", "clone", "--quiet", template_repository(), template, cwd=tmp_path)
    project = tmp_path / "my project"
    project.mkdir()
    # As the guide types it, in the new project's folder. The only question ZenML asks itself
    # (an e-mail, for its newsletter): Enter skips it.
    initialized = subprocess.run(
        [tool / "bin" / "zenml", "init", "--template", template, "--template-with-defaults"],
        cwd=project,
        env=project_env(**env),
        input="\n",
        capture_output=True,
        text=True,
    )
    said = initialized.stdout + initialized.stderr
    assert initialized.returncode == 0, said[-4000:]
    assert "ZenML repository initialized" in said
    answers = (project / ".copier-answers.yml").read_text()
    assert "_src_path:" in answers and "zenml_version: 0.98.0" in answers
    # ZenML's marker folder (its active stack and project ids, this machine's) stays out of git.
    assert (project / ".zen").is_dir()
    run("git", "init", "-q", cwd=project)
    assert run("git", "check-ignore", ".zen", cwd=project).stdout.strip() == ".zen"

    run("uvx", "nox", "-s", "dev", cwd=project, **env)
    output = run("uvx", "nox", "-s", "run", cwd=project, **env).stdout
    assert re.search(r"Pipeline run training-\S+: completed", output), output[-2000:]
