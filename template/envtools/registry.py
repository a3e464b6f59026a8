"""ZenML's integration registry, read from the ZenML in .venv (the locked version): what each
integration needs (Python requirements, apt packages) and which integration a flavor is from."""

import difflib
import functools

from . import lock


def integrations() -> dict:
    from zenml.integrations.registry import integration_registry

    return {name: integration_registry.integrations[name] for name in names()}


@functools.cache
def names() -> list[str]:
    from zenml.integrations.registry import integration_registry

    return sorted(integration_registry.list_integration_names)


def group_name(target: str, integration: str) -> str:
    """The dependency group of an integration for `target` (`pipelines` or `server`)."""
    return lock.INTEGRATION_PREFIXES[target] + integration.replace("_", "-")


def apt_packages_in(groups: list[str] | tuple[str, ...]) -> list[str]:
    """The apt packages ZenML declares for the integrations among `groups` (e.g. libgomp1)."""
    if not any(group.startswith(lock.INTEGRATION_PREFIXES["pipelines"]) for group in groups):
        return []  # nothing to ask the registry: ZenML's import is not free
    return sorted(
        {
            package
            for name, integration in integrations().items()
            if group_name("pipelines", name) in groups
            for package in integration.APT_PACKAGES
        }
    )


def zenml_version() -> str:
    import zenml

    return zenml.__version__


def requirements_of(integration: str) -> list[str]:
    """Its requirements, those it takes from other integrations included."""
    from zenml.integrations.registry import integration_registry

    return sorted(set(integration_registry.select_integration_requirements(integration)))


def unknown(requested: list[str]) -> str | None:
    """A message naming the first unknown integration and its close matches, or None."""
    for name in requested:
        if name not in names():
            close = difflib.get_close_matches(name, names(), n=3)
            hint = f" Did you mean {', '.join(close)}?" if close else ""
            return f"ZenML {zenml_version()} has no integration {name!r}.{hint}"
    return None


@functools.cache
def flavor_integrations() -> dict[tuple[str, str], str]:
    """(component type, flavor name) -> the integration that provides the flavor."""
    found = {}
    for name, integration in integrations().items():
        for flavor in integration.flavors():
            instance = flavor()
            found[(instance.type.value, instance.name)] = name
    return found


def declared() -> dict[str, dict[str, list[str]]]:
    """Integration -> {target: its group's requirements} as pyproject.toml has them."""
    by_group = {group_name("pipelines", name): name for name in names()}
    found: dict[str, dict[str, list[str]]] = {}
    for target in lock.INTEGRATION_PREFIXES:
        for group in lock.integration_groups(target):
            suffix = group.removeprefix(lock.INTEGRATION_PREFIXES[target])
            integration = by_group.get(lock.INTEGRATION_PREFIXES["pipelines"] + suffix, suffix)
            found.setdefault(integration, {})[target] = lock.dependency_groups()[group]
    return found


def stale() -> list[tuple[str, str, list[str], list[str]]]:
    """Declared integrations whose requirements differ from the registry's: (name, target,
    declared, wanted). `check` reports them: the ZenML version moved since they were added."""
    return [
        (name, target, current, wanted)
        for name, targets in declared().items()
        for wanted in [requirements_of(name)]
        for target, current in targets.items()
        if normalized(current) != normalized(wanted)
    ]


def normalized(requirements: list[str]) -> set[str]:
    """Requirements as packaging writes them: uv may order a specifier set differently."""
    from packaging.requirements import Requirement

    return {str(Requirement(requirement)) for requirement in requirements}
