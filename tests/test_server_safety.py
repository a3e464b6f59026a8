"""Nothing lost, nothing leaked: credentials that match their data, a dead server said in one
line, images that cannot rewrite themselves, a server that trusts no stranger."""

import base64
import contextlib
import io
import json
import os
import re
import secrets
import shutil
import signal
import sqlite3
import stat
import subprocess
import sys
import tarfile
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from conftest import (
    DATA_HOME,
    DOCKER_ANSWERS,
    free_port,
    newest_artifact_archive,
    nox,
    project_env,
    read_env_file,
    remove_servers,
    render_project,
    run,
    run_count,
    server_containers,
)

pytestmark = [pytest.mark.docker, pytest.mark.server, pytest.mark.slow]


@pytest.fixture(scope="module")
def served(tmp_path_factory, docker_client):
    """A project whose server runs, with one training run made through it."""
    project = render_project(tmp_path_factory.mktemp("safety") / "project", **DOCKER_ANSWERS)
    nox("-s", "dev", cwd=project)
    nox("-s", "server", cwd=project)
    port = free_port()
    nox("-s", "server", "--", "up", "--port", str(port), cwd=project)
    nox("-s", "run", cwd=project)
    yield project, f"http://127.0.0.1:{port}", port
    remove_servers(docker_client, project)


def admin_login(url: str, username: str, password: str) -> int:
    form = urllib.parse.urlencode({"username": username, "password": password}).encode()
    try:
        with urllib.request.urlopen(f"{url}/api/v1/login", data=form) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def client_python(project, code: str) -> str:
    """`code` as the project's sessions run it: its ZenML config, its server, its API key."""
    script = project / "build" / f"probe_{secrets.token_hex(4)}.py"
    script.parent.mkdir(exist_ok=True)
    script.write_text(code)
    python = project / ".venv" / "bin" / "python"
    return run(python, "-m", "envtools", "exec", python, script, cwd=project).stdout


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


def read_secret(project, name: str) -> str:
    code = f"from zenml.client import Client\nprint(Client().get_secret({name!r}).secret_values)\n"
    return client_python(project, code)


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


def test_bad_server_input_gets_one_line_and_changes_nothing(served):
    project, _, port = served
    for bad in ("0", "70000", "-5", "abc"):
        refused = nox("-s", "server", "--", "up", f"--port={bad}", cwd=project, check=False)
        assert refused.returncode != 0
        assert (
            f"--port = '{bad}' is not a port: use a number from 1 to 65535"
            in refused.stdout + refused.stderr
        )
        assert "Traceback" not in refused.stdout + refused.stderr
    moved = nox("-s", "server", "--", "up", "--port", str(free_port()), cwd=project, check=False)
    assert moved.returncode != 0
    assert f"already runs at http://127.0.0.1:{port}" in moved.stdout + moved.stderr
    bad_parent = nox("-s", "server", "--", "--parent-image", "Bad Ref!!", cwd=project, check=False)
    assert "is not an image reference" in bad_parent.stdout + bad_parent.stderr


def test_a_dead_server_is_said_in_one_line_and_up_brings_it_back(served, docker_client):
    project, _, port = served
    runs = run_count(project)
    (container,) = server_containers(docker_client, project)
    container.kill()

    refused = nox("-s", "run", cwd=project, check=False)
    status = nox("-s", "server", "--", "status", cwd=project).stdout

    assert refused.returncode != 0
    said = refused.stdout + refused.stderr
    assert "does not answer" in said and "nox -s server -- up" in said
    assert "Traceback" not in said
    assert "not reachable" in status
    nox("-s", "server", "--", "up", "--port", str(port), cwd=project)
    assert run_count(project) == runs


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


def test_lost_admin_file_is_refused_then_reset_keeps_every_run(served):
    project, url, port = served
    runs = run_count(project)
    admin_file = project / ".zenml-server" / "admin.env"
    old = read_env_file(admin_file)
    nox("-s", "server", "--", "down", cwd=project)
    admin_file.unlink()

    refused = nox("-s", "server", "--", "up", "--port", str(port), cwd=project, check=False)

    assert refused.returncode != 0
    assert "nox -s server -- reset-admin" in refused.stdout + refused.stderr
    assert not admin_file.exists()
    nox("-s", "server", "--", "reset-admin", cwd=project)
    new = read_env_file(admin_file)
    assert new["ZENML_DEFAULT_USER_PASSWORD"] != old["ZENML_DEFAULT_USER_PASSWORD"]
    nox("-s", "server", "--", "up", "--port", str(port), cwd=project)
    assert admin_login(url, "admin", new["ZENML_DEFAULT_USER_PASSWORD"]) == 200
    assert admin_login(url, "admin", old["ZENML_DEFAULT_USER_PASSWORD"]) == 401
    assert run_count(project) == runs

    server_env = project / "configs" / "server.env"
    server_env.write_text("ZENML_DEFAULT_USER_PASSWORD=Another-Strong-Passw0rd-Here\n")
    try:
        differs = nox("-s", "server", "--", "up", "--port", str(port), cwd=project, check=False)
        assert "differs from the admin's password" in differs.stdout + differs.stderr
    finally:
        server_env.unlink()


def test_two_ups_at_once_end_in_one_server_and_no_traceback(served, docker_client):
    project, _, port = served
    nox("-s", "server", "--", "down", cwd=project)
    command = [sys.executable, "-m", "nox", "-s", "server", "--", "up", "--port", str(port)]
    both = [
        subprocess.Popen(
            command,
            cwd=project,
            env=project_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for _ in range(2)
    ]
    outputs = [process.communicate(timeout=300)[0] for process in both]
    assert any(process.returncode == 0 for process in both), outputs
    assert all("Traceback" not in output for output in outputs), outputs
    assert len(server_containers(docker_client, project)) == 1


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


def test_a_moved_project_keeps_its_server(served, docker_client):
    project, url, _ = served
    runs = run_count(project)
    moved = project.with_name("moved here")
    project.rename(moved)
    try:
        status = nox("-s", "server", "--", "status", cwd=moved).stdout
        assert "connected with an API key" in status
        assert url in status
        (own,) = server_containers(docker_client, moved)
        assert f"Also here: {own.name}" not in status  # never another's (item 7)
        assert "completed" in nox("-s", "run", cwd=moved).stdout
        assert run_count(moved) == runs + 1
        nox("-s", "server", "--", "down", cwd=moved)
        said = nox("-s", "server", "--", "up", "--port", url.rsplit(":", 1)[1], cwd=moved).stdout
        assert "moved here from" in said
        assert run_count(moved) == runs + 1
    finally:
        moved.rename(project)
    nox("-s", "server", "--", "up", "--port", url.rsplit(":", 1)[1], cwd=project)


def test_a_copy_does_not_share_and_an_orphan_is_named(served, docker_client):
    project, url, port = served
    copy = project.with_name("copied")
    shutil.copytree(project, copy, symlinks=True, ignore=shutil.ignore_patterns(".venv", "build"))
    copied_servers = []
    try:
        nox("-s", "dev", cwd=copy)
        for args in (["run"], ["server", "--", "status"], ["check"]):
            refused = nox("-s", *args, cwd=copy, check=False)
            said = refused.stdout + refused.stderr
            assert refused.returncode != 0, args
            assert f"is a copy of {project}" in said and "nox -s server -- detach" in said
            assert "Traceback" not in said
        nox("-s", "server", "--", "detach", cwd=copy)
        assert not (copy / ".zenml-server" / "admin.env").exists()
        copy_port = free_port()
        nox("-s", "server", "--", "up", "--port", str(copy_port), cwd=copy)
        copied_servers = server_containers(docker_client, copy)
        assert [c.id for c in copied_servers] != [
            c.id for c in server_containers(docker_client, project)
        ]
        assert "completed" in nox("-s", "run", cwd=copy).stdout

        shutil.rmtree(copy)
        status = nox("-s", "server", "--", "status", cwd=project).stdout
        (orphan,) = copied_servers
        assert f"Also here: {orphan.name}" in status and f"that was in {copy}" in status
        assert "docker rm" not in status  # a server is data: never advised away (item 7)
        refused = nox(
            "-s", "server", "--", "up", "--port", str(copy_port), cwd=project, check=False
        )
        assert f"already runs at {url}" in refused.stdout + refused.stderr
        nox("-s", "server", "--", "down", cwd=project)
        refused = nox(
            "-s", "server", "--", "up", "--port", str(copy_port), cwd=project, check=False
        )
        assert f"It is held by {orphan.name}" in refused.stdout + refused.stderr
        assert "docker rm" not in refused.stdout + refused.stderr
    finally:
        shutil.rmtree(copy, ignore_errors=True)
        for container in copied_servers:
            container.remove(force=True, v=False)
            docker_client.volumes.get(f"{container.name}-data").remove(force=True)
    nox("-s", "server", "--", "up", "--port", str(port), cwd=project)


def test_a_server_on_another_loopback_address_is_healthy(served, docker_client):
    project, _, port = served
    pyproject = project / "pyproject.toml"
    settings = pyproject.read_text()
    nox("-s", "server", "--", "down", cwd=project)
    pyproject.write_text(settings.replace('host = "127.0.0.1"', 'host = "127.0.0.2"'))
    try:
        nox("-s", "server", "--", "up", "--port", str(port), cwd=project)
        (container,) = server_containers(docker_client, project)
        for _ in range(60):  # Docker's first health probe comes after its interval
            container.reload()
            if container.attrs["State"]["Health"]["Status"] != "starting":
                break
            time.sleep(1)
        assert container.attrs["State"]["Health"]["Status"] == "healthy"
        assert "completed" in nox("-s", "run", cwd=project).stdout
        nox("-s", "server", "--", "down", cwd=project)
    finally:
        pyproject.write_text(settings)
    nox("-s", "server", "--", "up", "--port", str(port), cwd=project)


def test_a_backup_brings_back_a_deleted_run_and_the_key_still_works(served):
    project, _, _ = served
    runs = run_count(project)
    backed_up = nox("-s", "server", "--", "backup", cwd=project).stdout
    backup = Path(backed_up.split(" to ", 1)[1].split(" (")[0])
    assert backup.suffix == ".db" and stat.S_IMODE(backup.stat().st_mode) == 0o600
    assert backup.is_relative_to(DATA_HOME)  # beside the artifacts, outside the project
    delete = project / "build" / "delete_newest_run.py"
    delete.write_text(
        "from zenml.client import Client\n"
        "client = Client()\n"
        "client.delete_pipeline_run(client.list_pipeline_runs(sort_by='desc:created').items[0].id)\n"
    )
    env = read_env_file(project / ".zenml-server" / "client.env")
    run(project / ".venv" / "bin" / "python", delete, cwd=project, **env)
    assert run_count(project) == runs - 1
    assert backup.name in nox("-s", "server", "--", "status", cwd=project).stdout
    nox("-s", "server", "--", "restore", str(backup), "--yes", cwd=project)
    assert run_count(project) == runs  # asked with the same API key as before


def test_a_backup_never_overwrites_a_file_and_its_folders_are_private(served, tmp_path):
    project, _, _ = served
    pyproject = (project / "pyproject.toml").read_bytes()
    refused = nox("-s", "server", "--", "backup", "pyproject.toml", cwd=project, check=False)
    assert refused.returncode != 0
    assert "exists: a backup never overwrites a file" in refused.stdout + refused.stderr
    assert "Traceback" not in refused.stdout + refused.stderr
    assert (project / "pyproject.toml").read_bytes() == pyproject
    plain = tmp_path / "NOTES"  # an existing file without a suffix: not a folder to write in
    plain.write_text("mine")
    refused = nox("-s", "server", "--", "backup", str(plain), cwd=project, check=False)
    assert refused.returncode != 0 and "Traceback" not in refused.stderr
    assert plain.read_text() == "mine"
    made = tmp_path / "new" / "deeper"
    nox("-s", "server", "--", "backup", str(made), cwd=project)
    for folder in (tmp_path / "new", made):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    written = sorted(made.iterdir())  # the backup, and its secrets key beside it
    assert [path.suffix for path in written] == [".db", ".key"]
    assert all(stat.S_IMODE(path.stat().st_mode) == 0o600 for path in written)


def test_lost_client_state_while_the_server_runs_writes_no_credentials(served, tmp_path):
    """`.zenml-server/` deleted under a running server: `up` must not mint an admin the data
    does not know, and says `reset-admin` in one line, every time."""
    project, _, port = served
    state = project / ".zenml-server"
    kept = tmp_path / "state"
    shutil.copytree(state, kept)
    shutil.rmtree(state)
    try:
        for _ in range(2):  # the second `up` still sees the loss
            refused = nox("-s", "server", "--", "up", "--port", str(port), cwd=project, check=False)
            said = refused.stdout + refused.stderr
            assert refused.returncode != 0 and "nox -s server -- reset-admin" in said
            assert "Traceback" not in said and "CredentialsNotValid" not in said
            assert not (state / "admin.env").exists()
    finally:
        shutil.rmtree(state, ignore_errors=True)
        shutil.copytree(kept, state)


def test_a_crash_looping_server_is_said_at_its_first_exit(served):
    project, _, port = served
    nox("-s", "server", "--", "down", cwd=project)
    server_env = project / "configs" / "server.env"
    server_env.write_text("ZENML_SERVER_JWT_TOKEN_EXPIRE_MINUTES=not-a-number\n")
    try:
        failed = nox("-s", "server", "--", "up", "--port", str(port), cwd=project, check=False)
    finally:
        server_env.unlink()
    said = failed.stdout + failed.stderr
    assert failed.returncode != 0
    assert "stopped before it answered" in said and "within 120 s" not in said
    assert "jwt_token_expire_minutes" in said.lower()  # its own log says why
    nox("-s", "server", "--", "up", "--port", str(port), cwd=project)


def backup_to(project, folder: Path) -> Path:
    nox("-s", "server", "--", "backup", str(folder), cwd=project)
    (written,) = folder.glob("*.db")
    return written


def corrupted_page(good: Path, target: Path, table: str) -> Path:
    """`good` with the first page of `table`'s b-tree overwritten: a corrupt page."""
    shutil.copy(good, target)
    with contextlib.closing(sqlite3.connect(good)) as database:
        page_size = database.execute("PRAGMA page_size").fetchone()[0]
        query = "SELECT rootpage FROM sqlite_master WHERE name = ?"
        root = database.execute(query, (table,)).fetchone()[0]
    with target.open("r+b") as file:
        file.seek(page_size * (root - 1))
        file.write(bytes(range(256)) * (page_size // 256))
    return target


def test_restore_takes_only_a_complete_database_of_this_server_and_can_be_undone(served, tmp_path):
    """Item 4: a hand-made file, a corrupt page, a cut-off file and another server's backup
    are refused with the live data untouched; a good restore keeps a copy that undoes it."""
    project, _, _ = served
    runs = run_count(project)
    good = backup_to(project, tmp_path / "good")
    key_file = good.with_name(good.name + ".key")
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert "ZENML_SECRETS_STORE_ENCRYPTION_KEY" in key_file.read_text()

    hand_made = tmp_path / "hand-made.db"
    with contextlib.closing(sqlite3.connect(good)) as database:
        version = database.execute("SELECT version_num FROM alembic_version").fetchone()[0]
    with contextlib.closing(sqlite3.connect(hand_made)) as database:
        database.execute("CREATE TABLE alembic_version (version_num VARCHAR(32))")
        database.execute("INSERT INTO alembic_version VALUES (?)", (version,))
        database.commit()
    cut_off = tmp_path / "cut-off.db"
    cut_off.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    other = tmp_path / "other-server.db"
    shutil.copy(good, other)
    with contextlib.closing(sqlite3.connect(other)) as database:
        database.execute("UPDATE server_settings SET id = ?", (secrets.token_hex(16),))
        database.commit()
    refusals = {
        hand_made: "lacks tables of ZenML",
        corrupted_page(good, tmp_path / "corrupt.db", "pipeline_run"): "not a complete",
        cut_off: "not a complete",
        other: "a backup of another ZenML server",
    }
    for bad, why in refusals.items():
        refused = nox("-s", "server", "--", "restore", str(bad), "--yes", cwd=project, check=False)
        said = refused.stdout + refused.stderr
        assert refused.returncode != 0 and why in said, (bad.name, said[-1500:])
        assert "Nothing was changed" in said and "Traceback" not in said, bad.name
    assert "--from-another-server" in said
    assert run_count(project) == runs  # the live data as it was, the server still serving

    nox("-s", "run", cwd=project)
    restored = nox("-s", "server", "--", "restore", str(good), "--yes", cwd=project).stdout
    assert run_count(project) == runs
    safety = Path(re.search(r"The data it replaced is in (.+?): ", restored).group(1))
    assert f"restore {safety} --yes` undoes this" in restored
    nox("-s", "server", "--", "restore", str(safety), "--yes", cwd=project)
    assert run_count(project) == runs + 1  # undone: the run made after the backup is back


def test_restore_after_a_lost_admin_file_ends_with_a_working_client_and_its_secrets(
    served, tmp_path
):
    """Items 5 and 2: reset-admin after admin.env (and so the secrets key) was lost, then an
    older backup restored: the client works, the admin is this project's, the backup's secrets
    read back (its key was kept beside it)."""
    project, url, port = served
    value = secrets.token_hex(8)
    client_python(
        project,
        "from zenml.client import Client\n"
        f"Client().create_secret('kept-by-backup', values={{'token': {value!r}}})\n",
    )
    older = backup_to(project, tmp_path / "older")
    nox("-s", "server", "--", "down", cwd=project)
    (project / ".zenml-server" / "admin.env").unlink()
    nox("-s", "server", "--", "reset-admin", cwd=project)
    nox("-s", "server", "--", "up", "--port", str(port), cwd=project)

    restored = nox("-s", "server", "--", "restore", str(older), "--yes", cwd=project)
    said = restored.stdout + restored.stderr
    assert "Traceback" not in said and "CredentialsNotValid" not in said
    assert "kept-by-backup" in said  # re-encrypted with this project's key
    assert value in read_secret(project, "kept-by-backup")
    admin = read_env_file(project / ".zenml-server" / "admin.env")
    assert admin_login(url, "admin", admin["ZENML_DEFAULT_USER_PASSWORD"]) == 200
    assert "completed" in nox("-s", "run", cwd=project).stdout


def test_a_copy_and_the_moved_original_are_told_apart(served, docker_client):
    """Item 8 (and 21): copy a project, move the original. The moved folder (its own files)
    keeps the server; the copy is refused with both ways out; a folder that is not a copy is
    never detached; `claim` settles it when neither folder is the recorded one."""
    project, url, port = served
    copy = project.with_name("copy of it")
    shutil.copytree(project, copy, symlinks=True, ignore=shutil.ignore_patterns(".venv", "build"))
    moved = project.with_name("moved away")
    project.rename(moved)
    try:
        refused = nox("-s", "run", cwd=copy, check=False)
        said = refused.stdout + refused.stderr
        assert refused.returncode != 0 and "Traceback" not in said
        assert "nox -s server -- claim" in said and "nox -s server -- detach" in said
        status = nox("-s", "server", "--", "status", cwd=moved).stdout
        (own,) = server_containers(docker_client, moved)
        assert "connected with an API key" in status and f"Also here: {own.name}" not in status

        nox("-s", "server", "--", "claim", cwd=copy)  # the user says: the copy owns it
        refused = nox("-s", "run", cwd=moved, check=False)
        assert f"is a copy of {copy}" in refused.stdout + refused.stderr
        shutil.rmtree(copy)  # and now it is gone: the moved folder's files are not its files
        refused = nox("-s", "server", "--", "status", cwd=moved, check=False)
        assert "nox -s server -- claim" in refused.stdout + refused.stderr
        nox("-s", "server", "--", "claim", cwd=moved)
        assert "completed" in nox("-s", "run", cwd=moved).stdout

        admin_file = moved / ".zenml-server" / "admin.env"
        refused = nox("-s", "server", "--", "detach", cwd=moved, check=False)
        said = refused.stdout + refused.stderr
        assert refused.returncode != 0 and "is not a copy" in said and "Traceback" not in said
        assert admin_file.is_file()
    finally:
        shutil.rmtree(copy, ignore_errors=True)
        if moved.exists():
            moved.rename(project)
    nox("-s", "server", "--", "up", "--port", str(port), cwd=project)


def test_a_run_in_flight_is_named_when_the_server_stops(served):
    """Item 23: `down` while a run's step works says which run and what becomes of it."""
    project, _, port = served
    (package,) = [path.parent for path in (project / "src").glob("*/pipelines")]
    slow = package / "pipelines" / "in_flight.py"
    slow.write_text(
        "import time\n\nfrom zenml import pipeline, step\n\n\n@step\ndef wait() -> None:\n"
        "    time.sleep(600)\n\n\n@pipeline\ndef in_flight() -> None:\n    wait()\n"
    )
    config = project / "configs" / "in_flight.yaml"
    config.write_text("enable_cache: false\n")
    log = project / "build" / "in-flight.log"
    with log.open("w") as output:
        running = subprocess.Popen(
            [sys.executable, "-m", "nox", "-s", "run", "--", "--pipeline", "in_flight"],
            cwd=project, env=project_env(), stdout=output, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    try:
        for _ in range(240):
            if "has started" in log.read_text() or running.poll() is not None:
                break
            time.sleep(0.5)
        assert "has started" in log.read_text(), log.read_text()[-2000:]
        said = nox("-s", "server", "--", "down", cwd=project).stdout
        assert "Run in_flight-" in said and "is in flight" in said and "keeps it as running" in said
    finally:
        os.killpg(running.pid, signal.SIGKILL)
        running.wait()
        slow.unlink()
        config.unlink()
    nox("-s", "server", "--", "up", "--port", str(port), cwd=project)


def test_host_and_network_mistakes_are_said_before_anything_starts(served, docker_client):
    """Item 11: a bad address, one not on this machine, a name that does not resolve, and a
    network the engine lacks: each its own line, never "port in use", no server started."""
    project, _, port = served
    pyproject = project / "pyproject.toml"
    settings = pyproject.read_text()
    nox("-s", "server", "--", "down", cwd=project)
    cases = {
        "999.1.1.1": "is not an address:",
        "192.0.2.1": "is not an address of this machine",  # TEST-NET-1: nobody's address
        "no-such-host.invalid": "does not resolve",
    }
    try:
        for host, why in cases.items():
            pyproject.write_text(settings.replace('host = "127.0.0.1"', f'host = "{host}"'))
            refused = nox("-s", "server", "--", "up", "--port", str(port), cwd=project, check=False)
            said = refused.stdout + refused.stderr
            assert refused.returncode != 0 and why in said and "in use" not in said, said[-1500:]
            assert not server_containers(docker_client, project)
        if not docker_client.networks.list(names=["bridge"]):
            bridged = 'host = "127.0.0.1"\nnetwork = "bridge"'
            pyproject.write_text(settings.replace('host = "127.0.0.1"', bridged))
            refused = nox("-s", "server", "--", "up", "--port", str(port), cwd=project, check=False)
            said = refused.stdout + refused.stderr
            assert "has no 'bridge' network" in said and "healthy" not in said, said[-1500:]
            assert not server_containers(docker_client, project)
    finally:
        pyproject.write_text(settings)
    nox("-s", "server", "--", "up", "--port", str(port), cwd=project)


def test_a_renamed_server_is_refused_while_its_data_is_under_the_old_name(served, docker_client):
    """Item 21: renaming [tool.envtools.server] name would start an empty server."""
    project, _, port = served
    pyproject = project / "pyproject.toml"
    settings = pyproject.read_text()
    volumes = sorted(volume.name for volume in docker_client.volumes.list())
    (old_name,) = re.findall(r'(?m)^name = "(.+-server)"', settings)
    pyproject.write_text(settings.replace(f'name = "{old_name}"', 'name = "renamed-server"'))
    try:
        refused = nox("-s", "server", "--", "up", "--port", str(port), cwd=project, check=False)
    finally:
        pyproject.write_text(settings)
    said = refused.stdout + refused.stderr
    assert refused.returncode != 0 and f"Set name = '{old_name}' again" in said, said[-1500:]
    assert sorted(volume.name for volume in docker_client.volumes.list()) == volumes


def test_a_lost_connection_is_said_and_never_silently_local(served):
    """Item 15: the connection file gone while the server runs (a stopped restart): the run
    says where it goes; `up` connects again."""
    project, _, port = served
    (project / ".zenml-server" / "client.env").unlink()
    ran = nox("-s", "run", cwd=project)
    said = ran.stdout + ran.stderr  # nox hands a command's stderr on as output
    assert "server is not connected" in said and "runs go to the local ZenML store" in said
    nox("-s", "server", "--", "up", "--port", str(port), cwd=project)
    ran = nox("-s", "run", cwd=project)
    assert "not connected" not in ran.stdout + ran.stderr


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


@contextlib.contextmanager
def read_only(folder: Path):
    """`folder` read-only for real: a read-only bind mount over itself when we are root (who
    ignores file modes), else every file and folder without write permission."""
    if os.geteuid() == 0:
        for command in (["mount", "--bind", folder, folder],
                        ["mount", "-o", "remount,bind,ro", folder]):  # fmt: skip
            if subprocess.run(command, capture_output=True).returncode != 0:
                subprocess.run(["umount", folder], capture_output=True)
                pytest.skip("no read-only bind mount here (root ignores file modes)")
        try:
            yield
        finally:
            subprocess.run(["umount", folder], check=True)
        return
    modes = {path: path.stat().st_mode for path in [folder, *folder.rglob("*")]
             if not path.is_symlink() and ".venv" not in path.parts}  # fmt: skip
    for path, mode in modes.items():
        path.chmod(mode & ~0o222)
    try:
        yield
    finally:
        for path, mode in reversed(list(modes.items())):
            path.chmod(mode)


def test_a_read_only_project_is_one_line_and_up_of_a_running_server_writes_nothing(served):
    """Item 24."""
    project, _, port = served
    with read_only(project):
        for args in (["run"], ["stacks", "--", "list"]):
            refused = nox("-s", *args, cwd=project, check=False)
            said = refused.stdout + refused.stderr
            assert refused.returncode != 0 and "cannot be written" in said, said[-1500:]
            assert "Traceback" not in said
        nox("-s", "server", "--", "up", "--port", str(port), cwd=project)
