"""Run pipelines in this project's own images on a Docker stack (built by `nox -s images`)."""

import hashlib
from pathlib import Path

import yaml
from zenml.client import Client
from zenml.config import DockerSettings
from zenml.enums import StackComponentType, StoreType
from zenml.orchestrators.local_docker.local_docker_orchestrator import (
    LocalDockerOrchestratorSettings,
)

IMAGES = Path("configs") / "images.yaml"
LOCK = Path("uv.lock")
DOCKER_STACK = "local-docker"


def use_local_docker_stack() -> None:
    """Register (on first use) and activate a stack whose steps run in local containers."""
    client = Client()
    if client.zen_store.type != StoreType.REST:
        raise SystemExit(
            "Steps in containers report to a ZenML server, and this client has none: start one "
            "with `nox -s server -- up`, or `ZENML_CONFIG_PATH=.zenml uv run zenml login --local`."
        )
    try:
        client.get_stack(DOCKER_STACK)
    except KeyError:
        for component_type, flavor in [
            (StackComponentType.ORCHESTRATOR, "local_docker"),
            (StackComponentType.IMAGE_BUILDER, "local"),
        ]:
            client.create_stack_component(DOCKER_STACK, flavor, component_type, configuration={})
        client.create_stack(
            DOCKER_STACK,
            components={
                StackComponentType.ORCHESTRATOR: DOCKER_STACK,
                StackComponentType.IMAGE_BUILDER: DOCKER_STACK,
                StackComponentType.ARTIFACT_STORE: "default",
            },
        )
    client.activate_stack(DOCKER_STACK)


def image_settings(pipeline_name: str) -> tuple[dict, str]:
    """ZenML settings that run `pipeline_name` in our image and build nothing, with a summary.

    iterate mode: the image holds the locked dependencies and ZenML ships the code with each
    run. release mode: the code is inside the image and ZenML's code download is off.
    """
    orchestrator = Client().active_stack.orchestrator
    if orchestrator.flavor == "local":
        return {}, "code runs in this process (.venv)"
    record = yaml.safe_load(IMAGES.read_text()).get("pipelines") if IMAGES.is_file() else None
    if not record:
        raise SystemExit(f"No pipeline image recorded in {IMAGES}: run `nox -s images` first.")
    if hashlib.sha256(LOCK.read_bytes()).hexdigest() != record["lock_sha256"]:
        raise SystemExit("uv.lock changed since the images were built: run `nox -s images`.")
    by_pipeline = {name: image["tag"] for image in record["images"] for name in image["pipelines"]}
    image = by_pipeline.get(pipeline_name, by_pipeline["default"])
    release = record["mode"] == "release"
    settings = {
        "docker": DockerSettings(
            parent_image=image,
            skip_build=True,
            allow_download_from_artifact_store=not release,
            allow_download_from_code_repository=not release,
        )
    }
    if orchestrator.flavor == "local_docker":
        # remove: ZenML leaves every finished step container behind otherwise.
        settings["orchestrator"] = LocalDockerOrchestratorSettings(
            run_args={"network_mode": record["network"], "remove": True}
        )
    code = "baked into the image" if release else "shipped by ZenML with the run"
    return settings, f"image {image} ({record['mode']} mode: code {code})"
