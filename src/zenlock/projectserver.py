"""The project's ZenML server on this machine as one object: `Server` finds each of its parts
once, when an action first needs it (the engine client, the project's id, the container, the
image of the current lock, the data volume, the database), so `server`, `upgrade` and `check`
share what one of them found instead of asking the engine, uv and the files again."""

from dataclasses import replace
from functools import cached_property

from . import ZenlockError, engine
from .credentials import admin_credentials
from .database import Database
from .identity import claim_id, owner_of, project_id
from .inputs import http_url
from .project import Project
from .serverspec import current_image
from .settings import ServerSettings
from .state import SERVER_LABEL, URL_LABEL, port_of, read_env_file


class Server:
    """The project's server: its settings (as the command's options changed them) and, each
    found once, when first asked, what the engine and the project's files say about it."""

    def __init__(self, project: Project, settings: ServerSettings, client=None) -> None:
        self.project = project
        self.settings = settings
        self.claimed = False
        if client is not None:  # a command that already talks to the engine shares it
            self.client = client

    @cached_property
    def client(self):
        return engine.connect()

    @cached_property
    def identity(self) -> str | None:
        """The project's id on this machine (None before its first `up`); a copied folder is
        refused with the fix (identity.project_id)."""
        return project_id(self.project)

    def claim(self) -> str:
        """The id, made if there is none, recorded as this folder's (as `up` does)."""
        if not self.claimed:
            self.identity, self.claimed = claim_id(self.project), True
        return self.identity

    def existing_identity(self) -> str:
        if self.identity is None:
            raise ZenlockError("This project has no server yet: `nox -s server -- up` makes one.")
        return self.identity

    @cached_property
    def container(self):
        """The server's container, running or not, or None (an action that starts or removes
        it sets it)."""
        return engine.labelled_container(self.client, SERVER_LABEL, self.identity)

    @property
    def running(self):
        """The container if it runs, else None."""
        container = self.container
        return container if container and container.status == "running" else None

    @property
    def url(self) -> str:
        """Where `up` makes the server listen (the settings, or `up --port`)."""
        return http_url(self.settings.host, self.settings.port)

    def at_port_it_ran(self) -> None:
        """`up` again where the container ran, as `up --port` put it then."""
        self.settings = replace(self.settings, port=port_of(self.container))

    @property
    def volume_name(self) -> str:
        return f"{self.settings.build.name}-{self.identity}-data"

    @cached_property
    def volume(self) -> str:
        """The volume of the server's data (SQLite, the secrets), checked to be where the data
        is: a renamed server would otherwise start empty beside it."""
        volume = self.volume_name
        if engine.volume_exists(self.client, volume):
            return volume
        ending = f"-{self.identity}-data"
        others = [v.name for v in self.client.volumes.list() if v.name.endswith(ending)]
        if others:
            name = others[0].removesuffix(ending)
            raise ZenlockError(
                f"This project's server data is in volume {others[0]}, of server name {name!r}; "
                f"[tool.zenlock.server] name now says {self.settings.build.name!r}, which would "
                f"start an empty server. Set name = {name!r} again. Nothing was changed."
            )
        return volume

    @cached_property
    def server_env(self) -> dict[str, str]:
        """The server env file's settings (its database among them)."""
        return read_env_file(self.project.root / self.settings.env_file)

    @cached_property
    def current_image(self) -> str | None:
        """The server image of the current lock for this engine's platform, if its parent is
        here (the spec, two `uv export`s, made once)."""
        return current_image(self.project, self.client, self.settings)

    @cached_property
    def built_image(self) -> str:
        """The current image; an error naming `nox -s server` when it is not built."""
        tag = self.current_image
        if not tag or not engine.image_id(self.client, tag):
            raise ZenlockError(
                "No server image for the current lock and plugins: run `nox -s server`."
            )
        return tag

    def database(self, image: str | None = None) -> Database:
        """The server's database as short-lived containers of `image` reach it (by default the
        current image: the lock's ZenML, which the data's version is checked against)."""
        volume = self.volume  # a renamed server is said before a missing image
        image = image or self.built_image
        return Database(self.client, image, self.settings.build.network, self.server_env, volume)

    @cached_property
    def data(self) -> Database:
        return self.database()

    def admin(self) -> dict[str, str]:
        return admin_credentials(self.project.admin_env, self.server_env)

    def client_account(self) -> str:
        """The service account this project's sessions use on its server."""
        return f"{self.settings.build.name}-client"

    def lost_admin(self, where: str) -> str:
        return (
            f".zenml-server/admin.env is gone, but the server's data ({where}) still has its "
            "admin: a new password would not match. Set a new one with `nox -s server -- "
            "reset-admin` (every run is kept)."
        )

    def other_servers(self) -> list[tuple]:
        """Server containers of other projects, and where each project is: its folder, or why
        it has none (deleted; moved before ids were kept). Servers are data: never removed."""
        found = []
        labelled = self.client.containers.list(all=True, filters={"label": SERVER_LABEL})
        for container in labelled:
            other = container.labels[SERVER_LABEL]
            if other == self.identity:
                continue
            owner = owner_of(self.project, other)
            if owner is None:
                where = "a project with no folder known here (another user's, or made before ids)"
            elif owner.is_dir():
                where = f"the project in {owner}"
            else:
                where = f"the project that was in {owner} (moved or deleted since)"
            found.append((container, where))
        return found

    def say_other_servers(self) -> None:
        """Other projects' servers on this engine, and where their projects are. Never advice
        to remove one: a server's volume is the only copy of its runs and secrets."""
        for other, where in self.other_servers():
            print(
                f"Also here: {other.name} ({other.status}, {other.labels.get(URL_LABEL)}), the "
                f"server of {where}."
            )


def connected_elsewhere(project: Project, own_url: str | None = None) -> str | None:
    """The URL of the server client.env connects the sessions to when it is not the project's
    own (`connect`), else None. The own server's connection is at `own_url` while it runs,
    and holds the own server's key (.zenml-server/api-key) in any case."""
    connection = read_env_file(project.connection)
    url = connection.get("ZENML_STORE_URL")
    if own_url is not None:
        return url if url and url != own_url else None
    own_key = read_env_file(project.api_key).get("ZENML_STORE_API_KEY")
    return None if not url or connection.get("ZENML_STORE_API_KEY") == own_key else url


def drop_own_connection(project: Project, own_url: str | None = None) -> None:
    """client.env goes with the own server; a connection to another server (`connect`) stays."""
    if connected_elsewhere(project, own_url) is None:
        project.connection.unlink(missing_ok=True)


def say_connected_elsewhere(project: Project) -> None:
    elsewhere = connected_elsewhere(project)
    if elsewhere:
        print(f"This project's sessions use the server at {elsewhere} (`connect`).")
