"""ZenML's integration registry, as the ZenML in .venv (the locked version) has it: what each
integration needs (Python requirements, apt packages) and which integration a flavor is from.

Importing ZenML takes seconds, so what is read from the registry is kept in
configs/zenml-registry.json, made for one ZenML version: commands that change the lock or
build (`integrations`, `images`, `server`) write it when ZenML's version moved, and every
other read (a no-op build, `check`, `server -- status`) takes it from there without ZenML.
"""

import difflib
import functools
import json
import subprocess
import sys
from pathlib import Path

from packaging.utils import canonicalize_name

from . import ZenlockError, lock, requirements
from .project import Project

# Activates integrations as ZenML does at run time; run by the python under test.
ACTIVATION = Path(__file__).with_name("activation.py")


def zenml_version() -> str:
    """The ZenML installed in .venv, read from its metadata (no import)."""
    from importlib.metadata import version  # here: a no-op build reads the lock instead

    return version("zenml")


def locked_zenml(root: Path) -> str | None:
    lock_file = Project.at(root).lock
    return lock.locked_version(lock_file.read_text(), "zenml") if lock_file.is_file() else None


@functools.cache
def snapshot(root: Path) -> dict:
    """The registry of the installed ZenML: the project's snapshot when it is of that version."""
    try:
        saved = json.loads(snapshot_file(root).read_text())
    except (OSError, ValueError):
        saved = {}
    # The sessions run in .venv synced to the lock: its ZenML is the locked one.
    if saved.get("zenml_version") == locked_zenml(root) and "component_types" in saved:
        return saved
    return derive()


def derive() -> dict:
    """Read the registry from ZenML itself (imports ZenML and every integration's flavors)."""
    from zenml.integrations.registry import integration_registry

    integrations, flavors = {}, {}
    for name in sorted(integration_registry.list_integration_names):
        integration = integration_registry.integrations[name]
        integrations[name] = {
            # Its requirements, those it takes from other integrations included.
            "requirements": sorted(set(integration_registry.select_integration_requirements(name))),
            "apt_packages": sorted(integration.APT_PACKAGES),
        }
        for flavor in integration.flavors():
            instance = flavor()
            flavors[f"{instance.type.value}/{instance.name}"] = name
    from zenml.enums import StackComponentType

    return {
        "zenml_version": zenml_version(),
        "integrations": integrations,
        "flavors": flavors,
        "component_types": sorted(kind.value for kind in StackComponentType),
    }


def snapshot_file(root: Path) -> Path:
    return Project.at(root).registry_snapshot


def save(root: Path) -> None:
    """Write the snapshot when it is not of the installed ZenML (commands that write call
    this)."""
    current = snapshot(root)
    written = snapshot_file(root)
    try:
        if json.loads(written.read_text()) == current:
            return
    except (OSError, ValueError):
        pass
    written.parent.mkdir(parents=True, exist_ok=True)
    header = {"_": "Written by zenlock from ZenML's integration registry; do not edit."}
    written.write_text(json.dumps({**header, **current}, indent=1, sort_keys=True) + "\n")


def names(root: Path) -> list[str]:
    return sorted(snapshot(root)["integrations"])


def requirements_of(root: Path, integration: str) -> list[str]:
    return snapshot(root)["integrations"][integration]["requirements"]


def component_types(root: Path) -> list[str]:
    """ZenML's stack component types (orchestrator, artifact_store, ...)."""
    return snapshot(root)["component_types"]


# The dependency groups `nox -s integrations` writes, one per ZenML integration: for the
# pipeline images (and .venv), and for the server image too.
INTEGRATION_PREFIXES = {"pipelines": "integration-", "server": "server-integration-"}


def integration_groups(root: Path, target: str) -> list[str]:
    """The integration groups that go into `target`'s images: `pipelines` or `server`."""
    prefix = INTEGRATION_PREFIXES[target]
    return sorted(
        name
        for name, entries in lock.dependency_groups(root).items()
        if name.startswith(prefix) and entries
    )


def group_name(target: str, integration: str) -> str:
    """The dependency group of an integration for `target` (`pipelines` or `server`)."""
    return INTEGRATION_PREFIXES[target] + integration.replace("_", "-")


def integration_of_group(root: Path, group: str) -> tuple[str, str] | None:
    """(target, integration) of an integration group's name, or None for another group."""
    by_suffix = {name.replace("_", "-"): name for name in names(root)}
    # The longest prefix first: `server-integration-` also ends in `integration-`.
    for target, prefix in sorted(INTEGRATION_PREFIXES.items(), key=lambda item: -len(item[1])):
        if group.startswith(prefix):
            suffix = group.removeprefix(prefix)
            return target, by_suffix.get(suffix, suffix)
    return None


def apt_packages_in(root: Path, groups: list[str] | tuple[str, ...]) -> list[str]:
    """The apt packages ZenML declares for the integrations among `groups` (e.g. libgomp1)."""
    found = set()
    for group in groups:
        owner = integration_of_group(root, group)
        if owner and owner[1] in snapshot(root)["integrations"]:
            found.update(snapshot(root)["integrations"][owner[1]]["apt_packages"])
    return sorted(found)


def unknown(root: Path, requested: list[str]) -> str | None:
    """A message naming the first unknown integration and its close matches, or None."""
    for name in requested:
        if name not in names(root):
            close = difflib.get_close_matches(name, names(root), n=3)
            hint = f" Did you mean {', '.join(close)}?" if close else ""
            return f"ZenML {zenml_version()} has no integration {name!r}.{hint}"
    return None


# Packages whose ZenML integration is named otherwise (ZenML's own names for them).
ALIASES = {"scikit-learn": "sklearn", "torch": "pytorch", "pyspark": "spark"}


def named_by(root: Path, package: str) -> str | None:
    """The integration a package stands for in a requirements file: the one named like it
    (mlflow, xgboost; scikit-learn: sklearn), when that integration needs the package. Any
    other package is a plain dependency, even one an integration happens to need (boto3)."""
    wanted = canonicalize_name(package)
    named = {canonicalize_name(name): name for name in snapshot(root)["integrations"]}
    integration = named.get(canonicalize_name(ALIASES.get(wanted, wanted)))
    if integration is None:
        return None
    needs = {requirements.parse(text).name for text in requirements_of(root, integration)}
    return integration if wanted in map(canonicalize_name, needs) else None


def flavor_integrations(root: Path) -> dict[tuple[str, str], str]:
    """(component type, flavor name) -> the integration that provides the flavor."""
    return {tuple(flavor.split("/", 1)): name for flavor, name in snapshot(root)["flavors"].items()}


def declared(root: Path) -> dict[str, dict[str, list[str]]]:
    """Integration -> {target: its group's requirements} as pyproject.toml has them."""
    found: dict[str, dict[str, list[str]]] = {}
    for group, entries in lock.dependency_groups(root).items():
        owner = integration_of_group(root, group)
        if owner and entries:
            target, integration = owner
            found.setdefault(integration, {})[target] = entries
    return found


def stale(root: Path) -> list[tuple[str, str, list[str], list[str]]]:
    """Declared integrations whose requirements differ from the registry's: (name, target,
    declared, wanted). `check` reports them: the ZenML version moved since they were added."""
    return [
        (name, target, current, wanted)
        for name, targets in declared(root).items()
        if name in snapshot(root)["integrations"]
        for wanted in [requirements_of(root, name)]
        for target, current in targets.items()
        if not requirements.same(current, wanted)
    ]


def integrations_in(root: Path, groups: list[str] | tuple[str, ...]) -> list[str]:
    """The ZenML integrations whose groups are among `groups`."""
    return sorted({owner[1] for group in groups if (owner := integration_of_group(root, group))})


def inactive_in_venv(root: Path, names: list[str]) -> list[dict]:
    """activation.py's reports of those among `names` that fail in .venv (a fresh process:
    it sees the packages just synced)."""
    if not names:
        return []
    done = subprocess.run(
        [sys.executable, str(ACTIVATION), *names], capture_output=True, text=True, cwd=root
    )
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        raise ZenlockError(f"Activating {', '.join(names)} crashed:\n{done.stderr[-2000:]}")
    return [found for found in json.loads(lines[-1]) if not found["ok"]]


def inactive_message(found: dict) -> str:
    """One failed activation and its fix: a constraint on the package behind the failure."""
    from packaging.version import Version

    package, version = found["package"], found["version"]
    if not (package and version):
        return f"The {found['integration']} integration does not import: {found['error']}."
    release = Version(version).release
    below = f"{release[0]}" if release[0] else f"0.{release[1] if len(release) > 1 else 0}"
    return (
        f"The {found['integration']} integration does not import with {package} {version} "
        f"(locked): {found['error']}. Keep {package} below that release with a constraint in "
        f'pyproject.toml: [tool.uv] constraint-dependencies = ["{package}<{below}"] (every '
        "lock, sync and upgrade keeps it), then run this again."
    )
