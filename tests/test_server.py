"""The server image: exactly the lock's server set, secure by default, one lock with the client."""

import re
import socket
import stat
import urllib.error
import urllib.request

import pytest
from conftest import (
    DOCKER_ANSWERS,
    SPACED_NAME,
    free_port,
    git_commit,
    inspect_image,
    locked_pins,
    nox,
    read_env_file,
    remove_servers,
    render_project,
    run,
    server_containers,
)
from packaging.utils import canonicalize_name

pytestmark = [pytest.mark.docker, pytest.mark.server, pytest.mark.slow]

ANSWERS = {**DOCKER_ANSWERS, "server_plugins": ["secrets-aws"], "with_server_plugin": True}
LAST_RUN = """
from zenml.client import Client
run = Client().get_pipeline("training").last_run
print(run.id, run.status.value, run.stack.name)
"""


def last_run(project) -> list[str]:
    """The newest training run, read through the server with the project's API key."""
    script = project / "build" / "last_run.py"  # ZenML wants a main module with a file
    script.parent.mkdir(exist_ok=True)
    script.write_text(LAST_RUN)
    env = read_env_file(project / ".zenml-server" / "client.env")
    return run(project / ".venv" / "bin" / "python", script, cwd=project, **env).stdout.split()[-3:]


@pytest.fixture(scope="module")
def server_project(tmp_path_factory, docker_client):
    project = render_project(tmp_path_factory.mktemp("server") / SPACED_NAME, **ANSWERS)
    nox("-s", "dev", cwd=project)
    git_commit(project, "rendered")
    result = nox("-s", "server", cwd=project)
    (tag,) = re.findall(
        r"^  (\S+:server-[0-9a-f]{16})  \d+ MB  (?:built|up to date)$", result.stdout, re.M
    )
    port = free_port()
    yield project, tag, port
    remove_servers(docker_client, project)


def test_server_image_holds_exactly_the_locked_server_group(server_project, docker_client):
    project, tag, _ = server_project
    found = inspect_image(docker_client, tag)
    installed = {canonicalize_name(name): version for name, version in found["installed"].items()}
    expected = locked_pins(
        project,
        found["environment"],
        "--only-group=server",
        "--no-emit-package=zenml-project-plugins",
    )
    assert installed == {**expected, "zenml-project-plugins": "0.1.0"}
    assert "boto3" in installed  # secrets-aws
    assert found["uid"] == 10001


def test_up_refuses_a_port_in_use(server_project, docker_client):
    project, _, _ = server_project
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy = taken.getsockname()[1]
        refused = nox("-s", "server", "--", "up", "--port", str(busy), cwd=project, check=False)
    assert refused.returncode != 0
    assert f"Port {busy} on 127.0.0.1 is in use" in refused.stdout + refused.stderr
    assert not (project / ".zenml-server" / "client.env").exists()


def test_up_without_an_image_says_how_to_build_it(tmp_path, docker_client):
    project = render_project(tmp_path / "project", **ANSWERS)
    nox("-s", "dev", cwd=project)
    plugin = next((project / "plugins" / "src").glob("*/artifact_store.py"))
    plugin.write_text(plugin.read_text() + f"\n# not built yet: {tmp_path.name}\n")
    try:
        refused = nox(
            "-s", "server", "--", "up", "--port", str(free_port()), cwd=project, check=False
        )
    finally:
        remove_servers(docker_client, project)
    assert refused.returncode != 0
    assert "No server image for the current lock" in refused.stderr + refused.stdout
    assert "run `nox -s server`" in refused.stderr + refused.stdout


def test_up_is_secure_healthy_and_runs_a_pipeline_for_the_client(server_project, docker_client):
    project, _, port = server_project
    nox("-s", "server", "--", "up", "--port", str(port), cwd=project)
    url = f"http://127.0.0.1:{port}"

    admin = project / ".zenml-server" / "admin.env"
    assert stat.S_IMODE(admin.stat().st_mode) == 0o600
    password = re.search(r"ZENML_DEFAULT_USER_PASSWORD=(\S+)", admin.read_text()).group(1)
    assert len(password) >= 24
    with pytest.raises(urllib.error.HTTPError) as unauthenticated:
        urllib.request.urlopen(f"{url}/api/v1/current-user")
    assert unauthenticated.value.code == 401
    with urllib.request.urlopen(url) as dashboard:
        assert b"<html" in dashboard.read().lower()

    (container,) = server_containers(docker_client, project)
    imported = container.exec_run(["python", "-c", "import zenml_project_plugins"])
    assert imported.exit_code == 0, imported.output
    server_says = container.exec_run(["zenml", "version"]).output.decode()
    client = run(project / ".venv" / "bin" / "zenml", "version", cwd=project)
    server_version = re.search(r"version: (\S+)", server_says).group(1)
    client_version = re.search(r"version: (\S+)", client.stdout + client.stderr).group(1)
    assert server_version == client_version == "0.98.0"

    nox("-s", "run", cwd=project)
    _, status, stack = last_run(project)
    assert (status, stack) == ("completed", "default")


def test_full_chain_pipeline_image_against_the_server_image(server_project):
    project, _, _ = server_project
    nox("-s", "images", cwd=project)
    output = nox("-s", "run", "--", "--docker", cwd=project).stdout
    assert "iterate mode" in output
    _, status, stack = last_run(project)
    assert (status, stack) == ("completed", "local-docker")


def test_down_and_up_keep_the_runs_and_the_api_key(server_project):
    project, _, port = server_project
    before = last_run(project)
    api_key = (project / ".zenml-server" / "api-key").read_text()

    nox("-s", "server", "--", "down", cwd=project)
    assert not (project / ".zenml-server" / "client.env").exists()
    nox("-s", "server", "--", "up", "--port", str(port), cwd=project)

    assert (project / ".zenml-server" / "api-key").read_text() == api_key
    assert last_run(project) == before
    status = nox("-s", "server", "--", "status", cwd=project).stdout
    assert "ZenML 0.98.0" in status and "connected with an API key" in status


def test_logs_show_the_server_and_no_secret(server_project):
    project, _, _ = server_project
    logs = nox("-s", "server", "--", "logs", cwd=project).stdout
    assert "Application startup complete" in logs
    state = project / ".zenml-server"
    secrets = [
        *re.findall(r"(?:PASSWORD|SECRET_KEY)=(\S+)", (state / "admin.env").read_text()),
        *re.findall(r"API_KEY=(\S+)", (state / "api-key").read_text()),
    ]
    assert len(secrets) == 3
    for secret in secrets:
        assert secret not in logs
