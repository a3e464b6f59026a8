"""What each layer of a pipeline image holds: ZenML's closure, what the integration groups
add, and the rest (the project's own dependencies), with what a step imports from each. The
build context's layers/ for docker/pipeline.Dockerfile, and the assembler's shares."""

from . import lock, registry
from .assemble import Share
from .project import Project
from .requirements import key as requirement_key

# What a step's container imports before the step's own code: compiled in the first layer.
STEP_MODULES = (
    "zenml.client",
    "zenml.entrypoints.entrypoint",
    "zenml.entrypoints.step_entrypoint_configuration",
    "zenml.orchestrators.step_launcher",
    "zenml.orchestrators.step_runner",
)
# What `python -m pip freeze` imports: ZenML runs it in each step to record the run's packages.
FREEZE_MODULES = (
    "pip._internal.cli.main",
    "pip._internal.commands.freeze",
    "pip._internal.operations.freeze",
)


def layer_files(project: Project, groups: tuple[str, ...], requirements: str) -> dict[str, str]:
    """The build context's layers/ (see docker/pipeline.Dockerfile): ZenML's closure, what
    the integration groups among `groups` add, and the rest; with what each compiles."""
    pyproject = lock.read_toml(project.pyproject)
    declared = pyproject.get("dependency-groups", {})

    def entries(selected: list[str]) -> list[str]:  # requirements, not include-group tables
        return [e for group in selected for e in declared.get(group, []) if isinstance(e, str)]

    integration_groups = [
        group for group in groups if registry.integration_of_group(project.root, group)
    ]
    others = [group for group in groups if group not in integration_groups]
    # The first layer: ZenML, and the pip of STEP_TOOLS (stable, and what every step runs).
    zenml, integrations, rest = lock.layered(
        project.lock,
        requirements,
        ["zenml", *entries([lock.STEP_TOOLS])],
        entries(integration_groups),
    )
    in_zenml_layer = {name for name, _ in lock.requirement_entries(zenml)}
    modules = [*STEP_MODULES, *(FREEZE_MODULES if "pip" in in_zenml_layer else ())]
    # The layers below compiled what their packages import already.
    in_project_layer = {name for name, _ in lock.requirement_entries(rest)}
    own = [
        entry
        for entry in [*pyproject["project"].get("dependencies", []), *entries(others)]
        if requirement_key(entry).name in in_project_layer
    ]
    return {
        "1-zenml/requirements.txt": zenml,
        "1-zenml/modules.txt": "\n".join(modules) + "\n",
        "2-integrations/requirements.txt": integrations,
        "2-integrations/integrations.txt": "".join(
            f"{name}\n" for name in registry.integrations_in(project.root, groups)
        ),
        "3-project/requirements.txt": rest,
        "3-project/packages.txt": "".join(f"{requirement}\n" for requirement in own),
    }


def shares(project: Project, groups: tuple[str, ...], requirements: str) -> list[Share]:
    """The assembler's shares of the lock: the three layers of docker/pipeline.Dockerfile."""
    files = layer_files(project, groups, requirements)

    def share(folder: str, **lists: str) -> Share:
        named = {key: tuple(files[f"{folder}/{name}"].split()) for key, name in lists.items()}
        return Share(files[f"{folder}/requirements.txt"], **named)

    return [
        share("1-zenml", modules="modules.txt"),
        share("2-integrations", integrations="integrations.txt"),
        share("3-project", packages="packages.txt"),
    ]
