"""Stack files: stacks as code in configs/stacks/, in ZenML's own `zenml stack export` format,
and which ZenML integration each component's flavor comes from."""

import logging
from pathlib import Path

import yaml

from . import EnvtoolsError, registry
from .state import CONNECTION, ROOT, read_env_file

STACKS = ROOT / "configs" / "stacks"
# ZenML's warning for each local component registered on a server it thinks is remote; the
# project's own server shares this machine's files (it mounts the artifact store).
LOCAL_ON_REMOTE = "local resources while connected to a remote ZenML server"


def selected(names: list[str]) -> dict[str, Path]:
    files = stack_files()
    unknown = [name for name in names if name not in files]
    if unknown:
        known = ", ".join(files) or "none"
        raise EnvtoolsError(
            f"No stack file for {', '.join(unknown)} in configs/stacks/ (there are: {known})."
        )
    return {name: files[name] for name in names} if names else files


class OwnServerWarnings(logging.Filter):
    """Drops LOCAL_ON_REMOTE while the store is this project's server, on this machine."""

    def __init__(self, store_url: str) -> None:
        super().__init__()
        self.own = store_url == read_env_file(CONNECTION).get("ZENML_STORE_URL")
        self.said = False

    def filter(self, record: logging.LogRecord) -> bool:
        if LOCAL_ON_REMOTE not in record.getMessage():
            return True
        if self.own or self.said:
            return False
        self.said = True  # another server: once, not once per component
        return True


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


def apply(names: list[str]) -> None:
    from zenml.client import Client
    from zenml.enums import StackComponentType

    client = Client()
    logging.getLogger("zenml.stack.utils").addFilter(OwnServerWarnings(client.zen_store.url))
    chosen = selected(names)
    for path in chosen.values():  # all files sound before anything is registered
        refuse_plain_secrets(client, read_stack(path), str(path.relative_to(ROOT)))
    for name, path in chosen.items():
        components = {}
        for component_type, component in components_of(read_stack(path)):
            kind = StackComponentType(component_type)
            configuration = component.get("configuration") or {}
            try:
                existing = client.get_stack_component(kind, component["name"])
            except KeyError:
                existing = None
            if existing is None:
                existing = client.create_stack_component(
                    component["name"], component["flavor"], kind, configuration
                )
                print(f"  {component_type} {component['name']}: registered")
            elif existing.flavor_name != component["flavor"]:
                raise EnvtoolsError(
                    f"{path.relative_to(ROOT)}: {component_type} {component['name']} is "
                    f"registered with flavor {existing.flavor_name}, the file says "
                    f"{component['flavor']}: rename one of them."
                )
            elif existing.configuration != configuration:
                existing = client.update_stack_component(
                    existing.id, kind, configuration=configuration
                )
                print(f"  {component_type} {component['name']}: updated")
            components[kind] = existing.id
        try:
            stack = client.get_stack(name)
        except KeyError:
            client.create_stack(name, components=components)
            print(f"Stack {name}: registered from {path.relative_to(ROOT)}")
            continue
        current = {kind: found[0].id for kind, found in stack.components.items()}
        if current != components:
            client.update_stack(stack.id, component_updates={k: [v] for k, v in components.items()})
            print(f"Stack {name}: updated from {path.relative_to(ROOT)}")
        else:
            print(f"Stack {name}: up to date")


def secret_reference(secret: str, key: str) -> str:
    """ZenML's reference to a secret's key: double braces (not spelt out in this file)."""
    return "{" * 2 + f"{secret}.{key}" + "}" * 2


def refuse_plain_secrets(client, definition: dict, where: str) -> None:
    """A credential (a field ZenML marks sensitive) must be a secret reference, not a value."""
    from zenml.enums import StackComponentType
    from zenml.utils.secret_utils import is_secret_reference

    for component_type, component in components_of(definition):
        try:
            flavor = client.get_flavor_by_name_and_type(
                component["flavor"], StackComponentType(component_type)
            )
        except KeyError:
            raise EnvtoolsError(
                f"{where}: ZenML has no {component_type} flavor {component['flavor']!r}."
            ) from None
        fields = flavor.config_schema.get("properties", {})
        for key, value in (component.get("configuration") or {}).items():
            if fields.get(key, {}).get("sensitive") and not is_secret_reference(value):
                raise EnvtoolsError(
                    f"{where}: {component_type} {component['name']} holds `{key}` in plain "
                    f"text. Keep it in a ZenML secret (`zenml secret create NAME --{key}=...`) "
                    f"and write the reference {secret_reference('NAME', key)} instead; nothing "
                    "was changed."
                )
