"""What travels with a pushed image: its CycloneDX SBOM and its pylock.toml, attached to its
digest in the registry as OCI referrers (artifact manifests whose `subject` is the image), so
that scanners and `check` find them by the image's digest without pulling it.

Found again through the registry's referrers API, or, on a registry without it (the CNCF
distribution 2.x), through the referrers tag schema the OCI distribution spec gives as its
fallback: an index under the tag `sha256-<hex of the subject>` that lists them.
"""

import tempfile
from pathlib import Path

from . import ZenlockError
from .ociimage import INDEX, MANIFEST, canonical, digest_of
from .ociregistry import ACCEPT, Connection, checked, connect, get_json, push_blobs, put_manifest
from .tarlayer import Layer

SBOM = "application/vnd.cyclonedx+json"
PYLOCK = "application/vnd.python.pylock.v1+toml"  # PEP 751 registers none: ours, by its name
EMPTY = b"{}"  # the config of an artifact (the OCI image spec's empty descriptor)
EMPTY_TYPE = "application/vnd.oci.empty.v1+json"
TITLE = "org.opencontainers.image.title"


def attach(connection: Connection, artifact_type: str, name: str, content: bytes) -> str:
    """Attach `content` (file `name`) to the image `connection` names by digest
    (REPOSITORY@sha256:…); the referrer's digest."""
    subject = connection.container.digest
    asked = checked(
        connection.request("HEAD", f"manifests/{subject}", headers={"Accept": ACCEPT}),
        f"manifest {subject}",
    )
    with tempfile.TemporaryDirectory(prefix="zenlock-referrer-") as folder:
        blobs = []
        for data, media_type in ((EMPTY, EMPTY_TYPE), (content, artifact_type)):
            path = Path(folder) / digest_of(data).replace(":", "-")
            path.write_bytes(data)
            blobs.append(Layer(path, media_type, digest_of(data), len(data), ""))
        push_blobs(connection, blobs, None)
    manifest = canonical(
        {
            "schemaVersion": 2,
            "mediaType": MANIFEST,
            "artifactType": artifact_type,
            "config": {"mediaType": EMPTY_TYPE, "digest": digest_of(EMPTY), "size": len(EMPTY)},
            "layers": [
                {
                    "mediaType": artifact_type,
                    "digest": digest_of(content),
                    "size": len(content),
                    "annotations": {TITLE: name},
                }
            ],
            "subject": {
                "mediaType": asked.headers["Content-Type"].split(";")[0],
                "digest": subject,
                "size": int(asked.headers["Content-Length"]),
            },
        }
    )
    digest = digest_of(manifest)
    response = checked(
        connection.request(
            "PUT", f"manifests/{digest}", headers={"Content-Type": MANIFEST}, data=manifest
        ),  # fmt: skip
        f"referrer of {subject}",
    )
    if "OCI-Subject" not in response.headers:  # no referrers API: the tag schema's index
        descriptor = {"mediaType": MANIFEST, "digest": digest, "size": len(manifest),
                      "artifactType": artifact_type, "annotations": {TITLE: name}}  # fmt: skip
        listed = [d for d in tagged_referrers(connection, subject) if d["digest"] != digest]
        index = canonical({"schemaVersion": 2, "mediaType": INDEX,
                           "manifests": [*listed, descriptor]})  # fmt: skip
        put_manifest(connection, subject.replace(":", "-"), index, INDEX)
    return digest


def tagged_referrers(connection: Connection, subject: str) -> list[dict]:
    """The referrers the tag schema lists for `subject` ([] when its tag is not there)."""
    tag = subject.replace(":", "-")
    response = connection.request("GET", f"manifests/{tag}", headers={"Accept": INDEX})
    if response.status_code == 404:
        return []
    return checked(response, f"referrers of {subject}").json().get("manifests", [])


def referrers(connection: Connection) -> list[dict]:
    """Descriptors of every referrer of the image `connection` names by digest: the
    referrers API's answer, else the tag schema's index."""
    subject = connection.container.digest
    response = connection.request("GET", f"referrers/{subject}", headers={"Accept": INDEX})
    if response.status_code == 200 and response.headers.get("Content-Type", "").startswith(INDEX):
        return response.json().get("manifests", [])
    return tagged_referrers(connection, subject)


def attached(image: str, *artifact_types: str) -> dict[str, bytes | None]:
    """The content of `image`'s newest referrer of each of `artifact_types` (None where it has
    none), read from the registry alone: the image itself is not pulled."""
    connection = connect(image)
    listed = referrers(connection)
    found: dict[str, bytes | None] = {}
    for artifact_type in artifact_types:
        of_type = [d for d in listed if d.get("artifactType") == artifact_type]
        if not of_type:
            found[artifact_type] = None
            continue
        manifest, _ = get_json(connection, f"manifests/{of_type[-1]['digest']}", MANIFEST)
        (layer,) = manifest["layers"]
        blob = connection.request("GET", f"blobs/{layer['digest']}")
        found[artifact_type] = checked(blob, "referrer blob").content
    return found


def attach_records(image: str, sbom: str, pylock: Path) -> None:
    """`image`'s SBOM and pylock.toml (configs/sbom/'s) as its referrers in the registry. A
    registry that refuses artifacts keeps the image: said in one line, not an error."""
    try:
        connection = connect(image)
        attach(connection, SBOM, "sbom.cdx.json", sbom.encode())
        attach(connection, PYLOCK, pylock.name, pylock.read_bytes())
    except ZenlockError as error:
        print(f"  {image}: its SBOM and pylock.toml are not in the registry: "
              f"{str(error).splitlines()[0]}", flush=True)  # fmt: skip
