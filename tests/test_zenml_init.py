"""ZenML's own way in: `zenml init --template` renders zenlock (copier underneath), and the
project it renders runs its pipeline, as the guide's Quickstart shows. Over an existing
project it writes the template's pyproject.toml (copier with overwrite): the next lock refuses
to drop what that took away."""

import re
import subprocess
import tomllib

import pytest
from conftest import git_commit, nox, project_env, render_project, run, template_repository

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def zenml_init(tmp_path_factory):
    """`zenml init --template CLONE --template-with-defaults` in a folder, as the guide types
    it: ZenML with its templates extra (copier) in a tool environment of its own, as
    `uvx --from "zenml[local,templates]" zenml init ...` would make it, and a clone of the
    template, as a user's would be (the working tree's commit, as every render of the suite)."""
    folder = tmp_path_factory.mktemp("zenml-init")
    home = folder / "home"
    home.mkdir()
    uv_cache = subprocess.run(["uv", "cache", "dir"], capture_output=True, text=True).stdout
    env = {
        "HOME": str(home),
        "UV_CACHE_DIR": uv_cache.strip(),
        "XDG_CONFIG_HOME": "",
        "ZENML_CONFIG_PATH": str(folder / "zenml-config"),
    }
    tool = folder / "zenml-tool"
    run("uv", "venv", "--quiet", "--python", "3.11", tool, cwd=folder, **env)
    run("uv", "pip", "install", "--quiet", "--python", tool / "bin" / "python",
        "zenml[local,templates]==0.98.0", cwd=folder, **env)  # fmt: skip
    template = folder / "zenlock"
    run("git", "clone", "--quiet", template_repository(), template, cwd=folder)

    def init(project) -> subprocess.CompletedProcess[str]:
        # The only question ZenML asks itself (an e-mail, for its newsletter): Enter skips it.
        return subprocess.run(
            [tool / "bin" / "zenml", "init", "--template", template, "--template-with-defaults"],
            cwd=project,
            env=project_env(**env),
            input="\n",
            capture_output=True,
            text=True,
        )

    init.env = env
    return init


def test_zenml_init_with_the_template_renders_a_project_that_runs(tmp_path, zenml_init):
    project = tmp_path / "my project"
    project.mkdir()
    initialized = zenml_init(project)  # in the new project's folder, as the guide says
    said = initialized.stdout + initialized.stderr
    assert initialized.returncode == 0, said[-4000:]
    assert "ZenML repository initialized" in said
    answers = (project / ".copier-answers.yml").read_text()
    assert "_src_path:" in answers and "zenml_version: 0.98.0" in answers
    # ZenML's marker folder (its active stack and project ids, this machine's) stays out of git.
    assert (project / ".zen").is_dir()
    run("git", "init", "-q", cwd=project)
    assert run("git", "check-ignore", ".zen", cwd=project).stdout.strip() == ".zen"

    run("uvx", "nox", "-s", "dev", cwd=project, **zenml_init.env)
    output = run("uvx", "nox", "-s", "run", cwd=project, **zenml_init.env).stdout
    assert re.search(r"Pipeline run training-\S+: completed", output), output[-2000:]


def locked_requirements(project) -> set[str]:
    """What uv.lock recorded as the project's own requirements (not what they pull in)."""
    lock = tomllib.loads((project / "uv.lock").read_text())
    (own,) = [package for package in lock["package"] if package["source"] == {"editable": "."}]
    return {requirement["name"] for requirement in own["metadata"]["requires-dist"]}


def test_zenml_init_over_a_project_loses_no_dependency_unsaid(tmp_path, zenml_init):
    """The user's project: a dependency of their own added, locked and committed. ZenML's
    init over it writes the template's pyproject.toml without it; the lock refuses to drop it,
    names it and the fix, and changes nothing; staging the removal is the user's word."""
    project = render_project(tmp_path / "project")
    pyproject = project / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text().replace("dependencies = [\n", 'dependencies = [\n    "six",\n', 1)
    )
    nox("-s", "lock", cwd=project)
    assert "six" in locked_requirements(project)
    git_commit(project, "mine")
    lock_before = (project / "uv.lock").read_bytes()

    initialized = zenml_init(project)
    assert initialized.returncode == 0, (initialized.stdout + initialized.stderr)[-4000:]
    assert '"six"' not in pyproject.read_text()  # copier wrote the template's over it

    refused = nox("-s", "lock", cwd=project, check=False)
    said = refused.stdout + refused.stderr
    assert refused.returncode != 0
    assert "error: pyproject.toml no longer lists six, which git's does" in said, said[-3000:]
    assert "Put them back in pyproject.toml, or `git add pyproject.toml`" in said
    assert (project / "uv.lock").read_bytes() == lock_before

    run("git", "add", "pyproject.toml", cwd=project)  # the user removed it on purpose
    nox("-s", "lock", cwd=project)
    assert "six" not in locked_requirements(project)
