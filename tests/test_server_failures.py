"""A dead server said in one line: bad input, a killed or crash-looping server, a run in
flight at `down`, host and network mistakes, a server on another loopback address or on IPv6,
and a switch to an empty database."""

import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request

import pytest
from conftest import (
    free_port,
    nox,
    project_env,
    read_env_file,
    run_count,
    server_api,
    server_containers,
)

pytestmark = [pytest.mark.docker, pytest.mark.server, pytest.mark.slow]


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

    # connect: a URL by its grammar, and a port where no ZenML answers (nothing, or not HTTP).
    connection = (project / ".zenml-server" / "client.env").read_bytes()
    with socket.socket() as junk:
        junk.bind(("127.0.0.1", 0))
        junk.listen()
        threading.Thread(target=lambda: junk.accept()[0].sendall(b"\x00 not http\r\n\r\n"),
                         daemon=True).start()  # fmt: skip
        not_http = f"http://127.0.0.1:{junk.getsockname()[1]}"
        for url, said in (
            ("ftp://127.0.0.1:21", "is not a server URL"),
            (f"http://127.0.0.1:{free_port()}", "No ZenML server answers"),
            (not_http, "No ZenML server answers"),
        ):
            refused = nox("-s", "server", "--", "connect", url, cwd=project, check=False)
            output = refused.stdout + refused.stderr
            assert refused.returncode != 0 and said in output and "Traceback" not in output, url
    assert (project / ".zenml-server" / "client.env").read_bytes() == connection


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
    log.parent.mkdir(exist_ok=True)
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
    # The command the hint names exists and deletes the stale run.
    hinted = re.search(r"`(uv run zenlock exec zenml pipeline runs delete (\S+))`", said)
    assert hinted, said
    deleted = subprocess.run(
        hinted[1].split(), cwd=project, env=project_env(), input="y\n", capture_output=True,
        text=True,
    )  # fmt: skip
    assert deleted.returncode == 0, deleted.stdout + deleted.stderr
    assert server_api(project, f"/runs?name={hinted[2]}")["total"] == 0


def test_a_crash_looping_server_is_said_at_its_first_exit(served_stopped):
    project, _, port = served_stopped
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


def test_host_and_network_mistakes_are_said_before_anything_starts(served_stopped, docker_client):
    """Item 11: a bad address, one not on this machine, a name that does not resolve, and a
    network the engine lacks: each its own line, never "port in use", no server started."""
    project, _, port = served_stopped
    pyproject = project / "pyproject.toml"
    settings = pyproject.read_text()
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


def test_a_server_on_another_loopback_address_is_healthy(served_stopped, docker_client):
    project, _, port = served_stopped
    pyproject = project / "pyproject.toml"
    settings = pyproject.read_text()
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


def test_a_server_on_ipv6_loopback_serves_the_sessions(served_stopped):
    """host = "::1": the server listens on [::1] only, and the client, `status` and a run
    reach it at http://[::1]:PORT."""
    project, _, port = served_stopped
    pyproject = project / "pyproject.toml"
    settings = pyproject.read_text()
    pyproject.write_text(settings.replace('host = "127.0.0.1"', 'host = "::1"'))
    url = f"http://[::1]:{port}"
    try:
        started = nox("-s", "server", "--", "up", "--port", str(port), cwd=project).stdout
        assert f"Server healthy at {url}" in started
        connection = read_env_file(project / ".zenml-server" / "client.env")
        assert connection["ZENML_STORE_URL"] == url
        with urllib.request.urlopen(f"{url}/api/v1/info") as response:
            assert json.load(response)["version"]
        with socket.socket() as probe:  # on IPv6 only, as asked
            assert probe.connect_ex(("127.0.0.1", port)) != 0
        status = nox("-s", "server", "--", "status", cwd=project).stdout
        assert f"URL:        {url}" in status and "connected with an API key" in status
        runs = run_count(project)
        assert ": completed" in nox("-s", "run", cwd=project).stdout
        assert run_count(project) == runs + 1
        nox("-s", "server", "--", "down", cwd=project)
    finally:
        pyproject.write_text(settings)


def test_switching_to_an_empty_database_is_said_at_up(served, mariadb):
    """The server's runs in SQLite, configs/server.env then naming an empty MariaDB: `up`
    says that the server starts without them and how they move; back on SQLite, all is there."""
    project, _, port = served
    runs = run_count(project)
    assert runs > 0
    nox("-s", "server", "--", "down", cwd=project)
    server_env = project / "configs" / "server.env"
    server_env.write_text(f"ZENML_STORE_URL={mariadb.database(f'empty{secrets.token_hex(3)}')}\n")
    try:
        said = nox("-s", "server", "--", "up", "--port", str(port), cwd=project).stdout
        (line,) = [line for line in said.splitlines() if "starts without them" in line]
        assert "The server's runs are in SQLite in Docker volume" in line
        assert "MySQL/MariaDB mysql://" in line and "is empty" in line
        assert "between databases of one kind only" in line  # SQLite to MySQL: no restore
        assert run_count(project) == 0
        nox("-s", "server", "--", "down", cwd=project)
    finally:
        server_env.unlink()
    again = nox("-s", "server", "--", "up", "--port", str(port), cwd=project).stdout
    assert "starts without them" not in again  # the runs are where the server starts
    assert run_count(project) == runs
