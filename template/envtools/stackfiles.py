"""Stack files: stacks as code in configs/stacks/, in ZenML's own `zenml stack export` format,
and which ZenML integration each component's flavor comes from."""

from pathlib import Path

import yaml

from . import EnvtoolsError, registry
from .state import ROOT

STACKS = ROOT / "configs" / "stacks"


def stack_files() -> dict[str, Path]:
    """Stack name -> its file."""
    files = {}
    for path in sorted(STACKS.glob("*.yaml")):
        definition = read_stack(path)
        files[definition["stack_name"]] = path
    return files


def read_stack(path: Path) -> dict:
    try:
        definition = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as error:
        raise EnvtoolsError(f"{path.relative_to(ROOT)} is not valid YAML: {error}") from None
    if not isinstance(definition, dict) or not {"stack_name", "components"} <= definition.keys():
        raise EnvtoolsError(
            f"{path.relative_to(ROOT)} is not a stack file: it needs `stack_name` and "
            "`components` (the format of `zenml stack export`)."
        )
    return definition


def components_of(definition: dict) -> list[tuple[str, dict]]:
    """(component type, component) for every component of a stack file."""
    return [
        (component_type, component)
        for component_type, entries in definition["components"].items()
        for component in (entries if isinstance(entries, list) else [entries])
    ]


def integrations_needed(definition: dict) -> list[tuple[str, dict, str]]:
    """(component type, component, integration) for each component whose flavor is not
    built into ZenML."""
    flavors = registry.flavor_integrations()
    return [
        (component_type, component, flavors[(component_type, component["flavor"])])
        for component_type, component in components_of(definition)
        if (component_type, component["flavor"]) in flavors
    ]
