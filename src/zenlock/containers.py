"""Run pipelines in this project's own images (built by `nox -s images`) on a stack whose
steps run in containers. The project's run module calls it, in .venv; it imports ZenML."""

import atexit
import hashlib
import os
import tempfile
from pathlib import Path

import yaml
from zenml.client import Client
from zenml.config import DockerSettings
from zenml.constants import ENV_ZENML_ACTIVE_STACK_ID
from zenml.enums import StoreType
from zenml.orchestrators.local_docker.local_docker_orchestrator import (
    LocalDockerOrchestratorSettings,
)
from zenml.utils import code_utils

from . import builds, discovery, registry
from .project import Project, working_root
from .stackfiles import THROWAWAY


class CodeWithData(code_utils.CodeArchive):
    """ZenML's code archive (the source root, src/) plus the project's data/ as `data/...`.

    A step in a container works in the extracted archive (/app/code), so `data/rows.csv`
    opens there as it does in .venv, where the working directory is the project's folder.
    Every file of data/ travels, ignored by git or not: it is what the step reads here.
    """

    def get_files(self) -> dict[str, str]:
        data = {name: str(path) for name, path in discovery.data_files().items()}
        return {**super().get_files(), **data}


def ship_data_with_the_code() -> None:
    """ZenML makes its code archive as `code_utils.CodeArchive(root=...)` when a run starts:
    from now on in this process that archive carries data/ too."""
    code_utils.CodeArchive = CodeWithData


def activate(stack: str) -> None:
    """Make `stack` the active one for this run only (ZenML's ZENML_ACTIVE_STACK_ID): the
    next plain run is on the project's default again. Steps in containers need a server."""
    client = Client()
    try:
        found = client.get_stack(stack, allow_name_prefix_match=False)  # not `e2e` for `e2e-x`
        os.environ[ENV_ZENML_ACTIVE_STACK_ID] = str(found.id)
    except KeyError:
        if os.environ.get(THROWAWAY) == os.environ.get("ZENML_CONFIG_PATH"):
            raise SystemExit(
                f"No stack {stack!r} in the tests' throw-away store, which holds the stack "
                f"`nox -s tests` activated: `nox -s tests -- --stack {stack}`."
            ) from None
        raise SystemExit(
            f"No stack {stack!r} is registered: add configs/stacks/{stack}.yaml, then "
            "`nox -s stacks -- apply`."
        ) from None
    orchestrator = client.active_stack.orchestrator
    if orchestrator.flavor != "local" and client.zen_store.type != StoreType.REST:
        raise SystemExit(
            "Steps in containers report to a ZenML server, and this client has none: start one "
            "with `nox -s server -- up`."
        )


def image_options(pipeline_name: str, config: Path | None = None) -> tuple[dict, str]:
    """`pipeline.with_options(...)` arguments that run `pipeline_name` in our image: its
    settings and, where ZenML takes one, its build (builds.py); with a summary. Docker settings
    in its run configuration `config` are left out, and said: our image supersedes them."""
    options = {}
    if config:
        kept, superseded = without_docker_settings(config)
        if superseded:
            print(
                f"{config}: {', '.join(superseded)} left out: steps in containers run in this "
                "project's image, built from uv.lock (its packages are pyproject.toml's: `nox -s "
                "integrations -- add NAME` or `-- add --from requirements.txt`)."
            )
            options["config_path"] = str(kept)
    project = Project.at(working_root())
    settings, where, image = chosen_image(project, pipeline_name)
    options["settings"] = settings
    if image is not None:
        build = builds.pipeline_build(project, image, settings["docker"])
        options |= {"build": build} if build else {}
    return options, where


def without_docker_settings(config: Path) -> tuple[Path, list[str]]:
    """The run configuration (ZenML's YAML) without its Docker settings, in a file of its own,
    and where it had them. ZenML would act on them (read a `requirements` file, build an
    image), and the image the run takes, ours, comes from the lock."""
    try:
        found = yaml.safe_load(Path(config).read_text()) or {}
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise SystemExit(
            f"{config} is not valid YAML{where}: fix it, or remove it to run with ZenML's defaults."
        ) from None
    except (OSError, UnicodeDecodeError) as error:
        raise SystemExit(f"{config} cannot be read: {error}.") from None
    for where, part in [
        ("", found),
        (".steps", found.get("steps") if isinstance(found, dict) else {}),
    ]:
        if part is not None and not isinstance(part, dict):
            raise SystemExit(
                f"{config}{where} is not a mapping: a run configuration is `key: value` lines "
                "(`parameters:`, `steps:`, `settings:`, ...), as ZenML reads it."
            )
    parts = [("settings.docker", found)]
    if isinstance(found.get("steps"), dict):
        parts += [(f"steps.{name}.settings.docker", step) for name, step in found["steps"].items()]
    superseded = []
    for where, part in parts:
        settings = part.get("settings") if isinstance(part, dict) else None
        if isinstance(settings, dict) and settings.pop("docker", None) is not None:
            superseded.append(where)
    if not superseded:
        return config, []
    handle, name = tempfile.mkstemp(prefix=f"{Path(config).stem}-", suffix=".yaml")
    with os.fdopen(handle, "w") as kept:
        yaml.safe_dump(found, kept, sort_keys=False)
    atexit.register(os.unlink, name)
    return Path(name), superseded


def chosen_image(project: Project, pipeline_name: str) -> tuple[dict, str, dict | None]:
    """The settings, summary and recorded image of `pipeline_name` on the active stack.

    iterate mode: the image holds the locked dependencies and ZenML ships the code with each
    run. release mode: the code is inside the image and ZenML's code download is off.
    """
    stack = Client().active_stack
    if stack.orchestrator.flavor == "local":
        return {}, "code runs in this process (.venv)", None
    record = project.read_record().get("pipelines")
    if not record:
        raise SystemExit("No pipeline image recorded in configs/images.yaml: run `nox -s images`.")
    if hashlib.sha256(project.lock.read_bytes()).hexdigest() != record["lock_sha256"]:
        raise SystemExit("uv.lock changed since the images were built: run `nox -s images`.")
    by_pipeline = {name: image for image in record["images"] for name in image["pipelines"]}
    image = by_pipeline.get(pipeline_name, by_pipeline["default"])
    refuse_missing_integrations(project.root, stack, image)
    if stack.orchestrator.flavor == "airflow":
        # ZenML writes the DAG archive, which holds the run's server token, with this
        # process's umask: readable by Airflow's group, not by everyone (docs: Stacks).
        os.umask(0o027)
    reference = image["tag"]
    if stack.container_registry:  # the steps pull it: by digest, so a re-tag changes nothing
        if "digest" not in image:
            raise SystemExit(
                f"Stack {stack.name} pulls images from a registry, and {image['tag']} was not "
                "pushed: `nox -s images -- --push`."
            )
        reference = image["digest"]
    release = record["mode"] == "release"
    data = discovery.data_files(project.root)
    if not release:  # the release image holds data/ (docker/release.Dockerfile)
        data_size = discovery.refuse_heavy_data(data, project.root)
        ship_data_with_the_code()
    settings = {
        "docker": DockerSettings(
            parent_image=reference,
            skip_build=True,
            allow_download_from_artifact_store=not release,
            # Never from a code repository: ZenML would run the steps in its checkout of src/,
            # without data/.
            allow_download_from_code_repository=False,
        )
    }
    if stack.orchestrator.flavor == "local_docker":
        # remove: ZenML leaves every finished step container behind otherwise.
        settings["orchestrator"] = LocalDockerOrchestratorSettings(
            run_args={"network_mode": record["network"], "remove": True}
        )
    what = "code" if not data else "code and data/"
    if release:
        code = f"{what} baked into the image"
    else:
        shipped = f" ({len(data)} files, {data_size / 1_000_000:.1f} MB)" if data else ""
        code = f"{what}{shipped} shipped by ZenML with the run"
    summary = f"image {reference} ({record['mode']} mode: {code})"
    return settings, summary, {**image, "mode": record["mode"]}


def refuse_missing_integrations(root: Path, stack, image: dict) -> None:
    """With skip_build ZenML adds nothing to the image: a component whose integration the
    image lacks would fail only inside the container. Stop before anything starts."""
    client = Client()
    for component in stack.all_components:
        flavor = client.get_flavor_by_name_and_type(component.flavor, component.type)
        integration = flavor.integration
        if integration in (None, "", "built-in"):
            continue
        if not registry.requirements_of(root, integration):  # nothing beyond ZenML (airflow)
            continue
        if registry.group_name("pipelines", integration) not in image["groups"]:
            raise SystemExit(
                f"Stack {stack.name}: {component.type.value} {component.name} needs ZenML's "
                f"{integration} integration, which image {image['tag']} lacks: "
                f"`nox -s integrations -- add {integration}`, then `nox -s images`."
            )
