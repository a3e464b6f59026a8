"""Docker builds through the Engine API (docker SDK): progress lines, tags only on success."""

import contextlib
import time
from pathlib import Path

import docker
from docker.errors import DockerException, ImageNotFound

from .config import EnvtoolsError

BUILD_STAGE_LABEL = "envtools.build-stage"


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
    try:
        return client.images.get(reference).id
    except ImageNotFound:
        return None


def parent_image_id(client: docker.DockerClient, reference: str) -> str:
    """The parent's image id (pulled when missing): it goes into every child's tag."""
    found = image_id(client, reference)
    if found:
        return found
    print(f"Pulling parent image {reference} ...", flush=True)
    try:
        return client.images.pull(reference).id
    except DockerException as error:
        raise EnvtoolsError(
            f"Parent image {reference} is not on this machine and could not be pulled "
            f"({error}).\nPull or build it, or choose another parent with --parent-image."
        ) from None


def build_network(network: str) -> str | None:
    """Builds use the daemon's default network unless the host has no bridge."""
    return "host" if network == "host" else None


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
            network_mode=build_network(network),
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
