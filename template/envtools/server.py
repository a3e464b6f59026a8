"""The project's ZenML server: `nox -s server [-- up | down | logs | status | backup | restore]`.

Without an action it builds the server image from the lock's `server` group. `up` runs it
with a random admin password (never a default one) and connects this project's client as a
service account with an API key; the credentials stay in .zenml-server/, readable by you only.
Its data is in SQLite in a Docker volume, or in MySQL/MariaDB when the server env file's
ZENML_STORE_URL names one; `up` checks that the database answers before the server starts.
`backup` and `restore FILE` copy the database out and back (see envtools/backups.py).
`reset-admin` sets new admin credentials on the server's data (after a lost admin.env);
`detach` gives a copied project folder its own server.
"""

import argparse
import contextlib
import json
import shutil
import socket
import time
import urllib.request
from dataclasses import replace
from pathlib import Path

from docker.errors import APIError, ContainerError

from . import EnvtoolsError, backups, database, engine, lock, registry
from .credentials import admin_credentials, reset_credentials, service_account_key
from .imagespec import (
    Builder,
    ImageSpec,
    activated,
    locked_spec,
    planned_tag,
    tree_contents,
)
from .inputs import image_reference, port_number
from .settings import ServerSettings, server_settings
from .state import (
    ADMIN_ENV,
    API_KEY,
    CONNECTION,
    DATA_HOME,
    IDENTITY,
    ROOT,
    SERVER_CLIENT_CONFIG,
    SERVER_LABEL,
    claim_id,
    local_stores,
    owner_of,
    project_id,
    read_env_file,
    read_record,
    update_record,
    write_env_file,
)

# ZenML's own settings that make its claims hold (docs/server.md; the server env file may
# set others): secrets encrypted with the key in admin.env (ZenML ignores the key unless the
# store has a type), logins rate-limited per client address, access tokens that expire.
SECURE_DEFAULTS = {
    "ZENML_SECRETS_STORE_TYPE": "sql",
    "ZENML_SERVER_RATE_LIMIT_ENABLED": "true",
    "ZENML_SERVER_LOGIN_RATE_LIMIT_MINUTE": "5",
    "ZENML_SERVER_LOGIN_RATE_LIMIT_DAY": "1000",
    "ZENML_SERVER_JWT_TOKEN_EXPIRE_MINUTES": "60",
}
URL_LABEL = "envtools.server-url"  # where `up` made it listen, for `status` and a second `up`
CONTAINER_PORT = 8080


def plugin_package(settings: ServerSettings) -> tuple[Path, str] | None:
    """The local plugin package the server imports (its folder and distribution name)."""
    if not settings.plugins:
        return None
    folder = ROOT / settings.plugins
    if not (folder / "pyproject.toml").is_file():
        raise EnvtoolsError(f"Server plugin package {folder} has no pyproject.toml.")
    return folder, lock.read_toml(folder / "pyproject.toml")["project"]["name"]


def server_spec(settings: ServerSettings) -> ImageSpec:
    """The parent plus the locked `server` group; the plugin package goes in as a wheel."""
    plugin = plugin_package(settings)
    leave_out = ["--no-emit-package", plugin[1]] if plugin else []
    selection = lock.selection("server", server_groups())
    requirements = lock.export([*selection, *leave_out])

    def add_plugin_wheel(context: Path) -> None:
        (context / "wheels").mkdir()
        if plugin:
            lock.uv(
                "build", "--wheel", "--quiet", "--out-dir", str(context / "wheels"), str(plugin[0])
            )

    return locked_spec(
        "server",
        settings.build,
        "server.Dockerfile",
        requirements,
        *(tree_contents(plugin[0]) if plugin else ()),
        sbom=lock.sbom(selection),  # the plugin package included
        add_files=add_plugin_wheel,
    )


def server_groups() -> list[str]:
    """The `server` group and the integrations the server imports (`-- add NAME --server`)."""
    return ["server", *lock.integration_groups("server")]


def build(settings: ServerSettings, *, no_cache: bool, push: bool) -> None:
    print(f"Server image (parent {settings.build.parent}):", flush=True)
    builder = Builder(settings.build, no_cache=no_cache)
    tag = builder.ensure(server_spec(settings))
    if push and not settings.build.registry:
        raise EnvtoolsError("--push needs a registry: set [tool.envtools.images] registry.")
    digest = engine.push(builder.client, tag) if push else engine.digest_in(builder.client, tag)
    previous = read_record().get("server", {})
    record = {"tag": tag, "groups": server_groups(), "lock_sha256": lock.lock_hash()}
    # Its integrations (`add NAME --server`) activate in it: once per image id.
    record["activated"] = activated(
        builder.client,
        tag,
        settings.build.network,
        server_groups(),
        previous.get("activated") if previous.get("tag") == tag else None,
    )
    registry.save()
    update_record(server={**record, **({"digest": digest} if digest else {})})


def current_image(client, settings: ServerSettings) -> str | None:
    """The server image of the current lock and plugins, if built here (never pulls)."""
    return planned_tag(client, server_spec(settings))


def built_image(client, settings: ServerSettings) -> str:
    """The server image of the current lock and plugins; an error when it is not built."""
    tag = current_image(client, settings)
    if not tag or not engine.image_id(client, tag):
        raise EnvtoolsError(
            "No server image for the current lock and plugins: run `nox -s server`."
        )
    return tag


def ensure_port_free(client, host: str, port: int) -> None:
    with socket.socket() as probe:
        # Like the server itself: a port in TIME_WAIT after `down` is free to listen on.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            holder = next(
                (
                    f" It is held by {orphan.name}, the server of a project folder that is gone "
                    f"({reason}): stop it with `docker rm -f {orphan.name}`."
                    for orphan, reason in orphaned_servers(client)
                    if orphan.labels.get(URL_LABEL, "").endswith(f":{port}")
                ),
                "",
            )
            raise EnvtoolsError(
                f"Port {port} on {host} is in use: stop what listens there, or choose another "
                f"port with `nox -s server -- up --port N` or [tool.envtools.server] port.{holder}"
            ) from None


def orphaned_servers(client) -> list[tuple]:
    """Server containers whose project folder no longer claims them, and why: the folder was
    deleted, or moved before ids were kept (named after the path then)."""
    orphans = []
    for container in client.containers.list(all=True, filters={"label": SERVER_LABEL}):
        identity = container.labels[SERVER_LABEL]
        owner = owner_of(identity)
        if owner is None:
            orphans.append((container, "made before project ids were kept, or by another user"))
        elif not owner.is_dir():
            orphans.append((container, f"was at {owner}"))
    return orphans


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
    raise EnvtoolsError(
        f"The server {why}; container {container.status}. Its last log lines:\n{logs}"
    )


def exit_code(container) -> int | str:
    return container.attrs.get("State", {}).get("ExitCode", "unknown")


def answers(url: str) -> bool:
    with contextlib.suppress(OSError), urllib.request.urlopen(f"{url}/health", timeout=2) as reply:
        return reply.status == 200
    return False


def up(settings: ServerSettings) -> None:
    client = engine.connect()
    tag = built_image(client, settings)
    url = f"http://{settings.host}:{settings.port}"
    identity = claim_id()
    container = engine.labelled_container(client, SERVER_LABEL, identity)
    server_env = read_env_file(ROOT / settings.env_file)
    if container and not ADMIN_ENV.is_file():  # never write credentials the data lacks
        raise EnvtoolsError(lost_admin(f"container {container.name}, {container.status}"))
    if container and container.status == "running":
        if container.labels[URL_LABEL] != url:
            raise EnvtoolsError(
                f"The server already runs at {container.labels[URL_LABEL]}: to move it to {url}, "
                "run `nox -s server -- down` first."
            )
        print(f"The server already runs at {url} ({container.image.tags[0]}).")
    else:
        if container:
            container.remove(force=True)
        volume = data_volume(settings, identity)
        ensure_port_free(client, settings.host, settings.port)
        found = database.probe(client, tag, settings, server_env, volume)
        database.refuse_problem(found, server_env, settings.build.network)
        if found["version"] and not ADMIN_ENV.is_file():
            raise EnvtoolsError(lost_admin(database.describe(server_env, volume)))
        data_version, image_version = found["version"], found["image_version"]
        if database.newer(data_version, image_version):
            raise EnvtoolsError(database.downgrade_refused(data_version, image_version))
        if data_version:
            encrypt_plain_secrets(client, settings, tag, server_env, volume, identity)
        container = start(client, settings, identity, tag, url, server_env)
        print(f"Started {container.name} from {tag}; waiting for {url}/health ...", flush=True)
        wait_healthy(container, url)
    key = service_account_key(f"{settings.build.name}-client", url, admin_credentials(server_env))
    # Paths are not kept here (a moved folder would point at the old place): zenml_environment().
    write_env_file(CONNECTION, {"ZENML_STORE_URL": url, "ZENML_STORE_API_KEY": key})
    print(f"Server healthy at {url} (dashboard at /; admin login in {ADMIN_ENV.relative_to(ROOT)})")
    print(f"This project's sessions connect to it as service account {settings.build.name}-client.")


def lost_admin(where: str) -> str:
    return (
        f"{ADMIN_ENV.relative_to(ROOT)} is gone, but the server's data ({where}) still has its "
        "admin: a new password would not match. Set a new one with `nox -s server -- "
        "reset-admin` (every run is kept)."
    )


def encrypt_plain_secrets(
    client, settings: ServerSettings, tag: str, server_env: dict, volume: str, identity: str
) -> None:
    """Secrets an earlier server kept unencrypted are encrypted with its key, a backup first."""
    key = admin_credentials(server_env)["ZENML_SECRETS_STORE_ENCRYPTION_KEY"]
    plain = database.plain_secrets(client, tag, settings, server_env, volume, key)
    if not plain:
        return
    saved = backups.backup(client, settings, tag, volume, backups_folder(identity))
    database.plain_secrets(client, tag, settings, server_env, volume, key, encrypt=True)
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
            raise EnvtoolsError(
                "Another `nox -s server -- up` is starting this project's server: wait for it "
                "to finish, then check with `nox -s server -- status`."
            ) from None
        raise EnvtoolsError(f"Starting the server failed: {error.explanation}") from None


# Run in a one-off container of the server image on the data volume: ZenML's SQL store
# itself sets the admin's password (the REST API would want the old one).
RESET_ADMIN = """
import os
from zenml.models import UserUpdate
from zenml.zen_stores.sql_zen_store import SqlZenStore, SqlZenStoreConfiguration

config = SqlZenStoreConfiguration(url=os.environ["ZENML_STORE_URL"])
store = SqlZenStore(config=config, skip_default_registrations=True)
admin = store.get_user(os.environ["ENVTOOLS_ADMIN"])
store.update_user(admin.id, UserUpdate(password=os.environ["ENVTOOLS_PASSWORD"]))
print("password set for", admin.name)
"""


def reset_admin(settings: ServerSettings) -> None:
    """New admin credentials for the server's data: the documented way back from a lost or
    weak password. The server is stopped for it; every run and the client's key are kept."""
    client = engine.connect()
    tag = built_image(client, settings)
    identity = claim_id()
    volume = data_volume(settings, identity)
    if not engine.volume_exists(client, volume):
        raise EnvtoolsError(
            "This project's server has no data yet: `nox -s server -- up` creates it."
        )
    old = read_env_file(ADMIN_ENV)
    credentials = reset_credentials(old, read_env_file(ROOT / settings.env_file))
    container = engine.labelled_container(client, SERVER_LABEL, identity)
    if container:
        container.remove(force=True)
        print(f"Stopped {container.name}.")
    CONNECTION.unlink(missing_ok=True)
    try:
        output = client.containers.run(
            tag,
            ["python", "-c", RESET_ADMIN],
            entrypoint=[],
            environment={
                "ENVTOOLS_ADMIN": credentials["ZENML_DEFAULT_USER_NAME"],
                "ENVTOOLS_PASSWORD": credentials["ZENML_DEFAULT_USER_PASSWORD"],
                "ZENML_ANALYTICS_OPT_IN": "false",
            },
            volumes={volume: {"bind": "/zenml", "mode": "rw"}},
            network_mode="none",
            remove=True,
        )
    except ContainerError as error:
        said = (error.stderr or b"").decode(errors="replace").strip().splitlines()[-3:]
        raise EnvtoolsError("Setting the admin's password failed: " + " ".join(said)) from None
    write_env_file(ADMIN_ENV, credentials)
    print(output.decode().strip())
    print(f"New admin credentials in {ADMIN_ENV.relative_to(ROOT)}; start the server with `up`.")
    if "ZENML_SECRETS_STORE_ENCRYPTION_KEY" not in old:
        print(
            "The secrets' key was in the lost admin.env: secrets the server encrypted with it "
            "cannot be read any more; create them again (`zenml secret create`). Keep a copy "
            f"of {ADMIN_ENV.relative_to(ROOT)} with your backups."
        )


def data_volume(settings: ServerSettings, identity: str) -> str:
    return f"{settings.build.name}-{identity}-data"


def down(settings: ServerSettings) -> None:
    client = engine.connect()
    container = engine.labelled_container(client, SERVER_LABEL, project_id())
    CONNECTION.unlink(missing_ok=True)
    if not container:
        print("No server of this project is running.")
        say_orphans(client)
        return
    container.stop(timeout=15)
    container.remove()
    volume = data_volume(settings, container.labels[SERVER_LABEL])
    print(f"Stopped {container.name}; its data stays in volume {volume}.")


def say_orphans(client) -> None:
    for orphan, reason in orphaned_servers(client):
        print(
            f"Found {orphan.name} ({orphan.status}, {orphan.labels.get(URL_LABEL)}), the server "
            f"of no project folder ({reason}): `docker rm -f {orphan.name}` stops it."
        )


def detach(settings: ServerSettings) -> None:
    """A copied folder's own identity: the credentials it copied stay with the original."""
    original = owner_of(IDENTITY.read_text().strip()) if IDENTITY.is_file() else None
    for copied in (ADMIN_ENV, API_KEY, CONNECTION):
        copied.unlink(missing_ok=True)
    shutil.rmtree(SERVER_CLIENT_CONFIG, ignore_errors=True)
    identity = claim_id(new=True)
    print(f"This folder is now project {identity}, apart from {original or 'any other'}.")
    print("It has no server yet: `nox -s server -- up` (on a free port) starts one.")


def backup(settings: ServerSettings, target: str | None) -> None:
    identity = existing_id()
    client = engine.connect()
    container = engine.labelled_container(client, SERVER_LABEL, identity)
    running = container and container.status == "running"
    # The running server's image reads its data best; else the lock's (the data's version
    # is checked against it).
    image = container.image.id if running else built_image(client, settings)
    folder = Path(target) if target else backups_folder(identity)
    backups.backup(client, settings, image, data_volume(settings, identity), folder)


def restore(settings: ServerSettings, source: str, yes: bool) -> None:
    identity = existing_id()
    client = engine.connect()
    container = engine.labelled_container(client, SERVER_LABEL, identity)
    was_running = bool(container and container.status == "running")
    tag = built_image(client, settings)
    volume = data_volume(settings, identity)
    backups.restore(client, settings, tag, volume, Path(source), yes=yes, container=container)
    CONNECTION.unlink(missing_ok=True)
    if was_running:
        up(replace(settings, port=port_of(container)))  # where it ran, as `up --port` put it
    else:
        print("Start the server with `nox -s server -- up` (it migrates the data if needed).")


def port_of(container) -> int:
    """The host port a server container was started on (`up --port`, or the setting)."""
    return int(container.labels[URL_LABEL].rsplit(":", 1)[1])


def existing_id() -> str:
    identity = project_id()
    if identity is None:
        raise EnvtoolsError("This project has no server yet: `nox -s server -- up` makes one.")
    return identity


def backups_folder(identity: str) -> Path:
    return DATA_HOME / identity / "backups"


def logs(settings: ServerSettings, follow: bool) -> None:
    container = engine.labelled_container(engine.connect(), SERVER_LABEL, project_id())
    if not container:
        raise EnvtoolsError("No server of this project: start it with `nox -s server -- up`.")
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
    volume = data_volume(settings, identity) if identity else "(made by the first `up`)"
    stored = database.describe(server_env, volume)
    saved = sorted(backups_folder(identity).glob("*-zenml-*")) if identity else []
    kept = f"{len(saved)} in {backups_folder(identity)}" if saved else "none (`-- backup`)"
    if not container:
        print(f"Server: not running. Image for the current lock: {wanted}.")
        print(f"Database:   {stored}")
        print(f"Backups:    {kept}" + (f", latest {saved[-1].name}" if saved else ""))
        say_orphans(client)
        return
    url = container.labels[URL_LABEL]
    image = container.image.tags[0] if container.image.tags else container.image.id
    health = container.attrs["State"].get("Health", {}).get("Status", "unknown")
    info = {}
    with (
        contextlib.suppress(OSError, ValueError),
        urllib.request.urlopen(f"{url}/api/v1/info", timeout=3) as response,
    ):
        info = json.load(response)
    if not CONNECTION.is_file():
        connected = "not connected"
    else:
        connected = "connected with an API key" if info else "not reachable: `nox -s server -- up`"
    analytics = {True: "on", False: "off"}.get(info.get("analytics_enabled"), "unknown")
    print(f"Server:     {container.name} ({container.status}, {health})")
    print(f"Image:      {image}{'' if image == current else f' (the lock now wants {wanted})'}")
    print(f"URL:        {url}")
    print(f"Version:    ZenML {info.get('version', 'unreachable')}")
    reported = f" (the server reports {info['database_type']})" if "database_type" in info else ""
    print(f"Database:   {stored}{reported}")
    print(f"Backups:    {kept}" + (f", latest {saved[-1].name}" if saved else ""))
    print(f"Artifacts:  {local_stores(identity)}")
    print(f"Analytics:  {analytics} ([tool.envtools.server] analytics)")
    print(f"Client:     {connected}")
    say_orphans(client)


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="nox -s server --", description=__doc__)
    actions = ["build", "up", "down", "logs", "status", "backup", "restore"]
    actions += ["reset-admin", "detach"]
    parser.add_argument("action", nargs="?", default="build", choices=actions)
    parser.add_argument("file", nargs="?", help="backup: file or folder to write; restore: backup")
    parser.add_argument("--push", action="store_true", help="build: push to the registry")
    parser.add_argument("--no-cache", action="store_true", help="build: rebuild even if up to date")
    parser.add_argument("--parent-image", help="build: parent image for this build only")
    parser.add_argument("--port", help="up: port on the host")
    parser.add_argument("--follow", "-f", action="store_true", help="logs: keep following")
    parser.add_argument("--yes", action="store_true", help="restore: do not ask")
    args = parser.parse_args(argv)
    settings = server_settings()
    if args.parent_image:
        parent = image_reference(args.parent_image, "--parent-image")
        settings = replace(settings, build=replace(settings.build, parent=parent))
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
        restore(settings, args.file, args.yes)
    elif args.action == "reset-admin":
        reset_admin(settings)
    elif args.action == "detach":
        detach(settings)
    else:
        status(settings)
