"""deploy/compose.yaml, run as its header says, with docker-compose: weak secrets in deploy/.env
start nothing; the server image on a MariaDB image, every secret from the git-ignored
deploy/.env (the database password with URL-reserved characters), a run against it, and `down`
keeping the data. The file runs unchanged: only deploy/.env differs (the server's port here)."""

import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request

import pytest
import yaml
from conftest import (
    DOCKER_ANSWERS,
    SPACED_NAME,
    admin_login,
    free_port,
    nox,
    project_env,
    render_project,
    run_count,
    unavailable,
)

pytestmark = [pytest.mark.docker, pytest.mark.server, pytest.mark.slow]

COMPOSE = shutil.which("docker-compose")
# Nothing can be pulled here: .ci/mariadb-image builds one (MariaDB 10.11, the MYSQL_* contract).
DATABASE_IMAGE = os.environ.get("ZENLOCK_DATABASE_IMAGE")


def fill_env_file(deploy, values: dict[str, str]) -> None:
    """deploy/.env from the example, as its header says: each empty value filled in."""
    lines = []
    for line in (deploy / ".env.example").read_text().splitlines():
        key = line.split("=", 1)[0]
        lines.append(f"{key}={values[key]}" if "=" in line and key in values else line)
    (deploy / ".env").write_text("\n".join(lines) + "\n")
    (deploy / ".env").chmod(0o600)


def wait_for(url: str, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2):
                return
        except Exception:  # not up yet: refused, reset, or the port not yet HTTP
            time.sleep(1)
    pytest.fail(f"no server at {url} within {timeout:.0f} s")


def test_the_compose_file_runs_the_server_on_mariadb_and_down_keeps_the_data(
    tmp_path, docker_client
):
    if not COMPOSE or not DATABASE_IMAGE:
        unavailable("needs docker-compose and ZENLOCK_DATABASE_IMAGE (see .ci/provision)")
    project = render_project(tmp_path / SPACED_NAME, **DOCKER_ANSWERS)
    nox("-s", "dev", cwd=project)
    nox("-s", "server", cwd=project)
    server_image = yaml.safe_load((project / "configs" / "images.yaml").read_text())["server"]
    deploy, port, name = project / "deploy", free_port(), f"zenlock-{secrets.token_hex(4)}"
    url = f"http://127.0.0.1:{port}"
    password, root_password = secrets.token_urlsafe(18), secrets.token_urlsafe(18)
    # Characters a URL reserves: the server reads the password apart from its store URL.
    database_password = secrets.token_urlsafe(12) + "@/:?#%[]"
    settings = {
        "COMPOSE_PROJECT_NAME": name,
        "ZENML_SERVER_IMAGE": server_image["tag"],
        "DATABASE_IMAGE": DATABASE_IMAGE,
        "MYSQL_PASSWORD": database_password,
        "MYSQL_ROOT_PASSWORD": root_password,
        "ZENML_DEFAULT_USER_PASSWORD": password,
        "ZENML_SERVER_JWT_SECRET_KEY": secrets.token_hex(32),
        "ZENML_SECRETS_STORE_ENCRYPTION_KEY": secrets.token_hex(32),
        "ZENML_SERVER_CORS_ALLOW_ORIGINS": url,
        "ZENML_SERVER_PORT": str(port),
    }
    files = ["--file", "deploy/compose.yaml"]  # as the file's header says

    def compose(*args: str, check: bool = True) -> subprocess.CompletedProcess:
        done = subprocess.run(
            [COMPOSE, *files, *args], cwd=project, env=project_env(), capture_output=True, text=True
        )
        assert done.returncode == 0 or not check, done.stdout + done.stderr
        return done

    def ours() -> list:
        label = f"com.docker.compose.project={name}"
        return docker_client.containers.list(all=True, filters={"label": label})

    try:
        # Weak secrets, as `up` would refuse them: nothing starts, and the check says which.
        weak = {"ZENML_DEFAULT_USER_PASSWORD": "admin", "ZENML_SERVER_JWT_SECRET_KEY": "x"}
        fill_env_file(deploy, {**settings, **weak, "MYSQL_PASSWORD": "short"})
        refused = compose("up", "-d", check=False)
        assert refused.returncode != 0, refused.stdout + refused.stderr
        said = compose("logs", "check").stdout
        for why in ("ZENML_DEFAULT_USER_PASSWORD is empty or a default one",
                    "ZENML_SERVER_JWT_SECRET_KEY is shorter than 32 characters",
                    "MYSQL_PASSWORD is shorter than 12 characters"):  # fmt: skip
            assert why in said, said
        assert "ZENML_SECRETS_STORE_ENCRYPTION_KEY" not in said  # a strong one is not named
        started = {c.labels["com.docker.compose.service"] for c in ours() if c.status != "created"}
        assert started == {"check"}, started  # neither the database nor the server ran
        with socket.socket() as probe:  # nothing listens where the server would
            assert probe.connect_ex(("127.0.0.1", port)) != 0
        compose("down", "--volumes")

        fill_env_file(deploy, settings)
        compose("up", "-d")
        wait_for(url)
        zenml = next(c for c in ours() if c.labels["com.docker.compose.service"] == "zenml")
        environment = "\n".join(zenml.attrs["Config"]["Env"])
        assert root_password not in environment  # each service gets only what it needs
        with urllib.request.urlopen(f"{url}/api/v1/info") as response:
            assert yaml.safe_load(response)["database_type"] == "mysql"
        assert admin_login(url, "admin", password) == 200

        # The project's sessions on this server: the admin's password once, then its own key.
        def connect(typed: str) -> subprocess.CompletedProcess:
            return subprocess.run(
                [sys.executable, "-m", "nox", "-s", "server", "--", "connect", url],
                cwd=project, env=project_env(), input=typed + "\n", capture_output=True, text=True
            )  # fmt: skip

        refused = connect("not-the-password")
        assert (
            refused.returncode != 0
            and "refused admin's password" in refused.stdout + refused.stderr
        )
        assert not (project / ".zenml-server" / "client.env").exists()
        connected = connect(password)
        assert connected.returncode == 0, connected.stdout + connected.stderr
        assert password not in (project / ".zenml-server" / "client.env").read_text()
        # Where the sessions go, said by status; `down` of the own (absent) server keeps it.
        status = nox("-s", "server", "--", "status", cwd=project).stdout
        assert f"Client:     uses the server at {url} (`connect`)" in status, status
        down = nox("-s", "server", "--", "down", cwd=project).stdout
        assert f"use the server at {url}" in down
        assert (project / ".zenml-server" / "client.env").is_file()
        ran = nox("-s", "run", cwd=project).stdout
        assert ": completed" in ran and url in ran
        assert run_count(project) == 1

        compose("down")  # the volumes stay
        assert ours() == []
        compose("up", "-d")
        wait_for(url)
        assert run_count(project) == 1  # the same database, and the project's key still works
    finally:
        label = {"label": f"com.docker.compose.project={name}"}
        for container in ours():
            container.remove(force=True)
        for volume in docker_client.volumes.list(filters=label):
            volume.remove(force=True)
        for network in docker_client.networks.list(filters=label):
            network.remove()
