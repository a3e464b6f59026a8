"""A team's server: its data in MariaDB, backups that bring runs back, and ZenML upgrades from
one real release to the next that keep every run."""

import contextlib
import json
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from conftest import (
    DOCKER_ANSWERS,
    free_port,
    mariadb_process,
    nox,
    package_index,
    project_env,
    remove_servers,
    render_project,
    run,
    run_count,
    server_containers,
    use_index,
)

pytestmark = [pytest.mark.docker, pytest.mark.server, pytest.mark.slow]

OLD, NEW = "0.97.0", "0.98.0"  # two real releases: the database really migrates


def backup_named_in(output: str) -> Path:
    line = next(line for line in output.splitlines() if line.startswith("Backed up"))
    return Path(line.split(" to ", 1)[1].split(" (")[0])


@pytest.fixture(scope="module")
def server_project(tmp_path_factory, docker_client):
    project = render_project(tmp_path_factory.mktemp("team") / "team project", **DOCKER_ANSWERS)
    nox("-s", "dev", cwd=project)
    nox("-s", "server", cwd=project)
    yield project
    remove_servers(docker_client, project)


def test_a_mariadb_server_keeps_every_run_and_says_what_is_wrong(
    server_project, mariadb, docker_client
):
    project, env_file, port = server_project, server_project / "configs" / "server.env", free_port()
    url = mariadb.database("team_runs")
    password = url.split(":")[2].split("@")[0]
    wrong = {
        url.replace(password, "not-the-password"): "refuses the user and password",
        url.rsplit("/", 1)[0] + "/team_runz": "has no database 'team_runz'",
        url.replace(f":{mariadb.port}/", f":{free_port()}/"): "does not answer",
        url.replace("mysql://", "postgresql://"): "MySQL/MariaDB",
    }
    for bad_url, said in wrong.items():
        env_file.write_text(f"ZENML_STORE_URL={bad_url}\n")
        refused = nox("-s", "server", "--", "up", "--port", str(port), cwd=project, check=False)
        output = refused.stdout + refused.stderr
        assert refused.returncode != 0 and said in output, output
        assert "Traceback" not in output and password not in output
        assert "Nothing was started" in output or "postgresql" in bad_url
        assert not server_containers(docker_client, project)

    # A setting beyond the URL: the checks before each start read the store as ZenML does.
    env_file.write_text(f"ZENML_STORE_URL={url}\nZENML_STORE_POOL_SIZE=4\n")
    nox("-s", "server", "--", "up", "--port", str(port), cwd=project)
    status = nox("-s", "server", "--", "status", cwd=project).stdout
    assert f"MySQL/MariaDB mysql://team_runs@127.0.0.1:{mariadb.port}/team_runs" in status
    assert "the server reports mysql" in status and password not in status
    nox("-s", "run", cwd=project)
    assert run_count(project) == 1

    # The data is in MariaDB: neither `down`, nor removing the container and its volume
    # loses a run, and the client's key still works.
    nox("-s", "server", "--", "down", cwd=project)
    nox("-s", "server", "--", "up", "--port", str(port), cwd=project)
    remove_servers(docker_client, project)
    nox("-s", "server", "--", "up", "--port", str(port), cwd=project)
    assert run_count(project) == 1

    backed_up = nox("-s", "server", "--", "backup", cwd=project).stdout
    backup = backup_named_in(backed_up)
    assert backup.suffix == ".json" and stat.S_IMODE(backup.stat().st_mode) == 0o600
    assert password not in backup.read_text() and password not in backed_up
    nox("-s", "run", cwd=project)
    assert run_count(project) == 2
    refused = nox("-s", "server", "--", "restore", str(backup), cwd=project, check=False)
    assert refused.returncode != 0 and "--yes" in refused.stdout  # no terminal to ask in
    assert run_count(project) == 2
    nox("-s", "server", "--", "restore", str(backup), "--yes", cwd=project)
    assert run_count(project) == 1
    assert "team_runs" in mariadb.sql("SHOW DATABASES")


def test_a_database_that_stops_under_a_running_server_is_named_in_one_line(server_project):
    """Item 12: MariaDB stops while the server runs: `status` and `run` name the database, in
    one line; started again, the server reconnects by itself."""
    project, env_file, port = server_project, server_project / "configs" / "server.env", free_port()
    settings = env_file.read_text() if env_file.exists() else ""
    nox("-s", "server", "--", "down", cwd=project)
    folder = Path(tempfile.mkdtemp(prefix="mariadb-"))  # short: a socket path has a limit
    database_port = free_port()
    try:
        with mariadb_process(folder, database_port) as database:
            env_file.write_text(f"ZENML_STORE_URL={database.database('stops')}\n")
            nox("-s", "server", "--", "up", "--port", str(port), cwd=project)
            assert "completed" in nox("-s", "run", cwd=project).stdout
        status = nox("-s", "server", "--", "status", cwd=project).stdout
        assert "its database does not answer" in status, status
        refused = nox("-s", "run", cwd=project, check=False)
        said = refused.stdout + refused.stderr
        assert refused.returncode != 0 and "cannot read its database" in said, said[-2000:]
        assert "Traceback" not in said
        with mariadb_process(folder, database_port):
            assert "completed" in nox("-s", "run", cwd=project).stdout
    finally:
        nox("-s", "server", "--", "down", cwd=project)
        env_file.write_text(settings)
        shutil.rmtree(folder, ignore_errors=True)


@pytest.mark.parametrize("store", ["sqlite", "mariadb"])
def test_upgrade_between_two_releases_keeps_every_run_and_refuses_going_back(
    store, request, tmp_path, docker_client
):
    project = render_project(tmp_path / "old project", zenml_version=OLD, **DOCKER_ANSWERS)
    if store == "mariadb":
        url = request.getfixturevalue("mariadb").database("upgraded")
        (project / "configs" / "server.env").write_text(f"ZENML_STORE_URL={url}\n")
    port = free_port()
    try:
        # The old release's server holds the data; its pipeline images are not needed here.
        nox("-s", "dev", "server", cwd=project)
        nox("-s", "server", "--", "up", "--port", str(port), cwd=project)
        nox("-s", "run", cwd=project)
        key = (project / ".zenml-server" / "api-key").read_text()
        old_lock = {name: (project / name).read_bytes() for name in ("pyproject.toml", "uv.lock")}
        if store == "sqlite":  # what the lock does is the same for both stores
            interrupted_in_step_one(project)
            assert old_lock == {name: (project / name).read_bytes() for name in old_lock}

        with same_day_release(project) if store == "sqlite" else contextlib.nullcontext():
            # NEW published an hour ago (sqlite): ZenML's exemption from the cooldown lets it in.
            upgraded = nox("-s", "upgrade", "--", NEW, cwd=project).stdout
        assert f'"zenml=={NEW}"' in (project / "pyproject.toml").read_text()
        # The stack files name the new release: `zenml stack import` takes them.
        stack_file = project / "configs" / "stacks" / "local-docker.yaml"
        assert f'zenml_version: "{NEW}"' in stack_file.read_text()
        assert f"ZenML {NEW} everywhere" in upgraded and "environments match uv.lock" in upgraded
        assert backup_named_in(upgraded).is_file()
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/info") as response:
            assert f'"version":"{NEW}"' in response.read().decode().replace(" ", "")
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/") as dashboard:
            assert dashboard.status == 200
        assert run_count(project) == 1  # made on the old release, listed by the new one
        assert (project / ".zenml-server" / "api-key").read_text() == key

        if store == "sqlite":  # the lock and the client decide these, whatever the store
            # Back to the old release: refused before anything changes.
            before = {name: (project / name).read_bytes() for name in old_lock}
            (server,) = server_containers(docker_client, project)
            refused = nox("-s", "upgrade", "--", OLD, cwd=project, check=False)
            said = refused.stdout + refused.stderr  # nox hands a command's errors on as output
            assert refused.returncode != 0 and "cannot be undone" in said
            assert "Traceback" not in said
            assert before == {name: (project / name).read_bytes() for name in before}
            server.reload()
            assert server.status == "running"
            assert server_containers(docker_client, project) == [server]

        # The old lock back (`git checkout`): the client refuses the newer server, and the old
        # server is refused the migrated data.
        for name, content in old_lock.items():
            (project / name).write_bytes(content)
        if store == "sqlite":
            refused = nox("-s", "run", cwd=project, check=False)
            said = refused.stdout + refused.stderr
            assert refused.returncode != 0 and "ZenML needs both the same" in said, said[-2000:]
            assert f"nox -s upgrade -- {NEW}" in said and "Traceback" not in said
        nox("-s", "server", "--", "down", cwd=project)
        refused = nox("-s", "server", "--", "up", "--port", str(port), cwd=project, check=False)
        said = refused.stdout + refused.stderr
        assert refused.returncode != 0 and f"data is of ZenML {NEW}" in said, said[-2000:]
        assert not server_containers(docker_client, project)

        # The way back without git: one command, the data from the backup the upgrade made.
        back = nox("-s", "upgrade", "--", "--back", cwd=project).stdout
        assert f"ZenML {OLD} everywhere again" in back
        assert f'zenml_version: "{OLD}"' in stack_file.read_text()
        assert old_lock == {name: (project / name).read_bytes() for name in old_lock}
        nox("-s", "server", "--", "up", "--port", str(port), cwd=project)
        assert run_count(project) == 1
    finally:
        remove_servers(docker_client, project)


@contextlib.contextmanager
def same_day_release(project: Path) -> Iterator[None]:
    """ZenML from an index that serves PyPI's files of it but says NEW was published an hour
    ago: younger than the project's cooldown. Without ZenML's exemption the lock refuses NEW;
    with it (the template's default) the project is locked from that index, for the block."""
    request = urllib.request.Request(  # PyPI's JSON of it, as uv reads it (PEP 691, PEP 700)
        "https://pypi.org/simple/zenml/", headers={"Accept": "application/vnd.pypi.simple.v1+json"}
    )
    with urllib.request.urlopen(request, timeout=60) as found:
        files = json.load(found)["files"]
    an_hour_ago = (datetime.now(UTC) - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    for entry in files:
        if entry["filename"].startswith((f"zenml-{NEW}-", f"zenml-{NEW}.")):
            entry["upload-time"] = an_hour_ago
    pyproject = project / "pyproject.toml"
    with package_index({"zenml": files}, {}) as url:
        use_index(pyproject, "zenml", url)
        exempt = pyproject.read_text()
        lock_before = (project / "uv.lock").read_bytes()
        pyproject.write_text(
            exempt.replace("zenml = false, ", "", 1).replace(f'"zenml=={OLD}"', f'"zenml=={NEW}"')
        )
        refused = run("uv", "lock", cwd=project, check=False)
        said = refused.stderr
        assert refused.returncode != 0 and f"zenml=={NEW}" in said, said[-2000:]
        assert (project / "uv.lock").read_bytes() == lock_before
        pyproject.write_text(exempt)
        nox("-s", "lock", cwd=project)  # ZenML OLD, now from that index
        yield


def interrupted_in_step_one(project: Path) -> None:
    """`nox -s upgrade` stopped by Ctrl-C (SIGINT to its process group) while it locks. The
    command gets SIGINT's default action, as a terminal gives it: a test run started in the
    background (`cmd &` in a script) passes SIGINT on ignored, and so would `nox`."""
    upgrading = subprocess.Popen(
        [sys.executable, "-m", "nox", "-s", "upgrade", "--", NEW],
        cwd=project, env=project_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True, start_new_session=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )  # fmt: skip
    said = ""
    for line in upgrading.stdout:
        said += line
        if "1/7 pin and lock" in line:
            os.killpg(upgrading.pid, signal.SIGINT)
            break
    said += upgrading.communicate(timeout=300)[0]
    assert upgrading.returncode != 0 and "1/7 pin and lock" in said, said[-2000:]
    assert "2/7" not in said


def test_the_compose_example_runs_the_server_image_on_mysql_with_no_secret_inline(render, tmp_path):
    deploy = render() / "deploy"
    compose = yaml.safe_load((deploy / "compose.yaml").read_text())
    mysql, zenml = compose["services"]["mysql"], compose["services"]["zenml"]
    # Nothing starts before the strength check passes; the server waits for a healthy database.
    checked = {"check": {"condition": "service_completed_successfully"}}
    assert mysql["depends_on"] == checked
    assert zenml["depends_on"] == {**checked, "mysql": {"condition": "service_healthy"}}
    assert "mysqladmin ping" in mysql["healthcheck"]["test"][1]
    assert {"mysql-data", "zenml-config"} == set(compose["volumes"])
    assert zenml["volumes"] == ["zenml-config:/zenml"]
    # behind a proxy, never open by default
    assert zenml["ports"] == ["127.0.0.1:${ZENML_SERVER_PORT:-8080}:8080"]
    # The password apart from the URL: any character works in it.
    assert zenml["environment"]["ZENML_STORE_URL"] == "mysql://zenml@mysql:3306/zenml"
    assert zenml["environment"]["ZENML_STORE_PASSWORD"] == "${MYSQL_PASSWORD}"
    # Every variable the file needs is in the example env file, and no secret has a value.
    text = (deploy / "compose.yaml").read_text()
    needed = set(re.findall(r"\$\{(\w+)", text)) | {"COMPOSE_PROJECT_NAME"}
    example = dict(
        line.split("=", 1)
        for line in (deploy / ".env.example").read_text().splitlines()
        if line and not line.startswith("#")
    )
    assert needed <= example.keys()
    for key, value in example.items():
        if "PASSWORD" in key or "SECRET" in key or "KEY" in key:
            assert value == "", key
    # The filled-in deploy/.env stays out of git; the example goes in.
    shutil.copy(deploy.parent / ".gitignore", tmp_path / ".gitignore")
    run("git", "init", "-q", cwd=tmp_path)
    ignored = run(
        "git", "check-ignore", "deploy/.env", "deploy/.env.example", cwd=tmp_path, check=False
    )
    assert ignored.stdout.split() == ["deploy/.env"]
