"""Our images as ZenML pipeline builds: a run on one of them carries a build that names the
image (its digest when pushed), the Dockerfile and the lock's requirements it was built from,
so `zenml pipeline builds list` and the dashboard show what ran. One build per image and
stack: the next run finds it by ZenML's own checksum of the run's Docker settings."""

import logging
from pathlib import Path
from uuid import UUID

import zenml
from zenml.client import Client
from zenml.config import DockerSettings
from zenml.config.build_configuration import BuildConfiguration
from zenml.constants import ORCHESTRATOR_DOCKER_IMAGE_KEY
from zenml.models import BuildItem, PipelineBuildRequest
from zenml.pipelines.build_utils import compute_stack_checksum, prepare_pipeline_build
from zenml.stack import StackComponent

from . import lock
from .project import Project

# ZenML's warning for every build without a registry; our tags name the build's inputs, so a
# tag is never overwritten by another image.
LOCAL_BUILD = "You manually specified a local build"


class OwnLocalBuilds(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return LOCAL_BUILD not in record.getMessage()


def only_the_orchestrator_builds(stack) -> bool:
    """Whether the orchestrator is the only component that asks for images: a step operator
    (or a deployer) wants images under keys of its own, which ZenML then records itself."""
    return all(
        type(component).get_docker_builds is StackComponent.get_docker_builds
        for component in stack.components.values()
        if component is not stack.orchestrator
    )


def pipeline_build(project: Project, image: dict, docker: DockerSettings) -> UUID | None:
    """The id of the ZenML build of the recorded `image`, run by `docker` (its reference is
    the parent image) on the active stack, registered on its first run; None where ZenML must
    make the build itself."""
    client = Client()
    stack = client.active_stack
    if not only_the_orchestrator_builds(stack):
        return None
    logging.getLogger("zenml.pipelines.build_utils").addFilter(OwnLocalBuilds())
    configuration = BuildConfiguration(key=ORCHESTRATOR_DOCKER_IMAGE_KEY, settings=docker)
    prepared = prepare_pipeline_build(items=[configuration], stack=stack)
    stack_model = client.active_stack_model
    found = client.list_builds(
        stack_id=stack_model.id,
        checksum=prepared.checksum,
        zenml_version=zenml.__version__,
        sort_by="desc:created",
        size=1,
    )
    if found.items:
        return found.items[0].id
    release = image["mode"] == "release"
    selection = lock.selection(project.root, image["mode"], image["groups"])
    item = prepared.items[0]
    request = PipelineBuildRequest(
        project=client.active_project.id,
        stack=stack_model.id,
        is_local=stack.container_registry is None,
        contains_code=release,
        images={
            item.key: BuildItem(
                image=docker.parent_image,
                dockerfile=dockerfile(project.dockerfiles, release),
                requirements=lock.export(project.root, selection),
                settings_checksum=item.settings_checksum,
                contains_code=release,
                requires_code_download=not release,
            )
        },
        zenml_version=zenml.__version__,
        python_version=image.get("python"),
        checksum=prepared.checksum,
        stack_checksum=compute_stack_checksum(stack=stack_model),
    )
    return client.zen_store.create_build(request).id


def dockerfile(dockerfiles: Path, release: bool) -> str:
    """The Dockerfile(s) of the image, as `nox -s images` built it: a release image is the
    pipeline image plus release.Dockerfile."""
    names = ["pipeline.Dockerfile", *(["release.Dockerfile"] if release else [])]
    return "\n".join(
        f"# docker/{name}\n" + (dockerfiles / name).read_text(encoding="utf-8") for name in names
    )
