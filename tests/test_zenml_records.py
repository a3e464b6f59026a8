"""What ZenML itself records of a project's runs, read back through its own server: the build
of our image (once for many runs), the packages a step ran with, stack files in the format of
`zenml stack import` and `zenml stack export`."""

import json
import re
import shutil

import pytest
import yaml
from conftest import (
    client_python,
    inspect_image,
    keep_serving,
    locked_pins,
    nox,
    run,
)
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

pytestmark = [pytest.mark.docker, pytest.mark.server, pytest.mark.slow]

IMAGE_SELECTION = ("--no-default-groups", "--group=pipeline-image", "--group=integration-sklearn")
RUNS = """
import json
from zenml.client import Client

client = Client()
found = []
for run in client.list_pipeline_runs(sort_by="asc:created", size=100).items:
    # The dashboard's view of a run: its packages come only when asked for.
    body = client.zen_store.get(
        f"/runs/{run.id}", params={"hydrate": True, "include_python_packages": True}
    )
    build = run.build
    found.append({
        "stack": run.stack.name,
        "status": run.status.value,
        "build": str(build.id) if build else None,
        "images": {k: v.model_dump() for k, v in build.images.items()} if build else {},
        "contains_code": build.contains_code if build else None,
        "python": build.python_version if build else None,
        "packages": body["metadata"]["orchestrator_environment"].get("python_packages"),
    })
print("RUNS " + json.dumps(found))
"""
# ZenML's warnings when a build does not match the run's settings.
MISMATCH = ("not the same as currently specified", "Unable to find a build")


def zenml(project, *args: str, check: bool = True):
    """The zenml CLI of .venv, on the project's server (`python -m zenlock exec`)."""
    python = project / ".venv" / "bin" / "python"
    zenml_cli = project / ".venv" / "bin" / "zenml"
    return run(python, "-m", "zenlock", "exec", zenml_cli, *args, cwd=project, check=check)


def pins_of(requirements: str, environment: dict) -> dict[str, str]:
    """The `name==version` pins of a requirements file that apply to `environment`."""
    pins = {}
    for line in requirements.splitlines():
        line = line.split(" \\")[0].strip()  # a pin's hashes follow on continuation lines
        if not line or line.startswith(("#", "--")):
            continue
        requirement = Requirement(line)
        if requirement.marker is None or requirement.marker.evaluate(environment):
            pins[canonicalize_name(requirement.name)] = next(iter(requirement.specifier)).version
    return pins


def runs(project) -> list[dict]:
    said = client_python(project, RUNS)
    return json.loads(said.split("RUNS ", 1)[1])


@pytest.fixture(scope="module")
def recorded(served_project, docker_client):
    """The served project (its server up) with two runs on its image, in iterate mode: the
    group's other modules run no step in Docker."""
    project = keep_serving(served_project, docker_client)[0]
    nox("-s", "images", cwd=project)
    outputs = [nox("-s", "run", "--", "--docker", cwd=project) for _ in range(2)]
    return project, outputs


def test_two_runs_on_our_image_carry_one_build_of_it(recorded, docker_client):
    project, outputs = recorded
    for output in outputs:
        said = output.stdout + output.stderr
        assert ": completed" in said
        assert not [warning for warning in MISMATCH if warning in said], said[-3000:]
    (image,) = yaml.safe_load((project / "configs" / "images.yaml").read_text())["pipelines"][
        "images"
    ]
    docker_runs = [found for found in runs(project) if found["stack"] == "local-docker"]
    assert len(docker_runs) == 2 and {found["status"] for found in docker_runs} == {"completed"}
    assert docker_runs[0]["build"] and docker_runs[0]["build"] == docker_runs[1]["build"]

    (item,) = docker_runs[0]["images"].values()
    assert item["image"] == image["tag"]
    assert item["contains_code"] is False and item["requires_code_download"] is True
    assert (project / "docker" / "pipeline.Dockerfile").read_text() in item["dockerfile"]
    environment = inspect_image(docker_client, image["tag"])["environment"]
    requirements = pins_of(item["requirements"], environment)
    assert requirements == locked_pins(project, environment, *IMAGE_SELECTION)
    assert docker_runs[0]["python"] == environment["python_full_version"]

    # ZenML's own CLI lists that build, once.
    listed = zenml(project, "pipeline", "builds", "list", "--output", "json").stdout
    assert listed.count(docker_runs[0]["build"]) == 1


def test_a_run_records_the_packages_of_its_image(recorded, docker_client):
    project, _ = recorded
    (image,) = yaml.safe_load((project / "configs" / "images.yaml").read_text())["pipelines"][
        "images"
    ]
    docker_run = [found for found in runs(project) if found["stack"] == "local-docker"][-1]
    assert docker_run["packages"], "the step recorded no packages"
    frozen = {}
    for line in docker_run["packages"].splitlines():
        name, version = line.split("==")
        frozen[canonicalize_name(name)] = version
    environment = inspect_image(docker_client, image["tag"])["environment"]
    locked = locked_pins(project, environment, *IMAGE_SELECTION)
    # `pip freeze` leaves out pip, setuptools, wheel and distribute, as in every ZenML image.
    left_out = {"pip", "setuptools", "wheel", "distribute"}
    assert frozen == {name: version for name, version in locked.items() if name not in left_out}
    assert nox("-s", "check", "--", "--only", "images", cwd=project).returncode == 0


def test_zenml_stack_import_takes_every_shipped_file_and_an_export_applies(recorded, tmp_path):
    project, _ = recorded
    stacks = project / "configs" / "stacks"
    # Each shipped file that this project's integrations can register, under a new name.
    shipped = stacks / "local-docker.yaml"
    copy = tmp_path / "imported.yaml"
    copy.write_text(shipped.read_text().replace("stack_name: local-docker", "stack_name: imported"))
    zenml(project, "stack", "import", str(copy))
    assert "imported" in zenml(project, "stack", "list").stdout

    # A file written by `zenml stack export`, dropped into configs/stacks/, applies and runs.
    exported = tmp_path / "exported.yaml"
    zenml(project, "stack", "export", "imported", str(exported))
    zenml(project, "stack", "delete", "imported", "--yes")
    shutil.copy(exported, stacks / "imported.yaml")
    applied = nox("-s", "stacks", "--", "apply", "imported", cwd=project).stdout
    assert "Stack imported: registered" in applied
    assert nox("-s", "check", "--", "--only", "stacks", cwd=project).returncode == 0
    ran = nox("-s", "run", "--", "--stack", "imported", cwd=project).stdout
    assert ": completed" in ran

    # A stack file of another ZenML release: `check` names the fix, `apply` still reads it.
    text = (stacks / "imported.yaml").read_text()
    (stacks / "imported.yaml").write_text(
        re.sub(r"(?m)^zenml_version:.*$", "zenml_version: 0.97.0", text)
    )
    drift = nox("-s", "check", "--", "--only", "stacks", cwd=project, check=False)
    assert drift.returncode == 1
    assert 'write zenml_version: "0.98.0" in configs/stacks/imported.yaml' in drift.stdout
    (stacks / "imported.yaml").unlink()
