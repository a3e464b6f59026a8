"""A project rendered when the engine was vendored (envtools/, commit 369a58d of this repository)
moves to the package with `copier update`: the files go, the user's edits stay or are named, and
its images, its running server (data, credentials, port) and its stacks keep working."""

import copier
import pytest
import yaml
from conftest import (
    DOCKER_ANSWERS,
    REPO,
    SPACED_NAME,
    free_port,
    git_commit,
    nox,
    read_env_file,
    remove_servers,
    run,
    run_count,
)

# The last template version with envtools/ inside the project (no release tags exist yet).
LAST_VENDORED = "369a58d"

pytestmark = [pytest.mark.slow, pytest.mark.docker, pytest.mark.server]


def test_a_vendored_project_moves_to_the_package_and_keeps_its_server(tmp_path, docker_client):
    if run(
        "git", "cat-file", "-e", f"{LAST_VENDORED}^{{commit}}", cwd=REPO, check=False
    ).returncode:
        pytest.fail(f"this clone lacks commit {LAST_VENDORED}: clone with full history")
    project = tmp_path / SPACED_NAME
    copier.run_copy(
        str(REPO), project, data=DOCKER_ANSWERS, defaults=True, vcs_ref=LAST_VENDORED,
        quiet=True,
    )  # fmt: skip
    assert (project / "envtools" / "__main__.py").is_file()
    git_commit(project, "generated from the vendored template")
    nox("-s", "dev", cwd=project)
    nox("-s", "images", cwd=project)
    nox("-s", "server", cwd=project)
    port = free_port()
    try:
        nox("-s", "server", "--", "up", "--port", str(port), cwd=project)
        nox("-s", "run", cwd=project)
        credentials = (project / ".zenml-server" / "admin.env").read_text()
        record = yaml.safe_load((project / "configs" / "images.yaml").read_text())
        # The user's edits: one in their step, one in an engine file.
        step = project / "src" / "zenml_project" / "steps" / "training.py"
        step.write_text(step.read_text().replace("max_iter=1000", "max_iter=2000"))
        engine_file = project / "envtools" / "backups.py"
        engine_file.write_text(engine_file.read_text() + "\n# our own fix\n")
        run("git", "add", "-A", cwd=project)
        run("git", "-c", "user.name=T", "-c", "user.email=t@example.com", "commit", "-qm",
            "edits", cwd=project)  # fmt: skip

        # An editable engine: the project was rendered from this checkout, whose working tree
        # (uncommitted changes included) no commit of it holds for a git source to name.
        copier.run_update(
            project, defaults=True, overwrite=True, quiet=True, vcs_ref="HEAD",
            data={"zenlock_source": "path", "zenlock_path": str(REPO)},
        )  # fmt: skip

        assert not list(project.glob("envtools/*.py"))
        assert not (project / "src" / "zenml_project" / "containers.py").exists()
        assert "max_iter=2000" in step.read_text()
        conflicted = run("git", "grep", "-l", "^<<<<<<< ", cwd=project, check=False).stdout
        assert not conflicted, conflicted
        locked = nox("-s", "lock", "dev", cwd=project)
        said = locked.stdout + locked.stderr
        assert "envtools/backups.py, which held your own edits" in said
        assert "envtools/check.py" not in said  # unedited files go silently
        assert not (project / "envtools").exists()  # nor is Python's bytecode of them left
        # The server that ran before the move is the one the sessions use after it.
        assert f"127.0.0.1:{port}" in nox("-s", "server", "--", "status", cwd=project).stdout
        assert (project / ".zenml-server" / "admin.env").read_text() == credentials
        assert run_count(project) == 1
        nox("-s", "run", cwd=project)
        assert run_count(project) == 2
        assert read_env_file(project / ".zenml-server" / "client.env")["ZENML_STORE_URL"] == (
            f"http://127.0.0.1:{port}"
        )
        # The image record is read as it was written. The images are new: the template's
        # Dockerfile builds in layers now, and zenlock's install script is an input of the tag.
        nox("-s", "images", cwd=project)
        after = yaml.safe_load((project / "configs" / "images.yaml").read_text())
        sets = [[image["pipelines"] for image in r["pipelines"]["images"]] for r in (record, after)]
        assert sets[0] == sets[1]
        (image,) = after["pipelines"]["images"]
        assert docker_client.images.get(image["tag"]).id == image["activated"]["image_id"]
        nox("-s", "stacks", "--", "apply", cwd=project)
        # The update brought the release cooldown: the lock moved back what it locked in the
        # last seven days, so the server runs on a rebuilt image, its data kept.
        nox("-s", "server", cwd=project)
        nox("-s", "server", "--", "down", cwd=project)
        nox("-s", "server", "--", "up", "--port", str(port), cwd=project)
        assert run_count(project) == 2
        nox("-s", "check", cwd=project)
    finally:
        remove_servers(docker_client, project)
