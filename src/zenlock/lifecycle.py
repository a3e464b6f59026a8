"""The project's server from start to stop: `up` runs the current server image with a random
admin password (never a default one) and connects this project's client as a service account
with an API key; `down` stops it (its data stays); `status` says what runs where; `logs`."""

import contextlib
import errno
import http.client
import json
import socket
import time
import urllib.error
import urllib.request
from dataclasses import replace
from pathlib import Path

from . import ZenlockError, backups, database, engine
from .backups import backups_folder
from .credentials import api_get, service_account_key
from .identity import local_stores
from .project import Project
from .projectserver import Server, connected_elsewhere, drop_own_connection, say_connected_elsewhere
from .serverspec import CONTAINER_PORT, SECURE_DEFAULTS
from .state import SERVER_LABEL, URL_LABEL, read_env_file, write_env_file


def up(server: Server) -> None:
    url = server.url
    identity = server.claim()
    data = server.data  # its volume checked first, then the image
    tag, container = data.image, server.container
    # Never write credentials the data lacks.
    if container and not server.project.admin_env.is_file():
        raise ZenlockError(server.lost_admin(f"container {container.name}, {container.status}"))
    if container and container.status == "running":
        if container.labels[URL_LABEL] != url:
            raise ZenlockError(
                f"The server already runs at {container.labels[URL_LABEL]}: to move it to {url}, "
                "run `nox -s server -- down` first."
            )
        print(f"The server already runs at {url} ({container.image.tags[0]}).")
    else:
        if container:
            container.remove(force=True)
        require_network(server.client, server.settings.build.network)
        ensure_port_free(server)
        encryption_key = secrets_key(server) if server.project.admin_env.is_file() else ""
        found = data.probe(encryption_key)
        database.refuse_problem(found, server.server_env, data.network)
        if found["version"] and not server.project.admin_env.is_file():
            raise ZenlockError(server.lost_admin(data.describe()))
        data_version, image_version = found["version"], found["image_version"]
        if database.newer(data_version, image_version):
            raise ZenlockError(database.downgrade_refused(data_version, image_version))
        if found.get("secrets", {}).get("plain"):
            encrypt_plain_secrets(server, found)
        say_store_switched(server.project, data, identity, found)
        container = start(server)
        server.container = container
        print(f"Started {container.name} from {tag}; waiting for {url}/health ...", flush=True)
        wait_healthy(container, url)
        remember_store(server.project, data, identity)
    # The own server's key is sent to the own server only (connect never keeps one there).
    saved = read_env_file(server.project.api_key).get("ZENML_STORE_API_KEY", "")
    key = service_account_key(server.client_account(), url, server.admin(), saved)
    if key != saved:
        write_env_file(server.project.api_key, {"ZENML_STORE_API_KEY": key})
    elsewhere = connected_elsewhere(server.project, url)
    # Paths are not kept here (a moved folder would point at the old place): zenml_environment().
    connection = {"ZENML_STORE_URL": url, "ZENML_STORE_API_KEY": key}
    # A running server's `up` rewrites nothing.
    if read_env_file(server.project.connection) != connection:
        write_env_file(server.project.connection, connection)
    if elsewhere:
        print(f"This project's sessions used the server at {elsewhere} (`connect`) until now.")
    print(f"Server healthy at {url} (dashboard at /; admin login in .zenml-server/admin.env)")
    print(f"This project's sessions connect to it as service account {server.client_account()}.")


def ensure_port_free(server: Server) -> None:
    """The server can listen at host:port: said apart, a host that is not this machine's and
    a port in use (and by which project's server)."""
    host, port = server.settings.host, server.settings.port
    try:
        family, kind, _, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except socket.gaierror:
        raise ZenlockError(
            f"[tool.zenlock.server] host = {host!r} is no address of this machine (the name "
            "does not resolve): use 127.0.0.1 (the default) or one of its addresses."
        ) from None
    with socket.socket(family, kind) as probe:
        # Like the server itself: a port in TIME_WAIT after `down` is free to listen on.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as error:
            if error.errno == errno.EADDRNOTAVAIL:
                raise ZenlockError(
                    f"[tool.zenlock.server] host = {host!r} is not an address of this "
                    "machine: use 127.0.0.1 (the default) or one of its own addresses."
                ) from None
            if error.errno == errno.EACCES:
                raise ZenlockError(
                    f"Port {port} needs privileges to listen on: choose a port above 1023 with "
                    "`nox -s server -- up --port N` or [tool.zenlock.server] port."
                ) from None
            holder = next(
                (
                    f" It is held by {other.name}, the server of {where}: its data stays in "
                    f"its volume; `docker stop {other.name}` frees the port."
                    for other, where in server.other_servers()
                    if other.labels.get(URL_LABEL, "").endswith(f":{port}")
                ),
                "",
            )
            raise ZenlockError(
                f"Port {port} on {host} is in use: stop what listens there, or choose another "
                f"port with `nox -s server -- up --port N` or [tool.zenlock.server] port.{holder}"
            ) from None


def require_network(client, network: str) -> None:
    """Docker's network for the server exists on this engine: said before anything starts."""
    if network not in ("host", "none") and not client.networks.list(names=[network]):
        raise ZenlockError(
            f'This Docker engine has no {network!r} network: set network = "host" in '
            "[tool.zenlock.images] (or [tool.zenlock.server]). Nothing was started."
        )


def wait_healthy(container, url: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    why = f"did not become healthy at {url} within {timeout:.0f} s"
    while time.monotonic() < deadline:
        container.reload()
        # A crash loops under the restart policy: say so at the first exit, not after `timeout`.
        if container.status in ("exited", "dead") or container.attrs.get("RestartCount", 0):
            why = f"stopped before it answered at {url} (exit code {exit_code(container)})"
            break
        if answers(url):
            return
        time.sleep(0.5)
    logs = container.logs(tail=30).decode(errors="replace")
    container.remove(force=True)
    raise ZenlockError(
        f"The server {why}; container {container.status}. Its last log lines:\n{logs}"
    )


def exit_code(container) -> int | str:
    return container.attrs.get("State", {}).get("ExitCode", "unknown")


def answers(url: str) -> bool:
    """A ZenML server's health answer at `url`; anything else on the port (no HTTP) is no."""
    with (
        contextlib.suppress(OSError, http.client.HTTPException),
        urllib.request.urlopen(f"{url}/health", timeout=2) as reply,
    ):
        return reply.status == 200
    return False


def store_file(project: Project, identity: str) -> Path:
    """Which database the server last ran on (described, no password): beside its artifacts."""
    return local_stores(project, identity).parent / "store"


def remember_store(project: Project, data: database.Database, identity: str) -> None:
    kept = store_file(project, identity)
    if not kept.is_file() or kept.read_text() != data.describe():
        kept.write_text(data.describe())


def say_store_switched(
    project: Project, data: database.Database, identity: str, found: dict
) -> None:
    """A server about to start empty on another database than the one its runs are in: said
    in one line, with the way to move them."""
    if found["version"]:
        return  # the new store has data: nothing is left behind
    kept = store_file(project, identity)
    previous = kept.read_text() if kept.is_file() else None
    if previous is None and database.store_url(data.server_env):  # before the store was kept
        was_sqlite = engine.volume_exists(data.client, data.volume)
        sqlite = replace(data, server_env={})
        previous = sqlite.describe() if was_sqlite and sqlite.probe()["version"] else None
    if not previous or previous == data.describe():
        return
    same_kind = previous.split()[0] == data.describe().split()[0]
    move = (
        "to move them, `nox -s server -- backup` with the old ZENML_STORE_URL in the server "
        "env file, then `restore FILE` with the new one"
        if same_kind
        else "backup and restore move runs between databases of one kind only, so keep the "
        'old store to keep them (docs/server.md, "Switching the database")'
    )
    print(
        f"The server's runs are in {previous}; {data.describe()} is empty, so the server "
        f"starts without them ({move})."
    )


def secrets_key(server: Server) -> str:
    return server.admin()["ZENML_SECRETS_STORE_ENCRYPTION_KEY"]


def encrypt_plain_secrets(server: Server, found: dict) -> None:
    """Secrets an earlier server kept unencrypted (the probe `found` them) are encrypted with
    its key, a backup first."""
    plain = found["secrets"]["plain"]
    admin = read_env_file(server.project.admin_env)
    saved = backups.backup(
        server.data, backups_folder(server.project.data_home, server.identity), admin
    )
    server.data.secrets_to_encrypt(secrets_key(server), encrypt=True)
    print(
        f"{len(plain)} secret(s) stored unencrypted ({', '.join(plain)}) are now encrypted with "
        f"the server's key; the backup before: {saved}."
    )


def start(server: Server):
    settings, identity, url = server.settings, server.identity, server.url
    host_network = settings.build.network == "host"
    listen = (settings.host, settings.port) if host_network else ("0.0.0.0", CONTAINER_PORT)
    artifacts = str(local_stores(server.project, identity))
    environment = {
        # The dashboard's own origin may call the API with credentials; no other origin may.
        "ZENML_SERVER_CORS_ALLOW_ORIGINS": url,
        **SECURE_DEFAULTS,
        **server.server_env,
        **server.admin(),
        "ZENML_ANALYTICS_OPT_IN": str(settings.analytics).lower(),
        # The artifact store's files at the path the client and the steps use: the dashboard
        # shows them, and they stay when .zenml-server/ goes.
        "ZENML_LOCAL_STORES_PATH": artifacts,
        # ZenML lets a server read a local store only when told to: this one is mounted
        # read-only, and ZenML keeps each read within the store's folder.
        "ZENML_SERVER_ALLOW_LOCAL_FILE_ACCESS": "true",
        "SERVER_HOST": listen[0],
        "SERVER_PORT": str(listen[1]),
    }
    from docker.errors import APIError  # the SDK's import is slow: only here

    try:
        return server.client.containers.run(
            server.built_image,
            detach=True,
            name=f"{settings.build.name}-{identity}",
            labels={SERVER_LABEL: identity, URL_LABEL: url},
            environment=environment,
            network_mode=settings.build.network,
            ports=None
            if host_network
            else {f"{CONTAINER_PORT}/tcp": (settings.host, settings.port)},
            volumes={
                server.volume: {"bind": "/zenml", "mode": "rw"},
                artifacts: {"bind": artifacts, "mode": "ro"},
            },
            # Up again after the engine restarts (a reboot); `down` stops it for good.
            restart_policy={"Name": "unless-stopped"},
        )
    except APIError as error:
        if error.status_code == 409:
            raise ZenlockError(
                "Another `nox -s server -- up` is starting this project's server: wait for it "
                "to finish, then check with `nox -s server -- status`."
            ) from None
        raise ZenlockError(f"Starting the server failed: {error.explanation}") from None


def down(server: Server) -> None:
    container = server.container
    if not container:
        drop_own_connection(server.project)
        print("No server of this project is running.")
        say_connected_elsewhere(server.project)
        server.say_other_servers()
        return
    url = container.labels[URL_LABEL]
    in_flight = runs_in_flight(server.project.connection, url)
    drop_own_connection(server.project, url)
    for name in in_flight:
        print(
            f"Run {name} is in flight: its steps cannot report to a stopped server, so ZenML "
            "keeps it as running. Run it again after `up`; then delete the stale one with "
            f"`uv run zenlock exec zenml pipeline runs delete {name}`."
        )
    container.stop(timeout=15)
    container.remove()
    server.container = None
    print(f"Stopped {container.name}; its data stays in volume {server.volume_name}.")
    say_connected_elsewhere(server.project)


def runs_in_flight(connection_file: Path, url: str) -> list[str]:
    """Names of the project's runs the server has as running (none if it cannot tell)."""
    connection = read_env_file(connection_file)  # its key only to the server it is for
    key = connection.get("ZENML_STORE_API_KEY") if connection.get("ZENML_STORE_URL") == url else ""
    found = api_get(url, key, "/runs?status=running&size=20") if key else None
    return [run["name"] for run in found["items"]] if found else []


def logs(server: Server, follow: bool) -> None:
    container = server.container
    if not container:
        raise ZenlockError("No server of this project: start it with `nox -s server -- up`.")
    if not follow:
        print(container.logs(tail=100).decode(errors="replace"), end="")
        return
    with contextlib.suppress(KeyboardInterrupt):
        for chunk in container.logs(stream=True, follow=True, tail=100):
            print(chunk.decode(errors="replace"), end="", flush=True)


def status(server: Server) -> None:
    identity, container = server.identity, server.container
    current = server.current_image
    if current is None:
        wanted = f"unknown: parent image {server.settings.build.parent} is not on this machine"
    else:
        wanted = current + (
            "" if engine.image_id(server.client, current) else ", not built (`nox -s server`)"
        )
    volume = server.volume if identity else "(made by the first `up`)"
    stored = database.describe(server.server_env, volume)
    saved = backups.listed(backups_folder(server.project.data_home, identity)) if identity else []
    kept = (
        f"{len(saved)} in {backups_folder(server.project.data_home, identity)}"
        if saved
        else "none (`-- backup`)"
    )
    if not container:
        print(f"Server: not running. Image for the current lock: {wanted}.")
        print(f"Database:   {stored}")
        print(f"Backups:    {kept}" + (f", latest {saved[-1].name}" if saved else ""))
        elsewhere = connected_elsewhere(server.project)
        if elsewhere:
            print(f"Client:     uses the server at {elsewhere} (`connect`)")
        server.say_other_servers()
        return
    url = container.labels[URL_LABEL]
    image = container.image.tags[0] if container.image.tags else container.image.id
    health = container.attrs["State"].get("Health", {}).get("Status", "unknown")
    info, database_down = {}, False
    try:
        with urllib.request.urlopen(f"{url}/api/v1/info", timeout=5) as response:
            info = json.load(response)
    except urllib.error.HTTPError as error:  # it runs, but cannot read its data
        database_down = error.code >= 500
    except (OSError, ValueError):
        pass
    elsewhere = connected_elsewhere(server.project, url)
    if elsewhere:  # the truth about where the sessions go: not to this server
        connected = f"uses the server at {elsewhere} (`connect`), not this one; `up` connects it"
    elif not server.project.connection.is_file():
        connected = "not connected"
    else:
        connected = "connected with an API key" if info else "not reachable: `nox -s server -- up`"
    analytics = {True: "on", False: "off"}.get(info.get("analytics_enabled"), "unknown")
    if database_down:
        health = "unhealthy: its database does not answer (start the database; it reconnects)"
    print(f"Server:     {container.name} ({container.status}, {health})")
    print(f"Image:      {image}{'' if image == current else f' (the lock now wants {wanted})'}")
    print(f"URL:        {url}")
    print(f"Version:    ZenML {info.get('version', 'unreachable')}")
    reported = f" (the server reports {info['database_type']})" if "database_type" in info else ""
    print(f"Database:   {stored}{reported}")
    print(f"Backups:    {kept}" + (f", latest {saved[-1].name}" if saved else ""))
    print(f"Artifacts:  {local_stores(server.project, identity)}")
    print(f"Analytics:  {analytics} ([tool.zenlock.server] analytics)")
    print(f"Client:     {connected}")
    server.say_other_servers()
