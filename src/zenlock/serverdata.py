"""What is done to the server's data: `backup [FILE]`, `restore FILE` (see backups.py for both)
and `reset-admin`, which sets new admin credentials on the data (after a lost admin.env)."""

from pathlib import Path

from . import ZenlockError, backups, database
from .backups import backups_folder
from .credentials import reset_credentials
from .lifecycle import up
from .projectserver import Server, drop_own_connection
from .state import URL_LABEL, read_env_file, write_env_file


def backup(server: Server, target: str | None) -> None:
    identity = server.existing_identity()
    running = server.running
    # The running server's image reads its data best; else the lock's (the data's version
    # is checked against it).
    data = server.database(running.image.id if running else None)
    folder = backups_folder(server.project.data_home, identity)
    admin = read_env_file(server.project.admin_env)
    backups.backup(data, Path(target) if target else folder, admin)


def restore(server: Server, source: str, yes: bool, another_server: bool) -> None:
    identity = server.existing_identity()
    container = server.container
    was_running = server.running is not None
    backups.restore(
        server.data, Path(source),
        yes=yes, another_server=another_server, container=container,
        safety_folder=backups_folder(server.project.data_home, identity),
        admin=read_env_file(server.project.admin_env),
    )  # fmt: skip
    drop_own_connection(server.project, container.labels[URL_LABEL] if container else None)
    if was_running:
        server.at_port_it_ran()  # where it ran, as `up --port` put it
        server.container = None  # restore removed it
        up(server)
    else:
        print("Start the server with `nox -s server -- up` (it migrates the data if needed).")


def reset_admin(server: Server) -> None:
    """New admin credentials for the server's data: the documented way back from a lost or
    weak password. The server is stopped for it; every run and the client's key are kept."""
    image = server.built_image  # said first: without it nothing reads the data
    server.claim()
    data = server.database(image)
    found = data.probe()
    database.refuse_problem(found, data.server_env, data.network)
    if not found["version"]:
        raise ZenlockError(
            "This project's server has no data yet: `nox -s server -- up` creates it."
        )
    old = read_env_file(server.project.admin_env)
    credentials = reset_credentials(old, data.server_env)
    container = server.container
    drop_own_connection(server.project, container.labels[URL_LABEL] if container else None)
    if container:
        container.remove(force=True)
        server.container = None
        print(f"Stopped {container.name}.")
    try:
        said = data.set_admin_password(credentials)
    except ZenlockError as error:
        raise ZenlockError(f"Setting the admin's password failed: {error}") from None
    write_env_file(server.project.admin_env, credentials)
    print(said)
    print("New admin credentials in .zenml-server/admin.env; start the server with `up`.")
    if "ZENML_SECRETS_STORE_ENCRYPTION_KEY" not in old:
        print(
            "The secrets' key was in the lost admin.env: secrets the server encrypted with it "
            "cannot be read any more, unless a backup's key file (beside each backup) still "
            "has it: restoring that backup makes them readable again. Otherwise create them "
            "again (`zenml secret create`)."
        )
