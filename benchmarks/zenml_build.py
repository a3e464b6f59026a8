"""Build one pipeline image with ZenML's own builder; run with the generated project's python.

    .venv/bin/python zenml_build.py PROJECT PARENT TAG [--no-cache] [--include-code] [--group G]...
                                    [--registry URI]

What a ZenML user gets from `DockerSettings` on a stack with a `local` image builder, called
directly so that ZenML's build reuse (a lookup of earlier builds in its store) cannot skip
the build. Prints the seconds spent in the build call as JSON: the import of ZenML and the
start of its client are not counted, which favours ZenML in every comparison.
"""

import argparse
import json
import time
from pathlib import Path

from zenml.client import Client
from zenml.config.docker_settings import DockerBuildConfig, DockerBuildOptions, DockerSettings
from zenml.enums import StackComponentType
from zenml.utils import source_utils
from zenml.utils.pipeline_docker_image_builder import PipelineDockerImageBuilder

STACK = "bench-local-builder"
# The [project] dependencies and the image's groups (--group) from uv.lock: the pins `nox -s
# images` installs. ZenML's default export would add the dev and server groups and the
# editable plugin path.
EXPORT = [
    "uv", "export", "--directory", "{directory}", "--frozen", "--format=requirements-txt",
    "--no-dev", "--no-default-groups", "--no-emit-project", "--no-hashes", "--quiet",
]  # fmt: skip


def bench_stack(registry: str | None):
    """The default stack plus a `local` image builder (and a container registry, which ZenML
    pushes to), registered on first use."""
    client = Client()
    name = f"{STACK}-{registry.replace('/', '-').replace(':', '-')}" if registry else STACK
    try:
        client.get_stack(name)
    except KeyError:
        components = {
            StackComponentType.ORCHESTRATOR: "default",
            StackComponentType.ARTIFACT_STORE: "default",
            StackComponentType.IMAGE_BUILDER: STACK,
        }
        try:
            client.get_stack_component(StackComponentType.IMAGE_BUILDER, STACK)
        except KeyError:
            client.create_stack_component(STACK, "local", StackComponentType.IMAGE_BUILDER, {})
        if registry:
            client.create_stack_component(
                name, "default", StackComponentType.CONTAINER_REGISTRY, {"uri": registry}
            )
            components[StackComponentType.CONTAINER_REGISTRY] = name
        client.create_stack(name, components=components)
    client.activate_stack(name)
    return client.active_stack


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("project", type=Path)
    parser.add_argument("parent")
    parser.add_argument("tag", help="repository:tag of the image")
    parser.add_argument("--no-cache", action="store_true")
    parser.add_argument("--include-code", action="store_true", help="bake src/ into the image")
    parser.add_argument("--group", action="append", default=[], help="a dependency group more")
    parser.add_argument("--registry", help="push to this container registry URI (build + push)")
    args = parser.parse_args()
    repository, tag = args.tag.rsplit(":", 1)
    stack = bench_stack(args.registry)
    # ZenML copies the source root when it includes code; src/ is what zenlock's release bakes.
    source_utils.set_custom_source_root(str(args.project / "src"))
    settings = DockerSettings(
        parent_image=args.parent,
        python_package_installer="uv",
        pyproject_path=str(args.project / "pyproject.toml"),
        pyproject_export_command=[*EXPORT, *(f"--group={group}" for group in args.group)],
        install_stack_requirements=False,
        target_repository=repository,
        # host networking: this machine has no bridge network. rm: no leftover containers.
        build_config=DockerBuildConfig(
            build_options=DockerBuildOptions(no_cache=args.no_cache, rm=True, network_mode="host")
        ),
    )
    start = time.perf_counter()
    PipelineDockerImageBuilder().build_docker_image(
        docker_settings=settings, tag=tag, stack=stack, include_files=args.include_code
    )
    print(json.dumps({"build_seconds": time.perf_counter() - start}))


if __name__ == "__main__":
    main()
