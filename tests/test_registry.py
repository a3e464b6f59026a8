"""Push to a real registry (the CNCF distribution registry, htpasswd auth) and run by digest."""

import os
import shutil
import signal
import subprocess
import time
import urllib.error
import urllib.request

import pytest
import yaml
from conftest import DOCKER_ANSWERS, free_port, nox, remove_servers, render_project, run

pytestmark = [pytest.mark.docker, pytest.mark.server, pytest.mark.slow]

REGISTRY_BIN = shutil.which("docker-registry")
PASSWORD = "zenlock-registry-Passw0rd-only-in-docker-config"


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    """A registry on 127.0.0.1 that wants a login; its address and a Docker config folder."""
    if not REGISTRY_BIN or not shutil.which("htpasswd"):
        message = "needs Debian's docker-registry and apache2-utils (htpasswd)"
        if os.environ.get("CI"):
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    folder = tmp_path_factory.mktemp("registry")
    htpasswd = run("htpasswd", "-Bbn", "ci", PASSWORD, cwd=folder).stdout
    (folder / "htpasswd").write_text(htpasswd)
    port = free_port()
    config = {
        "version": 0.1,
        "storage": {"filesystem": {"rootdirectory": str(folder / "data")}},
        "http": {"addr": f"127.0.0.1:{port}"},
        "auth": {"htpasswd": {"realm": "zenlock", "path": str(folder / "htpasswd")}},
    }
    (folder / "config.yml").write_text(yaml.safe_dump(config))
    server = subprocess.Popen(
        [REGISTRY_BIN, "serve", str(folder / "config.yml")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    address = f"127.0.0.1:{port}"
    for _ in range(50):
        try:
            urllib.request.urlopen(f"http://{address}/v2/", timeout=1)
        except urllib.error.HTTPError:  # 401: up, and wants a login
            break
        except OSError:
            time.sleep(0.1)
    docker_config = folder / "docker-config"
    docker_config.mkdir()
    yield address, docker_config
    os.killpg(server.pid, signal.SIGTERM)
    server.wait(timeout=10)


def docker_login(address: str, docker_config, password: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["docker", "login", address, "--username", "ci", "--password-stdin"],
        input=password,
        env={**os.environ, "DOCKER_CONFIG": str(docker_config)},
        capture_output=True,
        text=True,
    )


def test_push_run_by_digest_and_push_again_for_nothing(registry, tmp_path, docker_client):
    address, docker_config = registry
    auth = {"DOCKER_CONFIG": str(docker_config)}
    project = render_project(
        tmp_path / "project", **DOCKER_ANSWERS, container_registry=f"{address}/team"
    )
    nox("-s", "dev", cwd=project)
    record_file = project / "configs" / "images.yaml"
    outputs = []
    try:
        # Not logged in: the registry refuses, the message says how, nothing is recorded.
        refused = nox("-s", "images", "--", "--push", cwd=project, check=False, **auth)
        said = refused.stdout + refused.stderr
        assert refused.returncode != 0
        assert "The registry refused" in said and f"docker login {address}" in said
        assert "Traceback" not in said
        assert not record_file.exists()
        assert docker_login(address, docker_config, "wrong-password").returncode != 0

        assert docker_login(address, docker_config, PASSWORD).returncode == 0
        pushed = nox("-s", "images", "--", "--push", cwd=project, **auth).stdout
        (image,) = yaml.safe_load(record_file.read_text())["pipelines"]["images"]
        digest = image["digest"]
        assert digest.startswith(f"{address}/team/zenml-project@sha256:")
        assert f"pushed as {digest}" in pushed
        again = nox("-s", "images", "--", "--push", cwd=project, **auth).stdout
        assert "already in the registry" in again
        server_pushed = nox("-s", "server", "--", "--push", cwd=project, **auth).stdout
        assert "@sha256:" in yaml.safe_load(record_file.read_text())["server"]["digest"]
        outputs += [pushed, again, server_pushed]

        (project / "configs" / "stacks" / "registry-docker.yaml").write_text(
            "stack_name: registry-docker\ncomponents:\n"
            "  orchestrator:\n    - {name: local-docker, flavor: local_docker, configuration: {}}\n"
            "  image_builder:\n    - {name: local-docker, flavor: local, configuration: {}}\n"
            "  artifact_store:\n    - {name: default, flavor: local, configuration: {}}\n"
            "  container_registry:\n"
            f"    - {{name: team, flavor: default, configuration: {{uri: '{address}/team'}}}}\n"
        )
        nox("-s", "server", "--", "up", "--port", str(free_port()), cwd=project, **auth)
        # The steps must pull their image from the registry: no copy is left here.
        docker_client.images.remove(docker_client.images.get(image["tag"]).id, force=True)
        ran = nox("-s", "run", "--", "--stack", "registry-docker", cwd=project, **auth).stdout
        outputs.append(ran)
        assert f"image {digest}" in ran and ": completed" in ran
        assert docker_client.images.get(digest)  # pulled by digest

        for text in [*outputs, record_file.read_text()]:
            assert PASSWORD not in text
    finally:
        remove_servers(docker_client, project)
        for reference in docker_client.images.list(filters={"reference": f"{address}/team/*"}):
            docker_client.images.remove(reference.id, force=True)
