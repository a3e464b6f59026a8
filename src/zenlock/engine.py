"""The Docker engine: connect to it, and read what is on it (images, their platforms,
volumes, labelled containers) without changing anything but a pull. Builds are `buildkit`'s,
pushes `pushes`', short-lived containers `oneoff`'s."""

import http.client
import json
import os
import socket
from urllib.parse import quote

from . import ZenlockError
from .inputs import PLATFORMS

UNREACHABLE = (
    "No Docker daemon is reachable ({error}).\n"
    "Start one (Docker Desktop, `sudo systemctl start docker`, or `dockerd`), "
    "or point DOCKER_HOST at a running daemon."
)


class UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str) -> None:
        super().__init__("localhost", timeout=60)
        self.socket_path = path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.socket_path)


class Engine:
    """A Docker engine. What an image is (`image`) is read over the engine's Unix socket with
    the standard library: importing the docker SDK takes longer than a whole no-op build.
    Everything else is the SDK's client (`engine.containers`, ...), imported on first use."""

    def __init__(self) -> None:
        host = os.environ.get("DOCKER_HOST", "")
        # The SDK's default; tcp://, ssh:// and npipe:// hosts are the SDK's alone.
        self.socket_path: str | None = "/var/run/docker.sock"
        if host:
            self.socket_path = host.removeprefix("unix://") if host.startswith("unix://") else None
        self._sdk = None

    @property
    def sdk(self):
        if self._sdk is None:
            import docker

            self._sdk = docker.from_env()
        return self._sdk

    def __getattr__(self, name: str):  # containers, volumes, images, api: the SDK's
        return getattr(self.sdk, name)

    def request(self, method: str, path: str, body: dict | None = None) -> tuple[int, bytes]:
        connection = UnixConnection(self.socket_path)
        try:
            payload = json.dumps(body).encode() if body is not None else None
            headers = {"Content-Type": "application/json"} if payload else {}
            connection.request(method, path, body=payload, headers=headers)
            response = connection.getresponse()
            return response.status, response.read()
        finally:
            connection.close()

    def get(self, path: str) -> tuple[int, bytes]:
        return self.request("GET", path)

    def ping(self) -> None:
        if self.socket_path is None:
            from docker.errors import DockerException

            try:
                self.sdk.ping()
            except DockerException as error:
                raise ZenlockError(UNREACHABLE.format(error=error)) from None
            return
        try:
            status, body = self.get("/_ping")
        except OSError as error:
            raise ZenlockError(UNREACHABLE.format(error=error)) from None
        if status != 200:
            raise ZenlockError(UNREACHABLE.format(error=f"{status} {body.decode()[:200]}"))

    def image(self, reference: str) -> dict | None:
        """The engine's inspection of a local image, or None when it is not on this machine."""
        if self.socket_path is None:
            from docker.errors import ImageNotFound

            try:
                return self.sdk.images.get(reference).attrs
            except ImageNotFound:
                return None
        status, body = self.get(f"/images/{quote(reference, safe='/:')}/json")
        if status == 404:
            return None
        if status != 200:
            raise ZenlockError(f"The Docker engine could not inspect {reference}: {body[:300]}")
        return json.loads(body)


def connect() -> Engine:
    engine = Engine()
    engine.ping()
    return engine


def reachable() -> Engine | None:
    """The Docker engine when one answers, else None: for what can be done without one."""
    try:
        return connect()
    except ZenlockError:
        return None


def image_id(client: Engine, reference: str) -> str | None:
    """The local image's id; None when it is not on this machine (never pulls)."""
    found = client.image(reference)
    return found["Id"] if found else None


def pull(client: Engine, reference: str, platform: str | None = None) -> str:
    """The image's id, pulled (for `platform`) first when it is not on this machine (builds)."""
    found = image_id(client, reference)
    if found:
        return found
    print(f"Pulling {reference} ...", flush=True)
    from docker.errors import DockerException

    try:
        return client.images.pull(reference, platform=platform).id
    except DockerException as error:
        raise ZenlockError(
            f"{reference} is not on this machine and could not be pulled ({error}).\n"
            "Pull or build it, or choose another parent with --parent-image."
        ) from None


def platform_of(os_name: str, architecture: str, variant: str = "") -> str:
    """Docker's OS/ARCH[/VARIANT], canonical (linux/arm64/v8 is linux/arm64)."""
    name = "/".join(part for part in (os_name, architecture, variant) if part)
    return PLATFORMS.get(name, (name,))[0]


def native_platform(client: Engine) -> str:
    """The platform the engine runs containers of without emulation."""
    if client.socket_path is None:
        version = client.sdk.version()
    else:
        version = json.loads(client.get("/version")[1])
    return platform_of(version["Os"], version["Arch"])


def image_platform(client: Engine, reference: str) -> str:
    found = client.image(reference)
    return platform_of(found["Os"], found["Architecture"], found.get("Variant", ""))


def volume_exists(client: Engine, name: str) -> bool:
    return bool(client.volumes.list(filters={"name": f"^{name}$"}))


def labelled_container(client: Engine, label: str, value: str | None):
    """The container (running or not) that carries `label=value`, or None."""
    if value is None:
        return None
    found = client.containers.list(all=True, filters={"label": f"{label}={value}"})
    return found[0] if found else None


def size(client: Engine, tag: str) -> str:
    return f"{client.image(tag)['Size'] / 1e6:.0f} MB"
