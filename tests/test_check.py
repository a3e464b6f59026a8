"""`nox -s check`: every environment is read for real and compared with the lock."""

import json
import re

import pytest
import yaml
from conftest import (
    DOCKER_ANSWERS,
    SPACED_NAME,
    free_port,
    git_commit,
    nox,
    remove_servers,
    render_project,
    run,
)

pytestmark = pytest.mark.slow


def check(project, *args: str, **env: str):
    result = nox("-s", "check", "--", *args, cwd=project, check=False, **env)
    return result.returncode, result.stdout + result.stderr


def reports(project, *args: str) -> dict:
    result = nox("-s", "check", "--", "--json", *args, cwd=project, check=False)
    return json.loads(result.stdout[result.stdout.index("{") :])


def statuses(project, *args: str) -> dict[str, str]:
    return {r["environment"]: r["status"] for r in reports(project, *args)["environments"]}


@pytest.fixture(scope="module")
def built_project(tmp_path_factory, docker_client):
    """A project with its venv, pipeline image and server image built, and its server up."""
    project = render_project(tmp_path_factory.mktemp("check") / SPACED_NAME, **DOCKER_ANSWERS)
    nox("-s", "dev", cwd=project)
    git_commit(project, "rendered")
    nox("-s", "images", cwd=project)
    nox("-s", "server", cwd=project)
    nox("-s", "server", "--", "up", "--port", str(free_port()), cwd=project)
    yield project
    remove_servers(docker_client, project)


@pytest.mark.docker
@pytest.mark.server
def test_everything_built_passes(built_project):
    code, output = check(built_project)
    assert code == 0, output
    # .venv, the pipeline image, the server image, the running server, the local-docker stack
    assert "All 5 environments match uv.lock." in output
    assert set(statuses(built_project).values()) == {"ok"}
    assert "stack local-docker" in statuses(built_project)
    assert any(name.startswith("running server") for name in statuses(built_project))


@pytest.mark.docker
@pytest.mark.server
def test_venv_drift_is_named_with_its_fix_until_dev_runs(built_project):
    run("uv", "pip", "install", "--python", ".venv/bin/python", "six==1.16.0", cwd=built_project)
    code, output = check(built_project)
    assert code == 1
    locked = re.search(r"\.venv: six locked (\S+), found 1\.16\.0", output)
    assert locked and locked.group(1) != "1.16.0", output
    assert "drift  .venv -> fix: nox -s dev" in output

    as_json = reports(built_project)
    (venv,) = [r for r in as_json["environments"] if r["environment"] == ".venv"]
    assert venv["differences"] == [{"package": "six", "locked": locked.group(1), "found": "1.16.0"}]
    assert as_json["ok"] is False

    nox("-s", "dev", cwd=built_project)
    assert check(built_project)[0] == 0


@pytest.mark.docker
@pytest.mark.server
def test_image_built_from_another_lock_is_reported(built_project):
    pyproject = built_project / "pyproject.toml"
    original_pyproject, original_lock = (
        pyproject.read_text(),
        (built_project / "uv.lock").read_text(),
    )
    try:
        pyproject.write_text(
            original_pyproject.replace('"zenml==', '"joblib<1.5",\n    "zenml==', 1)
        )
        nox("-s", "lock", "images", cwd=built_project)
    finally:
        pyproject.write_text(original_pyproject)
        (built_project / "uv.lock").write_text(original_lock)
    code, output = check(built_project, "--only", "images")
    assert code == 1
    assert re.search(r"image \S+: joblib locked \S+, found 1\.4\.\d+", output), output
    assert "-> fix: nox -s images" in output
    nox("-s", "images", cwd=built_project)
    assert check(built_project, "--only", "images")[0] == 0


@pytest.mark.docker
@pytest.mark.server
def test_an_images_pylock_that_is_edited_or_missing_is_drift_until_images_runs(built_project):
    """configs/sbom/pylock.<image>.toml must be the lock's selection for that image."""
    record = yaml.safe_load((built_project / "configs" / "images.yaml").read_text())
    tag = record["pipelines"]["images"][0]["tag"]
    written = built_project / "configs" / "sbom" / f"pylock.{tag.replace(':', '-')}.toml"
    original = written.read_text()
    try:
        written.write_text(original.replace('version = "', 'version = "0', 1))
        code, output = check(built_project, "--only", "images")
        assert code == 1 and f"its configs/sbom/{written.name} is not the lock's" in output
        written.unlink()
        code, output = check(built_project, "--only", "images")
        assert code == 1 and f"its configs/sbom/{written.name} is missing" in output, output
        assert "-> fix: nox -s images" in output
        nox("-s", "images", cwd=built_project)
        assert written.read_text() == original
        assert check(built_project, "--only", "images")[0] == 0
    finally:
        written.write_text(original)


def test_stale_lock_is_reported_first_with_its_fix(fresh_project):
    project = fresh_project()
    nox("-s", "dev", cwd=project)
    pyproject = project / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('"zenml==', '"tqdm>=4",\n    "zenml==', 1))
    code, output = check(project, "--only", "venv")
    assert code == 1
    first_report = [line for line in output.splitlines() if line.strip().startswith("stale")]
    assert first_report and "uv.lock" in first_report[0] and "nox -s lock" in first_report[0]
    assert next(iter(statuses(project, "--only", "venv"))) == "uv.lock"


def test_missing_images_and_missing_docker_are_reported_not_crashes(fresh_project):
    project = fresh_project()
    nox("-s", "dev", cwd=project)
    # The module's own exit status (nox turns every failure into 1): 2 = nothing drifted,
    # something could not be checked.
    result = run(
        "uv",
        "run",
        "--no-sync",
        "python",
        "-m",
        "zenlock",
        "check",
        cwd=project,
        check=False,
        DOCKER_HOST="unix:///nonexistent/docker.sock",
    )
    code, output = result.returncode, result.stdout + result.stderr
    assert code == 2, output
    assert "2 could not be checked" in output
    assert re.search(r"ok  \.venv", output)
    assert re.search(r"unavailable  images \(No Docker daemon is reachable", output)
    assert re.search(r"unavailable  server \(No Docker daemon is reachable", output)


@pytest.mark.docker
def test_check_and_status_are_read_only_without_images_or_a_registry(fresh_project, docker_client):
    """Nothing built, parents that no registry here can serve: nothing is pulled or built."""
    unpullable = "registry.invalid/python:3.11-none"
    project = fresh_project(
        **{
            **DOCKER_ANSWERS,
            "pipeline_parent_image": unpullable,
            "server_parent_image": unpullable,
        },
        project_slug="read-only-check",  # its own image names: other workers build theirs
    )
    nox("-s", "dev", cwd=project)
    names = ("read-only-check", "read-only-check-server", unpullable.split(":")[0])

    def images() -> list[str]:
        return sorted(i.id for name in names for i in docker_client.images.list(name=name))

    images_before = images()

    code, output = check(project)
    status = nox("-s", "server", "--", "status", cwd=project).stdout
    up = nox("-s", "server", "--", "up", cwd=project, check=False)

    assert code == 1, output
    assert re.search(r"ok  \.venv", output)
    assert "missing  pipeline images (no image built yet) -> fix: nox -s images" in output
    assert "missing  server image (not built yet) -> fix: nox -s server" in output
    assert f"unknown: parent image {unpullable} is not on this machine" in status
    assert up.returncode != 0 and "run `nox -s server`" in up.stdout + up.stderr
    for said in (output, status, up.stdout + up.stderr):
        assert "Pulling" not in said and "could not be pulled" not in said
    assert images() == images_before
    assert not (project / "configs" / "images.yaml").exists()
