"""One-off containers of an image: created for one read or one command, then removed."""

import io
import json
import os
import tarfile
from urllib.parse import quote

from . import ZenlockError
from .engine import Engine
from .scripts import script


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


def read_entries(client: Engine, tag: str, paths: list[str]) -> dict[str, tarfile.TarInfo | bytes]:
    """Those of `paths` image `tag` has: a file's bytes, a link's TarInfo (not followed),
    read from one container that is created, never started, and removed."""
    container = client.containers.create(tag, ["true"], entrypoint=[])
    from docker.errors import NotFound

    found = {}
    try:
        for path in paths:
            try:
                stream, _ = container.get_archive(path)
            except NotFound:
                continue
            with tarfile.open(fileobj=io.BytesIO(b"".join(stream))) as archive:
                member = archive.getmembers()[0]
                found[path] = archive.extractfile(member).read() if member.isfile() else member
        return found
    finally:
        container.remove(force=True)


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
