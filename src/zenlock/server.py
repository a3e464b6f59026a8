"""The project's ZenML server: `nox -s server [-- up | down | logs | status | backup | restore]`.

Without an action it builds the server image from the lock's `server` group. `up` runs it
with a random admin password (never a default one) and connects this project's client as a
service account with an API key; the credentials stay in .zenml-server/, readable by you only.
Its data is in SQLite in a Docker volume, or in MySQL/MariaDB when the server env file's
ZENML_STORE_URL names one; `up` checks that the database answers before the server starts.
`backup` and `restore FILE` copy the database out and back (see zenlock/backups.py).
`reset-admin` sets new admin credentials on the server's data (after a lost admin.env);
`detach` gives a copied project folder its own server; `claim` tells a folder whose copy and
original both left their place that it is the one that owns the server. `helm --url URL`
writes values for ZenML's Helm chart that run the pushed image (zenlock/helmvalues.py).
`connect URL` points this project's sessions at a server it does not run (deploy/compose.yaml).
"""

import argparse
import contextlib
import errno
import getpass
import http.client
import json
import shutil
import socket
import time
import urllib.error
import urllib.request
from dataclasses import replace
from pathlib import Path

from . import ZenlockError, backups, database, engine, helmvalues, lock, registry
from .backups import backups_folder
from .credentials import (
    admin_credentials,
    api_get,
    login_token,
    reset_credentials,
    server_info,
    service_account_key,
)
from .database import data_volume
from .imagespec import Builder, activated
from .inputs import (
    http_url,
    image_reference,
    kubernetes_name,
    platforms,
    port_number,
    server_url,
)
from .serverspec import (
    CONTAINER_PORT,
    SECURE_DEFAULTS,
    built_image,
    current_image,
    server_groups,
    server_spec,
)
from .settings import ServerSettings, server_settings
from .state import (
    ADMIN_ENV,
    API_KEY,
    CONNECTION,
    IDENTITY,
    ROOT,
    SERVER_CLIENT_CONFIG,
    SERVER_LABEL,
    URL_LABEL,
    claim_id,
    local_stores,
    owner_of,
    port_of,
    project_id,
    read_env_file,
    read_record,
    state_of,
    update_record,
    write_env_file,
)


def build(settings: ServerSettings, *, no_cache: bool, push: bool) -> None:
    if push and not settings.build.registry:
        raise ZenlockError("--push needs a registry: set [tool.zenlock.images] registry.")
    builder = Builder(settings.build, no_cache=no_cache)
    platforms = builder.platforms()
    parents = dict.fromkeys(map(settings.build.parent_for, platforms))
    print(f"Server image ({', '.join(platforms)}, parent {', '.join(parents)}):", flush=True)
    previous = read_record().get("server", {})
    recorded = {v["tag"]: v for v in [*previous.get("platforms", []), previous] if v.get("tag")}
    variants = []
    for platform in platforms:
        tag = builder.ensure(server_spec(settings, platform))
        digest = engine.push(builder.client, tag) if push else engine.digest_in(builder.client, tag)
        # Its integrations (`add NAME --server`) activate in it: once per image id.
        active = activated(
            builder.client,
            tag,
            settings.build.network,
            server_groups(),
            recorded.get(tag, {}).get("activated"),
        )
        variant = {"platform": platform, "tag": tag, "activated": active}
        variants.append(variant | ({"digest": digest} if digest else {}))
    record = builder.combined(variants, push, previous)
    registry.save()
    update_record(server={**record, "groups": server_groups(), "lock_sha256": lock.lock_hash()})


def ensure_port_free(client, host: str, port: int, identity: str) -> None:
    """The server can listen at host:port: said apart, a host that is not this machine's and
    a port in use (and by which project's server)."""
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
                    for other, where in other_servers(client, identity)
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


def other_servers(client, identity: str | None) -> list[tuple]:
    """Server containers of other projects, and where each project is: its folder, or why it
    has none (deleted; moved before ids were kept). Servers are data: never to be removed."""
    found = []
    for container in client.containers.list(all=True, filters={"label": SERVER_LABEL}):
        other = container.labels[SERVER_LABEL]
        if other == identity:
            continue
        owner = owner_of(other)
        if owner is None:
            where = "a project with no folder known here (another user's, or made before ids)"
        elif owner.is_dir():
            where = f"the project in {owner}"
        else:
            where = f"the project that was in {owner} (moved or deleted since)"
        found.append((container, where))
    return found


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


def connect(settings: ServerSettings, address: str, user: str, allow_http: bool) -> None:
    """This project's sessions on a server it does not run (deploy/compose.yaml, Helm): the
    admin's password, asked once and never kept, mints the project's service-account key.
    Nothing is sent before /api/v1/info shows a ZenML server with password logins, and no
    key this project holds for another server is ever sent to it."""
    url, _ = server_url(address, "connect URL", allow_http=allow_http)
    info, why = server_info(url)
    if info is None:
        raise ZenlockError(
            f"No ZenML server answers at {url} ({why}): start it, or check the URL. Nothing "
            "was sent to it and nothing was changed."
        )
    if info["auth_scheme"] != "OAUTH2_PASSWORD_BEARER":
        raise ZenlockError(
            f"The ZenML server at {url} logs in by {info['auth_scheme']}: `connect` needs "
            "password logins (OAUTH2_PASSWORD_BEARER, as every server zenlock deploys has). "
            "Nothing was sent to it and nothing was changed."
        )
    password = getpass.getpass(f"Password of {user} on {url}: ")
    if login_token(url, {"username": user, "password": password}) is None:
        raise ZenlockError(f"The server at {url} refused {user}'s password. Nothing was changed.")
    admin = {"ZENML_DEFAULT_USER_NAME": user, "ZENML_DEFAULT_USER_PASSWORD": password}
    claim_id()  # the project's own id: its ZenML config and local stores are kept under it
    key = service_account_key(client_account(settings), url, admin)  # a new one: no saved key
    write_env_file(CONNECTION, {"ZENML_STORE_URL": url, "ZENML_STORE_API_KEY": key})
    print(
        f"This project's sessions now use the server at {url} (ZenML {info['version']}), "
        f"as service account {client_account(settings)}; `nox -s server -- up` connects them "
        "to its own server again."
    )


def connected_elsewhere(own_url: str | None = None) -> str | None:
    """The URL of the server client.env connects the sessions to when it is not the project's
    own (`connect`), else None. The own server's connection is at `own_url` while it runs,
    and holds the own server's key (.zenml-server/api-key) in any case."""
    connection = read_env_file(CONNECTION)
    url = connection.get("ZENML_STORE_URL")
    if own_url is not None:
        return url if url and url != own_url else None
    own_key = read_env_file(API_KEY).get("ZENML_STORE_API_KEY")
    return None if not url or connection.get("ZENML_STORE_API_KEY") == own_key else url


def drop_own_connection(own_url: str | None = None) -> None:
    """client.env goes with the own server; a connection to another server (`connect`) stays."""
    if connected_elsewhere(own_url) is None:
        CONNECTION.unlink(missing_ok=True)


def client_account(settings: ServerSettings) -> str:
    """The service account this project's sessions use on its server."""
    return f"{settings.build.name}-client"


def up(settings: ServerSettings) -> None:
    client = engine.connect()
    url = http_url(settings.host, settings.port)
    identity = claim_id()
    volume = data_volume(settings, identity, client)
    tag = built_image(client, settings)
    container = engine.labelled_container(client, SERVER_LABEL, identity)
    data = database.of_server(client, tag, settings, volume)
    server_env = data.server_env
    if container and not ADMIN_ENV.is_file():  # never write credentials the data lacks
        raise ZenlockError(lost_admin(f"container {container.name}, {container.status}"))
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
        require_network(client, settings.build.network)
        ensure_port_free(client, settings.host, settings.port, identity)
        encryption_key = secrets_key(server_env) if ADMIN_ENV.is_file() else ""
        found = data.probe(encryption_key)
        database.refuse_problem(found, server_env, data.network)
        if found["version"] and not ADMIN_ENV.is_file():
            raise ZenlockError(lost_admin(data.describe()))
        data_version, image_version = found["version"], found["image_version"]
        if database.newer(data_version, image_version):
            raise ZenlockError(database.downgrade_refused(data_version, image_version))
        if found.get("secrets", {}).get("plain"):
            encrypt_plain_secrets(data, identity, found)
        say_store_switched(data, identity, found)
        container = start(client, settings, identity, tag, url, server_env)
        print(f"Started {container.name} from {tag}; waiting for {url}/health ...", flush=True)
        wait_healthy(container, url)
        remember_store(data, identity)
    # The own server's key is sent to the own server only (connect never keeps one there).
    saved = read_env_file(API_KEY).get("ZENML_STORE_API_KEY", "")
    key = service_account_key(client_account(settings), url, admin_credentials(server_env), saved)
    if key != saved:
        write_env_file(API_KEY, {"ZENML_STORE_API_KEY": key})
    elsewhere = connected_elsewhere(url)
    # Paths are not kept here (a moved folder would point at the old place): zenml_environment().
    connection = {"ZENML_STORE_URL": url, "ZENML_STORE_API_KEY": key}
    if read_env_file(CONNECTION) != connection:  # a running server's `up` rewrites nothing
        write_env_file(CONNECTION, connection)
    if elsewhere:
        print(f"This project's sessions used the server at {elsewhere} (`connect`) until now.")
    print(f"Server healthy at {url} (dashboard at /; admin login in {ADMIN_ENV.relative_to(ROOT)})")
    print(f"This project's sessions connect to it as service account {client_account(settings)}.")


def lost_admin(where: str) -> str:
    return (
        f"{ADMIN_ENV.relative_to(ROOT)} is gone, but the server's data ({where}) still has its "
        "admin: a new password would not match. Set a new one with `nox -s server -- "
        "reset-admin` (every run is kept)."
    )


def store_file(identity: str) -> Path:
    """Which database the server last ran on (described, no password): beside its artifacts."""
    return local_stores(identity).parent / "store"


def remember_store(data: database.Database, identity: str) -> None:
    if not store_file(identity).is_file() or store_file(identity).read_text() != data.describe():
        store_file(identity).write_text(data.describe())


def say_store_switched(data: database.Database, identity: str, found: dict) -> None:
    """A server about to start empty on another database than the one its runs are in: said
    in one line, with the way to move them."""
    if found["version"]:
        return  # the new store has data: nothing is left behind
    previous = store_file(identity).read_text() if store_file(identity).is_file() else None
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


def secrets_key(server_env: dict) -> str:
    return admin_credentials(server_env)["ZENML_SECRETS_STORE_ENCRYPTION_KEY"]


def encrypt_plain_secrets(data: database.Database, identity: str, found: dict) -> None:
    """Secrets an earlier server kept unencrypted (the probe `found` them) are encrypted with
    its key, a backup first."""
    plain = found["secrets"]["plain"]
    saved = backups.backup(data, backups_folder(identity))
    data.secrets_to_encrypt(secrets_key(data.server_env), encrypt=True)
    print(
        f"{len(plain)} secret(s) stored unencrypted ({', '.join(plain)}) are now encrypted with "
        f"the server's key; the backup before: {saved}."
    )


def start(
    client, settings: ServerSettings, identity: str, tag: str, url: str, server_env: dict[str, str]
):
    host_network = settings.build.network == "host"
    listen = (settings.host, settings.port) if host_network else ("0.0.0.0", CONTAINER_PORT)
    artifacts = str(local_stores(identity))
    environment = {
        # The dashboard's own origin may call the API with credentials; no other origin may.
        "ZENML_SERVER_CORS_ALLOW_ORIGINS": url,
        **SECURE_DEFAULTS,
        **server_env,
        **admin_credentials(server_env),
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
        return client.containers.run(
            tag,
            detach=True,
            name=f"{settings.build.name}-{identity}",
            labels={SERVER_LABEL: identity, URL_LABEL: url},
            environment=environment,
            network_mode=settings.build.network,
            ports=None
            if host_network
            else {f"{CONTAINER_PORT}/tcp": (settings.host, settings.port)},
            volumes={
                data_volume(settings, identity): {"bind": "/zenml", "mode": "rw"},
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


def reset_admin(settings: ServerSettings) -> None:
    """New admin credentials for the server's data: the documented way back from a lost or
    weak password. The server is stopped for it; every run and the client's key are kept."""
    client = engine.connect()
    tag = built_image(client, settings)
    identity = claim_id()
    volume = data_volume(settings, identity, client)
    data = database.of_server(client, tag, settings, volume)
    found = data.probe()
    database.refuse_problem(found, data.server_env, data.network)
    if not found["version"]:
        raise ZenlockError(
            "This project's server has no data yet: `nox -s server -- up` creates it."
        )
    old = read_env_file(ADMIN_ENV)
    credentials = reset_credentials(old, data.server_env)
    container = engine.labelled_container(client, SERVER_LABEL, identity)
    drop_own_connection(container.labels[URL_LABEL] if container else None)
    if container:
        container.remove(force=True)
        print(f"Stopped {container.name}.")
    try:
        said = data.set_admin_password(credentials)
    except ZenlockError as error:
        raise ZenlockError(f"Setting the admin's password failed: {error}") from None
    write_env_file(ADMIN_ENV, credentials)
    print(said)
    print(f"New admin credentials in {ADMIN_ENV.relative_to(ROOT)}; start the server with `up`.")
    if "ZENML_SECRETS_STORE_ENCRYPTION_KEY" not in old:
        print(
            "The secrets' key was in the lost admin.env: secrets the server encrypted with it "
            "cannot be read any more, unless a backup's key file (beside each backup) still "
            "has it: restoring that backup makes them readable again. Otherwise create them "
            "again (`zenml secret create`)."
        )


def down(settings: ServerSettings) -> None:
    client = engine.connect()
    identity = project_id()
    container = engine.labelled_container(client, SERVER_LABEL, identity)
    if not container:
        drop_own_connection()
        print("No server of this project is running.")
        say_connected_elsewhere()
        say_other_servers(client, identity)
        return
    url = container.labels[URL_LABEL]
    in_flight = runs_in_flight(url)
    drop_own_connection(url)
    for name in in_flight:
        print(
            f"Run {name} is in flight: its steps cannot report to a stopped server, so ZenML "
            "keeps it as running. Run it again after `up`; then delete the stale one with "
            f"`uv run zenlock exec zenml pipeline runs delete {name}`."
        )
    container.stop(timeout=15)
    container.remove()
    volume = data_volume(settings, container.labels[SERVER_LABEL])
    print(f"Stopped {container.name}; its data stays in volume {volume}.")
    say_connected_elsewhere()


def say_connected_elsewhere() -> None:
    elsewhere = connected_elsewhere()
    if elsewhere:
        print(f"This project's sessions use the server at {elsewhere} (`connect`).")


def say_other_servers(client, identity: str | None) -> None:
    """Other projects' servers on this engine, and where their projects are. Never advice to
    remove one: a server's volume is the only copy of its runs and secrets."""
    for other, where in other_servers(client, identity):
        print(
            f"Also here: {other.name} ({other.status}, {other.labels.get(URL_LABEL)}), the "
            f"server of {where}."
        )


def runs_in_flight(url: str) -> list[str]:
    """Names of the project's runs the server has as running (none if it cannot tell)."""
    connection = read_env_file(CONNECTION)  # its key only to the server it is for
    key = connection.get("ZENML_STORE_API_KEY") if connection.get("ZENML_STORE_URL") == url else ""
    found = api_get(url, key, "/runs?status=running&size=20") if key else None
    return [run["name"] for run in found["items"]] if found else []


def detach(settings: ServerSettings) -> None:
    """A copied folder's own identity: the credentials it copied stay with the original."""
    if state_of() in ("own", "moved", "new"):
        raise ZenlockError(
            "This folder is not a copy: it owns its server, admin credentials and secrets key, "
            "and `detach` would leave them orphaned. `detach` is for a copied folder (a "
            "session says so there). Nothing was changed."
        )
    original = owner_of(IDENTITY.read_text().strip())
    for copied in (ADMIN_ENV, API_KEY, CONNECTION):
        copied.unlink(missing_ok=True)
    shutil.rmtree(SERVER_CLIENT_CONFIG, ignore_errors=True)
    identity = claim_id(new=True)
    print(f"This folder is now project {identity}, apart from {original or 'any other'}.")
    print("It has no server yet: `nox -s server -- up` (on a free port) starts one.")


def claim(settings: ServerSettings) -> None:
    """This folder owns the server its id names: for a project whose copy and original both
    left the place the server last saw (a sessions says when); the other one then detaches."""
    if state_of() != "unsure":
        raise ZenlockError(
            "Nothing to claim: this folder's sessions already know which server is theirs."
        )
    identity = IDENTITY.read_text().strip()
    was = owner_of(identity)
    claim_id(claiming=True)
    print(f"This folder now owns project {identity}'s server (last seen at {was}).")
    print(
        "Every other folder with this id, the original too wherever it went, is now a copy: "
        "its sessions refuse until `nox -s server -- detach` gives it a new, empty server, "
        "and it cannot claim this one back."
    )


def backup(settings: ServerSettings, target: str | None) -> None:
    identity = existing_id()
    client = engine.connect()
    container = engine.labelled_container(client, SERVER_LABEL, identity)
    running = container and container.status == "running"
    # The running server's image reads its data best; else the lock's (the data's version
    # is checked against it).
    image = container.image.id if running else built_image(client, settings)
    folder = Path(target) if target else backups_folder(identity)
    volume = data_volume(settings, identity, client)
    backups.backup(database.of_server(client, image, settings, volume), folder)


def restore(settings: ServerSettings, source: str, yes: bool, another_server: bool) -> None:
    identity = existing_id()
    client = engine.connect()
    container = engine.labelled_container(client, SERVER_LABEL, identity)
    was_running = bool(container and container.status == "running")
    tag = built_image(client, settings)
    volume = data_volume(settings, identity, client)
    backups.restore(
        database.of_server(client, tag, settings, volume), Path(source),
        yes=yes, another_server=another_server, container=container,
        safety_folder=backups_folder(identity), admin=read_env_file(ADMIN_ENV),
    )  # fmt: skip
    drop_own_connection(container.labels[URL_LABEL] if container else None)
    if was_running:
        up(replace(settings, port=port_of(container)))  # where it ran, as `up --port` put it
    else:
        print("Start the server with `nox -s server -- up` (it migrates the data if needed).")


def existing_id() -> str:
    identity = project_id()
    if identity is None:
        raise ZenlockError("This project has no server yet: `nox -s server -- up` makes one.")
    return identity


def logs(settings: ServerSettings, follow: bool) -> None:
    container = engine.labelled_container(engine.connect(), SERVER_LABEL, project_id())
    if not container:
        raise ZenlockError("No server of this project: start it with `nox -s server -- up`.")
    if not follow:
        print(container.logs(tail=100).decode(errors="replace"), end="")
        return
    with contextlib.suppress(KeyboardInterrupt):
        for chunk in container.logs(stream=True, follow=True, tail=100):
            print(chunk.decode(errors="replace"), end="", flush=True)


def status(settings: ServerSettings) -> None:
    client = engine.connect()
    identity = project_id()
    container = engine.labelled_container(client, SERVER_LABEL, identity)
    current = current_image(client, settings)
    if current is None:
        wanted = f"unknown: parent image {settings.build.parent} is not on this machine"
    else:
        wanted = current + (
            "" if engine.image_id(client, current) else ", not built (`nox -s server`)"
        )
    server_env = read_env_file(ROOT / settings.env_file)
    volume = data_volume(settings, identity, client) if identity else "(made by the first `up`)"
    stored = database.describe(server_env, volume)
    saved = backups.listed(backups_folder(identity)) if identity else []
    kept = f"{len(saved)} in {backups_folder(identity)}" if saved else "none (`-- backup`)"
    if not container:
        print(f"Server: not running. Image for the current lock: {wanted}.")
        print(f"Database:   {stored}")
        print(f"Backups:    {kept}" + (f", latest {saved[-1].name}" if saved else ""))
        elsewhere = connected_elsewhere()
        if elsewhere:
            print(f"Client:     uses the server at {elsewhere} (`connect`)")
        say_other_servers(client, identity)
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
    elsewhere = connected_elsewhere(url)
    if elsewhere:  # the truth about where the sessions go: not to this server
        connected = f"uses the server at {elsewhere} (`connect`), not this one; `up` connects it"
    elif not CONNECTION.is_file():
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
    print(f"Artifacts:  {local_stores(identity)}")
    print(f"Analytics:  {analytics} ([tool.zenlock.server] analytics)")
    print(f"Client:     {connected}")
    say_other_servers(client, identity)


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="nox -s server --", description=__doc__)
    actions = ["build", "up", "down", "logs", "status", "backup", "restore"]
    actions += ["reset-admin", "detach", "claim", "helm", "connect"]
    parser.add_argument("action", nargs="?", default="build", choices=actions)
    parser.add_argument(
        "file", nargs="?", help="backup: file or folder; restore: backup; connect: server URL"
    )
    parser.add_argument("--push", action="store_true", help="build: push to the registry")
    parser.add_argument("--no-cache", action="store_true", help="build: rebuild even if up to date")
    parser.add_argument("--parent-image", help="build: parent image for this build only")
    parser.add_argument("--platform", help="build: for these platforms (linux/amd64,linux/arm64)")
    parser.add_argument("--port", help="up: port on the host")
    parser.add_argument("--follow", "-f", action="store_true", help="logs: keep following")
    parser.add_argument("--yes", action="store_true", help="restore: do not ask")
    parser.add_argument("--url", help="helm: the server's public URL (https://HOST[/PATH])")
    parser.add_argument("--secret", help="helm: the Kubernetes secret of its credentials")
    parser.add_argument("--user", default="admin", help="connect: an admin account's name")
    parser.add_argument(
        "--allow-http",
        action="store_true",
        help="connect, helm: plain http:// to another machine (passwords in clear)",
    )
    parser.add_argument(
        "--from-another-server",
        action="store_true",
        help="restore: a backup of another project's server replaces this one's data",
    )
    args = parser.parse_args(argv)
    settings = server_settings()
    if args.parent_image:
        parent = image_reference(args.parent_image, "--parent-image")
        settings = replace(settings, build=replace(settings.build, parent=parent))
    if args.platform:
        chosen = platforms(args.platform, "--platform")
        settings = replace(settings, build=replace(settings.build, platforms=chosen))
    if args.port is not None:
        settings = replace(settings, port=port_number(args.port, "--port"))
    if args.action == "build":
        build(settings, no_cache=args.no_cache, push=args.push)
    elif args.action == "up":
        up(settings)
    elif args.action == "down":
        down(settings)
    elif args.action == "logs":
        logs(settings, args.follow)
    elif args.action == "backup":
        backup(settings, args.file)
    elif args.action == "restore":
        if not args.file:
            parser.error("restore needs the backup file (`-- status` lists them)")
        restore(settings, args.file, args.yes, args.from_another_server)
    elif args.action == "reset-admin":
        reset_admin(settings)
    elif args.action == "detach":
        detach(settings)
    elif args.action == "claim":
        claim(settings)
    elif args.action == "connect":
        if not args.file:
            parser.error("connect needs the server's URL (http://127.0.0.1:8080)")
        connect(settings, args.file, args.user, args.allow_http)
    elif args.action == "helm":
        if not args.url:
            parser.error(
                "helm needs --url, where the cluster serves it (https://zenml.example.com)"
            )
        url, origin = server_url(args.url, "--url", allow_http=args.allow_http)
        secret = kubernetes_name(args.secret or settings.build.name, "--secret")
        helmvalues.write(settings, url, origin, secret)
    else:
        status(settings)
