"""Secrets, logins and what the server shows: encrypted at rest, rate-limited, private,
silent, its own origin only, no forwarded identity, images that cannot rewrite themselves."""

import base64
import contextlib
import io
import json
import re
import secrets
import shutil
import sqlite3
import stat
import subprocess
import tarfile
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from conftest import (
    admin_login,
    client_python,
    newest_artifact_archive,
    nox,
    project_env,
    read_env_file,
    read_secret,
    server_containers,
)

pytestmark = [pytest.mark.docker, pytest.mark.server, pytest.mark.slow]


def stored_values(project, tmp_path, name: str) -> str:
    """The `values` column of secret `name`, read from a copy of the server's database."""
    copy = tmp_path / f"copy-{secrets.token_hex(4)}.db"
    nox("-s", "server", "--", "backup", str(copy), cwd=project)
    with contextlib.closing(sqlite3.connect(copy)) as database:
        row = database.execute('SELECT "values" FROM secret WHERE name = ?', (name,)).fetchone()
    return row[0]


def readable_without_key(stored: str, plaintext: str) -> bool:
    """Whether the stored column gives the value away without the key (base64 JSON)."""
    try:
        decoded = base64.b64decode(stored, validate=True).decode()
    except ValueError:
        return plaintext in stored
    return plaintext in decoded or plaintext in stored


def test_secrets_are_encrypted_in_the_database_and_read_back_through_the_api(served, tmp_path):
    project, _, _ = served
    value = "zk-" + secrets.token_hex(8)
    client_python(
        project,
        "from zenml.client import Client\n"
        f"Client().create_secret('vault', values={{'password': {value!r}}})\n",
    )
    stored = stored_values(project, tmp_path, "vault")
    assert stored and not readable_without_key(stored, value)
    assert value in read_secret(project, "vault")


# Puts a secret's values back the way a server without a secrets-store type kept them:
# base64 JSON, by ZenML's own schema (the state of servers made before the fix).
PLANT_PLAIN = """
import os
from sqlalchemy import create_engine
from sqlmodel import Session, select
from zenml.zen_stores.schemas.secret_schemas import SecretSchema

engine = create_engine(os.environ["ZENML_STORE_URL"])
with Session(engine) as session:
    secret = session.exec(select(SecretSchema).where(SecretSchema.name == "legacy")).one()
    secret.set_secret_values({"password": os.environ["VALUE"]}, encryption_engine=None)
    session.add(secret)
    session.commit()
"""


def test_secrets_stored_unencrypted_are_encrypted_on_the_next_up(served, tmp_path, docker_client):
    project, _, port = served
    value = "zk-" + secrets.token_hex(8)
    client_python(
        project,
        "from zenml.client import Client\n"
        "Client().create_secret('legacy', values={'password': 'placeholder'})\n",
    )
    (server,) = server_containers(docker_client, project)
    image = server.image.id
    (volume,) = [mount["Name"] for mount in server.attrs["Mounts"] if mount["Type"] == "volume"]
    nox("-s", "server", "--", "down", cwd=project)
    docker_client.containers.run(
        image, ["python", "-c", PLANT_PLAIN], entrypoint=[], remove=True, network_mode="host",
        environment={"VALUE": value, "ZENML_ANALYTICS_OPT_IN": "false"},
        volumes={volume: {"bind": "/zenml", "mode": "rw"}},
    )  # fmt: skip
    assert readable_without_key(stored_values(project, tmp_path, "legacy"), value)

    started = nox("-s", "server", "--", "up", "--port", str(port), cwd=project).stdout
    assert "1 secret(s) stored unencrypted (legacy) are now encrypted" in started
    backup = Path(started.split("the backup before: ", 1)[1].split(".db", 1)[0] + ".db")
    assert backup.is_file() and stat.S_IMODE(backup.stat().st_mode) == 0o600
    assert not readable_without_key(stored_values(project, tmp_path, "legacy"), value)
    assert value in read_secret(project, "legacy")
    again = (
        nox("-s", "server", "--", "down", cwd=project).stdout
        + nox("-s", "server", "--", "up", "--port", str(port), cwd=project).stdout
    )
    assert "unencrypted" not in again  # once


def test_logins_are_rate_limited_and_the_api_key_client_keeps_working(served):
    project, url, port = served
    client_python(project, "from zenml.client import Client\nClient().list_stacks()\n")
    codes = [admin_login(url, "admin", f"wrong-{attempt}") for attempt in range(10)]
    assert codes[0] == 401 and 429 in codes, codes
    assert codes.index(429) <= 6  # ZenML's limit set by `up`: 5 a minute
    # The project's client holds a token from its API key: it is not locked out.
    assert "stacks" in client_python(
        project, "from zenml.client import Client\nprint(len(Client().list_stacks()), 'stacks')\n"
    )
    # The limiter lives in the server's memory: a restart frees the admin for the next tests.
    nox("-s", "server", "--", "down", cwd=project)
    nox("-s", "server", "--", "up", "--port", str(port), cwd=project)


def test_server_is_private_and_silent(served):
    project, url, _ = served
    assert stat.S_IMODE((project / ".zenml").stat().st_mode) == 0o700
    client_config = project / ".zenml-server" / "client"
    assert stat.S_IMODE(client_config.stat().st_mode) == 0o700
    for path in client_config.glob("*.yaml"):  # the client's credentials.yaml among them
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    analytics = client_python(
        project, "from zenml.config.global_config import GlobalConfiguration as G\n"
        "print('analytics', G().analytics_opt_in)\n"
    )  # fmt: skip
    assert "analytics False" in analytics
    with urllib.request.urlopen(f"{url}/api/v1/info") as response:
        assert b'"analytics_enabled":false' in response.read().replace(b" ", b"")
    status = nox("-s", "server", "--", "status", cwd=project).stdout
    assert re.search(r"Analytics:\s+off", status)


def test_cors_allows_the_servers_own_origin_only(served):
    _, url, _ = served

    def preflight(origin: str) -> str | None:
        request = urllib.request.Request(
            f"{url}/api/v1/current-user",
            method="OPTIONS",
            headers={"Origin": origin, "Access-Control-Request-Method": "GET"},
        )
        try:
            with urllib.request.urlopen(request) as response:
                return response.headers.get("Access-Control-Allow-Origin")
        except urllib.error.HTTPError as error:
            return error.headers.get("Access-Control-Allow-Origin")

    assert preflight("http://evil.example") is None
    assert preflight(url) == url


def test_forwarded_headers_from_a_client_are_not_believed(served, docker_client):
    project, url, _ = served
    spoofed = "203.0.113.77"
    request = urllib.request.Request(f"{url}/api/v1/info", headers={"X-Forwarded-For": spoofed})
    with urllib.request.urlopen(request):
        pass
    (container,) = server_containers(docker_client, project)
    assert container.attrs["HostConfig"]["RestartPolicy"]["Name"] == "unless-stopped"
    logs = container.logs().decode(errors="replace")
    assert "GET /api/v1/info" in logs
    assert spoofed not in logs


def test_images_cannot_rewrite_themselves(served, docker_client):
    project, _, _ = served
    release = nox("-s", "images", "--", "--release", cwd=project).stdout
    (tag,) = re.findall(r"^  (\S+:release-[0-9a-f]{16})  \d+ MB", release, re.M)
    (server,) = server_containers(docker_client, project)
    for image, writable in [(tag, "/app /opt/venv"), (server.image.id, "/opt/venv")]:
        found = docker_client.containers.run(
            image,
            [
                "sh",
                "-c",
                f"find {writable} -mindepth 1 -not -type l "
                "\\( -perm -o+w -o -user 10001 \\) -print",
            ],
            remove=True,
            network_mode="host",
            user="root",
            entrypoint=[],
        ).decode()
        assert found.strip() == "", found[:2000]


def test_a_new_key_revokes_the_old_one(served):
    project, url, port = served
    key_file = project / ".zenml-server" / "api-key"
    old = read_env_file(key_file)["ZENML_STORE_API_KEY"]
    key_file.unlink()
    nox("-s", "server", "--", "up", "--port", str(port), cwd=project)  # running: reconnects
    new = read_env_file(key_file)["ZENML_STORE_API_KEY"]
    assert new != old
    probe = "from zenml.client import Client; Client().list_stacks(size=1)"
    python = project / ".venv" / "bin" / "python"
    env = {"ZENML_STORE_URL": url, "ZENML_CONFIG_PATH": str(project / "build" / "probe")}
    old_works = subprocess.run(
        [python, "-c", probe],
        env=project_env(**env, ZENML_STORE_API_KEY=old),
        capture_output=True,
    )
    assert old_works.returncode != 0


def test_access_tokens_expire(served):
    """Item 25: a dashboard login's token carries an expiry an hour away, not none."""
    project, url, _ = served
    admin = read_env_file(project / ".zenml-server" / "admin.env")
    form = urllib.parse.urlencode(
        {"username": "admin", "password": admin["ZENML_DEFAULT_USER_PASSWORD"]}
    ).encode()
    with urllib.request.urlopen(f"{url}/api/v1/login", data=form) as response:
        token = json.load(response)["access_token"]
    payload = token.split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    assert 0 < claims["exp"] - time.time() <= 60 * 60 + 60


def test_artifacts_live_with_the_server_and_the_dashboard_serves_them(served):
    project, url, _ = served
    with tarfile.open(
        fileobj=io.BytesIO(newest_artifact_archive(project, url)), mode="r:gz"
    ) as files:
        assert files.getnames()
    # The client's own folder holds no artifact: losing it loses none.
    client_folder = project / ".zenml-server" / "client"
    assert not list(client_folder.rglob("*.pkl")) and not list(client_folder.rglob("*.json.gz"))
    shutil.rmtree(client_folder)
    inference = nox("-s", "run", "--", "--pipeline", "inference", cwd=project).stdout
    assert "completed" in inference
