"""The Docker engine: connect, find, push and read what an image holds (docker SDK); build
with BuildKit (the docker CLI: the SDK drives only the classic builder)."""

import http.client
import io
import ipaddress
import json
import os
import re
import shutil
import socket
import subprocess
import tarfile
from pathlib import Path
from urllib.parse import quote

from . import ZenlockError
from .inputs import PLATFORMS
from .scripts import script

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


def inspect(client: Engine, tag: str, network: str) -> dict:
    """What `tag` holds, read by its own python in a short-lived container."""
    return json.loads(run_python(client, tag, network, script("inspect_python")))


def run_python(client: Engine, tag: str, network: str, source: str, *args: str):
    """The last line `source` prints, run by the image's python in a short-lived container
    (ZenML, if it imports, keeps its state in the container's /tmp)."""
    output = client.containers.run(
        tag,
        ["python", "-c", source, *args],
        remove=True,
        network_mode=network,
        entrypoint=[],
        environment={"ZENML_CONFIG_PATH": "/tmp/zenml", "ZENML_ANALYTICS_OPT_IN": "false"},
    )
    return output.decode().strip().splitlines()[-1]


def read_file(client: Engine, tag: str, path: str) -> bytes | None:
    """The bytes of file `path` in image `tag`, or None: read from a container that is
    created, never started, and removed (over the socket, as `Engine.image`)."""
    if client.socket_path is None:
        return read_file_with_sdk(client, tag, path)
    status, body = client.request("POST", "/containers/create", {"Image": tag, "Cmd": ["true"],
                                                                 "Entrypoint": []})  # fmt: skip
    if status != 201:
        raise ZenlockError(f"The Docker engine could not read {path} in {tag}: {body[:300]}")
    container = json.loads(body)["Id"]
    try:
        status, body = client.get(f"/containers/{container}/archive?path={quote(path)}")
        return first_file(body) if status == 200 else None
    finally:
        client.request("DELETE", f"/containers/{container}?force=true")


def read_file_with_sdk(client: Engine, tag: str, path: str) -> bytes | None:
    from docker.errors import NotFound

    container = client.containers.create(tag, ["true"], entrypoint=[])
    try:
        stream, _ = container.get_archive(path)
        return first_file(b"".join(stream))
    except NotFound:
        return None
    finally:
        container.remove(force=True)


def first_file(archive: bytes) -> bytes | None:
    with tarfile.open(fileobj=io.BytesIO(archive)) as opened:
        member = opened.extractfile(opened.getmembers()[0])
        return member.read() if member else None


def build_cli() -> str:
    """A docker CLI that builds with BuildKit: one with buildx, or a pre-23.0 CLI (built in)."""
    for folder in dict.fromkeys(os.environ.get("PATH", "").split(os.pathsep)):
        cli = shutil.which("docker", path=folder)
        if not cli:
            continue
        if subprocess.run([cli, "buildx", "version"], capture_output=True).returncode == 0:
            return cli
        version = subprocess.run([cli, "--version"], capture_output=True, text=True).stdout
        major = re.search(r"version (\d+)\.", version)
        if major and int(major.group(1)) < 23:
            return cli
    raise ZenlockError(
        "No docker CLI on PATH can build with BuildKit: install Docker's buildx plugin "
        "(Docker Desktop has it; on Linux the docker-buildx-plugin package), then run again."
    )


def build(
    context: Path,
    dockerfile: str,
    tag: str,
    *,
    buildargs: dict[str, str],
    labels: dict[str, str],
    secrets: dict[str, str | Path],
    network: str,
    platform: str,
    no_cache: bool = False,
) -> None:
    """Build `tag` for `platform` with BuildKit, printing one line per step; a failed build
    leaves no tag.

    `secrets` maps a secret's id to a file or, as text, to its contents (handed over in the
    docker CLI's environment): `RUN --mount=type=secret` sees them, no layer or build argument.
    """
    command = [build_cli(), "build", "--progress=plain", "--file", str(context / dockerfile)]
    command += ["--tag", tag, f"--platform={platform}", *(["--no-cache"] if no_cache else [])]
    command += ["--network=host"] if network == "host" else []
    command += [f"--build-arg={key}={value}" for key, value in buildargs.items()]
    command += [f"--label={key}={value}" for key, value in labels.items()]
    env = {**os.environ, "DOCKER_BUILDKIT": "1"}
    for name, value in secrets.items():
        if isinstance(value, Path):
            command.append(f"--secret=id={name},src={value}")
        else:
            env[f"ENVTOOLS_SECRET_{name.upper()}"] = value
            command.append(f"--secret=id={name},env=ENVTOOLS_SECRET_{name.upper()}")
    log, steps = [], set()
    with subprocess.Popen(
        [*command, str(context)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    ) as process:
        for line in process.stdout:
            log.append(line)
            # Each step once, and which were taken from the build cache (not run again).
            if re.match(r"#\d+ (\[(?!internal)|CACHED$)", line) and line not in steps:
                steps.add(line)
                print(f"    {line.strip()[:150]}", flush=True)
    if process.returncode == 0:
        return
    output = "".join(log[-25:])
    unreachable = r"network bridge not found|dns error|failed to lookup address|name resolution"
    if network != "host" and re.search(unreachable, output, re.IGNORECASE):
        raise ZenlockError(
            f"Building {tag} failed: the build has no network (this engine has no bridge "
            'network, or no DNS through it). Set network = "host" in [tool.zenlock.images].'
        )
    if "exec format error" in output:
        raise ZenlockError(
            f"Building {tag} for {platform} needs emulation, which this machine lacks: install "
            "qemu-user-static and binfmt-support (Debian, Ubuntu), or run `docker run "
            "--privileged --rm tonistiigi/binfmt --install all`; Docker Desktop has it."
        )
    if "buildkit not supported" in output.lower():
        raise ZenlockError(
            "This Docker engine cannot build with BuildKit: upgrade it to 18.09 or newer "
            "(Docker 23.0 and newer use BuildKit by default)."
        )
    raise ZenlockError(f"Building {tag} failed:\n{output}")


def push(client: Engine, tag: str) -> str:
    """Push `tag` unless the registry already holds that very image; its reference by digest.

    Credentials come from Docker's own config (`docker login`, credential helpers): zenlock
    never reads, prints or stores them.
    """
    repository, _, version = tag.rpartition(":")
    pushed = digest_in(client, tag)
    if pushed and registry_digest(client, tag) == pushed.split("@", 1)[1]:
        print(f"  {tag}  already in the registry", flush=True)
        return pushed
    for chunk in client.images.push(repository, version, stream=True, decode=True):
        if "error" in chunk:
            raise ZenlockError(
                f"The registry refused {tag}: {chunk['error'].strip()}\n"
                f"Log in with `docker login {repository.split('/', 1)[0]}` (or set up a "
                "credential helper), then push again."
            )
    pushed = digest_in(client, tag)
    if not pushed:
        raise ZenlockError(f"Pushing {tag} left no digest: the registry did not confirm it.")
    print(f"  {tag}  pushed as {pushed}", flush=True)
    return pushed


def push_index(client: Engine, tag: str, digests: list[str]) -> str:
    """Push a manifest list of the pushed images `digests` (repository@sha256:..., one per
    platform) as `tag`, unless the registry has it; its reference by digest. Docker's own
    `manifest` command does it, with Docker's credentials, as `push`."""
    repository = tag.rpartition(":")[0]
    pushed = registry_digest(client, tag)
    if pushed:
        print(f"  {tag}  already in the registry", flush=True)
        return f"{repository}@{pushed}"
    cli = shutil.which("docker")
    if not cli:
        raise ZenlockError("No docker CLI on PATH: install it to push a manifest list.")
    insecure = ["--insecure"] if insecure_registry(client, repository.split("/", 1)[0]) else []
    subprocess.run([cli, "manifest", "rm", tag], capture_output=True)  # a list left by a failure
    for command in (["create", *insecure, tag, *digests], ["push", *insecure, "--purge", tag]):
        done = subprocess.run([cli, "manifest", *command], capture_output=True, text=True)
        if done.returncode != 0:
            raise ZenlockError(
                f"The registry refused the manifest list {tag}: {done.stderr.strip()}"
            )
    digest = done.stdout.strip().splitlines()[-1]
    print(f"  {tag}  pushed as {repository}@{digest} ({len(digests)} platforms)", flush=True)
    return f"{repository}@{digest}"


def insecure_registry(client: Engine, host: str) -> bool:
    """The engine reaches registry `host` over plain HTTP: one of its insecure registries
    (127.0.0.0/8 unless configured otherwise)."""
    config = client.sdk.info().get("RegistryConfig") or {}
    indexed = (config.get("IndexConfigs") or {}).get(host)
    if indexed:
        return not indexed.get("Secure", True)
    name = host.rsplit(":", 1)[0] if host.count(":") == 1 or host.startswith("[") else host
    name = "127.0.0.1" if name == "localhost" else name.strip("[]")
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        return False
    return any(
        address in ipaddress.ip_network(cidr) for cidr in config.get("InsecureRegistryCIDRs") or []
    )


def digest_in(client: Engine, tag: str) -> str | None:
    """`repository@sha256:...` of `tag` as its registry last confirmed it, if ever pushed."""
    repository = tag.rpartition(":")[0]
    digests = client.image(tag).get("RepoDigests") or []
    return next((d for d in digests if d.split("@", 1)[0] == repository), None)


def repo_digest(client: Engine, reference: str) -> str | None:
    """`sha256:...` of `reference` in the registry it came from, if it came from one."""
    digests = client.image(reference).get("RepoDigests") or []
    return digests[0].split("@", 1)[1] if digests else None


def registry_digest(client: Engine, tag: str) -> str | None:
    """The digest the registry serves for `tag` now, or None (absent, or not answering)."""
    from docker.errors import DockerException

    try:
        return client.images.get_registry_data(tag).id
    except DockerException:
        return None


def size(client: Engine, tag: str) -> str:
    return f"{client.image(tag)['Size'] / 1e6:.0f} MB"


def run_once(
    client: Engine,
    image: str,
    command: list[str],
    *,
    environment: dict[str, str],
    volumes: dict,
    network: str,
    put: tuple[str, bytes] | None = None,
    get: str | None = None,
) -> tuple[str, bytes | None]:
    """Run `command` in a short-lived container of `image`: its output, and the bytes of the
    file `get` it wrote. `put` (path, bytes) is placed in the container before it starts;
    files go in and out through the engine, never through a folder both sides can write."""
    container = client.containers.create(
        image, command, entrypoint=[], environment=environment, volumes=volumes,
        network_mode=network,
    )  # fmt: skip
    try:
        if put:
            container.put_archive(os.path.dirname(put[0]), tar_of(os.path.basename(put[0]), put[1]))
        container.start()
        status = container.wait()["StatusCode"]
        output = container.logs().decode(errors="replace")
        if status != 0:
            raise ZenlockError("\n".join(output.strip().splitlines()[-5:]))
        fetched = None
        if get:
            stream, _ = container.get_archive(get)
            with tarfile.open(fileobj=io.BytesIO(b"".join(stream))) as archive:
                fetched = archive.extractfile(archive.getmembers()[0]).read()
        return output, fetched
    finally:
        container.remove(force=True)


def tar_of(name: str, content: bytes) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        member = tarfile.TarInfo(name)
        # Readable by the image's user: the container is its own and is removed after.
        member.size, member.mode = len(content), 0o644
        archive.addfile(member, io.BytesIO(content))
    return buffer.getvalue()
