"""The Docker engine (docker SDK): connect, find, build, push, and read what an image holds."""

import contextlib
import json
import time
from pathlib import Path

import docker
from docker.errors import DockerException, ImageNotFound

from . import EnvtoolsError

BUILD_STAGE_LABEL = "envtools.build-stage"
# The build stage sees the CA bundle and the index credentials; this line of a Dockerfile
# marks its images so that `build` can delete them.
BUILD_STAGE_LINE = f"LABEL {BUILD_STAGE_LABEL}=${{BUILD_STAGE_LABEL}}"
# Run by an image's own python: what is installed there, and its PEP 508 marker environment.
INSPECT = """
import importlib.metadata, json, os, platform, sys
print(json.dumps({
    "installed": {d.metadata["Name"]: d.version for d in importlib.metadata.distributions()},
    "environment": {
        "implementation_name": sys.implementation.name,
        "implementation_version": platform.python_version(),
        "os_name": os.name,
        "platform_machine": platform.machine(),
        "platform_python_implementation": platform.python_implementation(),
        "platform_release": platform.release(),
        "platform_system": platform.system(),
        "platform_version": platform.version(),
        "python_full_version": platform.python_version(),
        "python_version": ".".join(platform.python_version_tuple()[:2]),
        "sys_platform": sys.platform,
    },
}))
"""


def connect() -> docker.DockerClient:
    try:
        client = docker.from_env()
        client.ping()
    except DockerException as error:
        raise EnvtoolsError(
            f"No Docker daemon is reachable ({error}).\n"
            "Start one (Docker Desktop, `sudo systemctl start docker`, or `dockerd`), "
            "or point DOCKER_HOST at a running daemon."
        ) from None
    return client


def image_id(client: docker.DockerClient, reference: str) -> str | None:
    """The local image's id; None when it is not on this machine (never pulls)."""
    try:
        return client.images.get(reference).id
    except ImageNotFound:
        return None


def pull(client: docker.DockerClient, reference: str) -> str:
    """The image's id, pulled first when it is not on this machine (builds only)."""
    found = image_id(client, reference)
    if found:
        return found
    print(f"Pulling {reference} ...", flush=True)
    try:
        return client.images.pull(reference).id
    except DockerException as error:
        raise EnvtoolsError(
            f"{reference} is not on this machine and could not be pulled ({error}).\n"
            "Pull or build it, or choose another parent with --parent-image."
        ) from None


def labelled_container(client: docker.DockerClient, label: str, value: str):
    """The container (running or not) that carries `label=value`, or None."""
    found = client.containers.list(all=True, filters={"label": f"{label}={value}"})
    return found[0] if found else None


def network_mode(network: str) -> str | None:
    """Builds and containers use the daemon's default network unless the host has no bridge."""
    return "host" if network == "host" else None


def inspect(client: docker.DockerClient, tag: str, network: str) -> dict:
    """What `tag` holds, read by its own python in a short-lived container."""
    output = client.containers.run(
        tag, ["python", "-c", INSPECT], remove=True, network_mode=network, entrypoint=[]
    )
    return json.loads(output)


def require_build_stage_cleanup(dockerfile: Path) -> None:
    """Refuse a Dockerfile whose build stage would keep the CA bundle and credentials."""
    if BUILD_STAGE_LINE not in dockerfile.read_text():
        raise EnvtoolsError(
            f"{dockerfile.name} lacks the line `{BUILD_STAGE_LINE}` in its build stage. It "
            "marks the images that saw the CA bundle and the index credentials, so that they are "
            "deleted after the build: put it back (after `ARG BUILD_STAGE_LABEL`)."
        )


def build(
    client: docker.DockerClient,
    context: Path,
    dockerfile: str,
    tag: str,
    *,
    buildargs: dict[str, str],
    labels: dict[str, str],
    network: str,
    no_cache: bool = False,
) -> str:
    """Build `tag` from `context`, printing each build step; returns the image id.

    The image is tagged only after a successful build, and every image of the build stage
    (which saw the CA bundle and the index credentials) is deleted either way.
    """
    stage = f"{tag}@{time.time_ns()}"
    built, log = None, []
    try:
        stream = client.api.build(
            path=str(context),
            dockerfile=dockerfile,
            buildargs={**buildargs, "BUILD_STAGE_LABEL": stage},
            labels=labels,
            network_mode=network_mode(network),
            nocache=no_cache,
            rm=True,
            forcerm=True,
            decode=True,
        )
        for chunk in stream:
            if "error" in chunk:
                raise EnvtoolsError(
                    f"Building {tag} failed: {chunk['error'].strip()}\n" + "".join(log[-25:])
                )
            line = chunk.get("stream", "")
            log.append(line)
            if line.startswith("Step "):
                print(f"    {line.strip()[:150]}", flush=True)
            built = chunk.get("aux", {}).get("ID", built)
    except DockerException as error:
        raise EnvtoolsError(f"Building {tag} failed: {error}") from None
    finally:
        remove_build_stage(client, stage)
    if not built:
        raise EnvtoolsError(f"Building {tag} produced no image:\n" + "".join(log[-25:]))
    repository, _, version = tag.rpartition(":")
    client.api.tag(built, repository, version)
    return built


def remove_build_stage(client: docker.DockerClient, stage: str) -> None:
    """Delete the build stage's images, newest first (deleting one also frees its parents)."""
    images = client.images.list(all=True, filters={"label": f"{BUILD_STAGE_LABEL}={stage}"})
    for image in sorted(images, key=lambda image: image.attrs["Created"], reverse=True):
        with contextlib.suppress(ImageNotFound):
            client.images.remove(image.id, force=True)


def push(client: docker.DockerClient, tag: str) -> None:
    repository, _, version = tag.rpartition(":")
    for chunk in client.images.push(repository, version, stream=True, decode=True):
        if "error" in chunk:
            raise EnvtoolsError(
                f"Pushing {tag} failed: {chunk['error'].strip()}\n"
                "Log in to the registry first (`docker login HOST`)."
            )
    print(f"  {tag}  pushed", flush=True)


def size(client: docker.DockerClient, tag: str) -> str:
    return f"{client.images.get(tag).attrs['Size'] / 1e6:.0f} MB"
