"""Assembled images and a registry, with no Docker engine: the parent read from its registry,
an image pushed blob by blob — only the blobs the registry lacks (HEAD first) — then its
manifest, and an index for several platforms. The protocol is oras-py's (its session, auth
from the Docker config, blob upload); manifests are sent as the exact bytes assembled, so
the registry's digest is ours.
"""

import gzip
import io
import os
import tarfile
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from . import ZenlockError
from .ociimage import CONFIG, INDEX, MANIFEST, Image, Parent, digest_of, parent_config
from .tarlayer import Layer

CHUNK = 1 << 20
GZIP_MAGIC = b"\x1f\x8b"
LOOPBACK = ("127.0.0.1", "localhost", "[::1]")
ACCEPT = ", ".join(
    (
        MANIFEST,
        INDEX,
        "application/vnd.docker.distribution.manifest.v2+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
    )
)


@dataclass
class Connection:
    client: object  # oras.provider.Registry
    container: object  # oras.container.Container: registry, repository, tag

    def url(self, path: str) -> str:
        return f"{self.client.prefix}://{self.container.registry}/v2/{self.container.api_prefix}/{path}"

    def request(self, method: str, path: str, **kwargs):
        headers = {**self.client.headers, **kwargs.pop("headers", {})}
        return self.client.do_request(self.url(path), method, headers=headers, **kwargs)


def qualified(reference: str) -> str:
    """`reference` with its registry: Docker Hub's for a name without one (python:3.11 is
    registry-1.docker.io/library/python:3.11), as Docker reads it."""
    first, _, rest = reference.partition("/")
    if rest and ("." in first or ":" in first or first == "localhost"):
        return reference
    return f"registry-1.docker.io/{reference if rest else f'library/{reference}'}"


def connect(reference: str) -> Connection:
    """A session with `reference`'s registry (HOST[:PORT]/REPOSITORY[:TAG]): plain HTTP on
    this machine's loopback (as Docker allows), HTTPS elsewhere; the credentials of
    `docker login` (DOCKER_CONFIG's config.json), Basic or token as the registry asks."""
    import oras.container
    import oras.provider
    import requests

    reference = qualified(reference)
    host = reference.split("/", 1)[0]
    insecure = host.rsplit(":", 1)[0] in LOOPBACK
    scheme = "http" if insecure else "https"
    try:
        challenge = requests.get(f"{scheme}://{host}/v2/", timeout=30).headers
    except requests.RequestException as error:
        raise ZenlockError(
            f"Registry {host} does not answer ({error}): check its address."
        ) from None
    basic = challenge.get("Www-Authenticate", "").lower().startswith("basic")
    client = oras.provider.Registry(
        hostname=host, insecure=insecure, auth_backend="basic" if basic else "token"
    )
    container = oras.container.Container(reference)
    config = Path(os.environ.get("DOCKER_CONFIG") or Path.home() / ".docker") / "config.json"
    client.auth.load_configs(container, configs=[str(config)] if config.is_file() else None)
    credentials = getattr(client.auth, "_basic_auth", None)
    if basic and credentials:
        # Sent from the first request: a blob's upload is not sent twice (401, then again).
        client.set_header("Authorization", f"Basic {credentials}")
    elif basic:  # none for this registry: its 401 is answered by `checked`, not retried
        client.auth._logout()
    return Connection(client, container)


def checked(response, what: str):
    if response.status_code in (401, 403):
        host = response.url.split("/")[2]
        raise ZenlockError(
            f"The registry refused {what} to these credentials: log in with `docker login "
            f"{host}` (zenlock reads DOCKER_CONFIG's config.json), then run again."
        )
    if response.status_code not in (200, 201, 202):
        raise ZenlockError(
            f"The registry refused {what}: {response.status_code} {response.text[:300]}"
        )
    return response


@dataclass
class Pushed:
    digest: str  # of the manifest (or index) under the tag
    uploaded: list[str]  # digests of the blobs sent; [] when the registry had them all


def mounted(connection: Connection, blob: Layer, repository: str) -> bool:
    """`blob` linked into our repository from `repository` of the same registry (no bytes
    sent): how a parent pushed there once serves every image built on it."""
    response = connection.request(
        "POST",
        f"blobs/uploads/?mount={blob.digest}&from={repository}",
        headers={"Content-Length": "0"},
    )
    return response.status_code == 201


def push_blobs(
    connection: Connection,
    blobs: list[Layer],
    provide: Callable[[list[Layer]], dict[str, Path]] | None,
    mount_from: str | None = None,
) -> list[str]:
    """Upload those of `blobs` the registry lacks; a missing one with no file here (a parent's
    layer) is mounted from `mount_from` (a repository of the same registry), else comes from
    `provide` (e.g. the local engine's `docker save`), asked once for all of them."""
    missing = [blob for blob in blobs if not connection.client.blob_exists(
        {"digest": blob.digest}, connection.container)]  # fmt: skip
    if mount_from:
        missing = [
            blob
            for blob in missing
            if blob.path is not None or not mounted(connection, blob, mount_from)
        ]
    elsewhere = [blob for blob in missing if blob.path is None]
    files = provide(elsewhere) if elsewhere and provide else {}
    for blob in missing:
        path = blob.path or files.get(blob.digest)
        if path is None:
            raise ZenlockError(
                f"Layer {blob.digest} of the parent is neither in {connection.container.registry}"
                " nor on this machine: push the parent there, or pull it."
            )
        checked(
            connection.client.put_upload(
                str(path), connection.container, {"digest": blob.digest, "size": blob.size}
            ),
            f"blob {blob.digest}",
        )
    return [blob.digest for blob in missing]


def push(
    image: Image,
    reference: str,
    provide: Callable[[list[Layer]], dict[str, Path]] | None = None,
    mount_from: str | None = None,
) -> Pushed:
    """Push `image` to `reference` (its layers, config, then manifest under the tag); the
    parent's layers it lacks are mounted from `mount_from` or `provide`d (see push_blobs)."""
    connection = connect(reference)
    # Asked first: credentials the registry refuses are said before anything is read or sent.
    asked = connection.request("HEAD", f"manifests/{connection.container.tag}",
                               headers={"Accept": ACCEPT})  # fmt: skip
    if asked.status_code != 404:
        checked(asked, f"{connection.container.api_prefix}")
    with tempfile.TemporaryDirectory(prefix="zenlock-config-") as folder:
        config = Path(folder) / "config.json"
        config.write_bytes(image.config)
        config_blob = Layer(config, CONFIG, image.config_digest, len(image.config), "")
        uploaded = push_blobs(connection, [*image.layers, config_blob], provide, mount_from)
    put_manifest(connection, connection.container.tag, image.manifest, MANIFEST)
    return Pushed(image.digest, uploaded)


def put_manifest(connection: Connection, reference: str, document: bytes, media_type: str):
    checked(
        connection.request(
            "PUT", f"manifests/{reference}", headers={"Content-Type": media_type}, data=document
        ),
        f"manifest {reference}",
    )


def push_index(document: bytes, digests: Iterable[str], reference: str) -> Pushed:
    """Push the index `document` of the manifests `digests` (pushed already) under
    `reference`."""
    connection = connect(reference)
    for digest in digests:
        found = connection.request("HEAD", f"manifests/{digest}", headers={"Accept": MANIFEST})
        checked(found, f"(missing) manifest {digest}")
    put_manifest(connection, connection.container.tag, document, INDEX)
    return Pushed(digest_of(document), [])


def get_json(connection: Connection, path: str, accept: str = ACCEPT) -> tuple[dict, bytes]:
    response = checked(connection.request("GET", path, headers={"Accept": accept}), path)
    return response.json(), response.content


def parent_in_registry(reference: str, platform: str) -> Parent:
    """The parent `reference` (a tag or @sha256: digest) for `platform`, read from its
    registry: its manifest (through an index when it has one) and its config. No layer is
    downloaded."""
    connection = connect(reference)
    wanted = connection.container.digest or connection.container.tag
    manifest, _ = get_json(connection, f"manifests/{wanted}")
    if "manifests" in manifest:  # an index: the platform's manifest
        system, architecture, *variant = platform.split("/")
        for entry in manifest["manifests"]:
            where = entry.get("platform", {})
            if (where.get("os"), where.get("architecture")) == (system, architecture) and (
                not variant or where.get("variant") == variant[0]
            ):
                manifest, _ = get_json(connection, f"manifests/{entry['digest']}")
                break
        else:
            raise ZenlockError(f"Parent {reference} has no image for {platform}.")
    config_id = manifest["config"]["digest"]
    config, _ = get_json(connection, f"blobs/{config_id}", "*/*")
    diff_ids = config["rootfs"]["diff_ids"]
    layers = [
        Layer(None, entry["mediaType"], entry["digest"], entry["size"], diff_id)
        for entry, diff_id in zip(manifest["layers"], diff_ids, strict=True)
    ]
    inherited = parent_config(
        config["architecture"], config["os"], config.get("variant"), config.get("config") or {}
    )
    return Parent(reference, config_id, inherited, layers)


class ChunkStream(io.RawIOBase):
    """A readable file of a response's chunks that reads as ended when they are (a raw
    urllib3 stream raises once closed at its end)."""

    def __init__(self, chunks) -> None:
        self.chunks = iter(chunks)
        self.rest = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        while not self.rest:
            self.rest = next(self.chunks, None)
            if self.rest is None:
                self.rest = b""
                return 0
        size = min(len(buffer), len(self.rest))
        buffer[:size], self.rest = self.rest[:size], self.rest[size:]
        return size


def entries_in_registry(
    reference: str, parent: Parent, paths: Iterable[str], enough: Iterable[str]
) -> dict[str, tarfile.TarInfo | bytes]:
    """Entries of the parent's files (its /etc/passwd, the link python3 is), read from its
    layers top-down: a file's bytes, a link's TarInfo. Each layer is streamed only until
    the paths `enough` names are all found (in most layers etc/ comes early)."""
    connection = connect(reference)
    wanted = {path.lstrip("/") for path in paths}
    stop = {path.lstrip("/") for path in enough}
    found: dict[str, tarfile.TarInfo | bytes] = {}
    for layer in reversed(parent.layers):
        response = connection.request("GET", f"blobs/{layer.digest}", stream=True)
        checked(response, f"blob {layer.digest}")
        # By its first bytes, not its media type: Docker names a plain tar it mounted from
        # another repository "tar.gzip" too.
        raw = io.BufferedReader(ChunkStream(response.iter_content(CHUNK)), CHUNK)
        stream = gzip.GzipFile(fileobj=raw) if raw.peek(2)[:2] == GZIP_MAGIC else raw
        with tarfile.open(fileobj=stream, mode="r|") as tar:
            for member in tar:
                name = member.name.removeprefix("./")
                if name in wanted and name not in found:
                    found[name] = tar.extractfile(member).read() if member.isfile() else member
                if stop <= found.keys():
                    break
        response.close()
        if stop <= found.keys():
            break
    return found


def blobs_from(reference: str, layers: list[Layer], folder: Path) -> dict[str, Path]:
    """The blobs `layers` of `reference`'s repository, downloaded to `folder`: a parent's
    layers for a registry that lacks them, with no engine to hold them."""
    connection = connect(reference)
    files = {}
    for layer in layers:
        response = checked(
            connection.request("GET", f"blobs/{layer.digest}", stream=True), f"blob {layer.digest}"
        )
        target = folder / layer.digest.replace(":", "-")
        with target.open("wb") as out:
            for chunk in response.iter_content(CHUNK):
                out.write(chunk)
        files[layer.digest] = target
    return files


def manifest_digest(reference: str) -> tuple[str, int] | None:
    """The digest and size of the manifest the registry serves under `reference`'s tag, or
    None when it has none (HEAD: nothing downloaded)."""
    connection = connect(reference)
    wanted = connection.container.digest or connection.container.tag
    response = connection.request("HEAD", f"manifests/{wanted}", headers={"Accept": ACCEPT})
    if response.status_code == 404:
        return None
    checked(response, f"manifest {wanted}")
    return response.headers["Docker-Content-Digest"], int(response.headers["Content-Length"])


def config_of(reference: str) -> tuple[str, dict]:
    """The digest and document of the config of the image under `reference` (one platform's
    manifest)."""
    connection = connect(reference)
    wanted = connection.container.digest or connection.container.tag
    manifest, _ = get_json(connection, f"manifests/{wanted}")
    digest = manifest["config"]["digest"]
    return digest, get_json(connection, f"blobs/{digest}", "*/*")[0]


def manifest_of(reference: str) -> dict:
    """The manifest (or index) under `reference`, as the registry serves it."""
    connection = connect(reference)
    return get_json(connection, f"manifests/{connection.container.tag}")[0]
