"""Stack files: stacks as code in configs/stacks/, in ZenML's own `zenml stack export` format,
and which ZenML integration each component's flavor comes from."""

import logging
import re
from pathlib import Path

import yaml

from . import ZenlockError, registry
from .state import CONNECTION, ROOT, read_env_file

STACKS = ROOT / "configs" / "stacks"
MAX_BYTES = 256 * 1024  # the largest stack file read; ZenML's exports are a few KiB
# Configuration keys that hold a credential whether or not ZenML marks the field sensitive.
CREDENTIAL_WORDS = {"password", "passwd", "secret", "token", "credential", "credentials"}
# ZenML's warning for each local component registered on a server it thinks is remote; the
# project's own server shares this machine's files (it mounts the artifact store).
LOCAL_ON_REMOTE = "local resources while connected to a remote ZenML server"
# `zenml stack import` refuses a file of another ZenML release: each file names its own.
VERSION_LINE = re.compile(r"^zenml_version:.*$", re.MULTILINE)


def selected(names: list[str]) -> dict[str, Path]:
    files = stack_files()
    unknown = [name for name in names if name not in files]
    if unknown:
        known = ", ".join(files) or "none"
        raise ZenlockError(
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


class NoAliases(yaml.SafeLoader):
    """YAML without anchors and aliases: a stack file needs none, and an alias "bomb" of a few
    hundred bytes expands to gigabytes."""

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.constructor.ConstructorError(
                None, None, "aliases (*name) are not allowed in a stack file", event.start_mark
            )
        return super().compose_node(parent, index)


def read_stack(path: Path) -> dict:
    """A stack file, refused in one line naming the file and the field when it is not one."""
    where = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
    if path.stat().st_size > MAX_BYTES:
        raise ZenlockError(f"{where} is larger than {MAX_BYTES // 1024} KiB: not a stack file.")
    try:
        definition = yaml.load(path.read_text(encoding="utf-8"), Loader=NoAliases) or {}
    except (yaml.YAMLError, UnicodeDecodeError) as error:
        detail = " ".join(str(error).split())
        raise ZenlockError(f"{where} is not valid YAML: {detail}") from None
    problem = stack_problem(definition)
    if problem:
        raise ZenlockError(f"{where}: {problem} (the format of `zenml stack export`).")
    return definition


def stack_problem(definition) -> str | None:
    """What makes `definition` not a stack file, or None."""
    if not isinstance(definition, dict) or not {"stack_name", "components"} <= definition.keys():
        return "a stack file needs `stack_name` and `components`"
    if not isinstance(definition["stack_name"], str) or not definition["stack_name"].strip():
        return "`stack_name` must be a name (text)"
    if not isinstance(definition["components"], dict) or not definition["components"]:
        return "`components` must map component types to their components"
    known = registry.component_types()
    for component_type, entries in definition["components"].items():
        if component_type not in known:
            return f"`components.{component_type}` is not a component type ({', '.join(known)})"
        for index, component in enumerate(entries if isinstance(entries, list) else [entries]):
            field = f"`components.{component_type}[{index}]`"
            if not isinstance(component, dict):
                return f"{field} must be a mapping with `name` and `flavor`"
            for key in ("name", "flavor"):
                if not isinstance(component.get(key), str) or not component[key].strip():
                    return f"{field} needs `{key}` (text)"
            if not isinstance(component.get("configuration") or {}, dict):
                return f"{field}.configuration must be a mapping"
    return None


def write_zenml_version(version: str) -> list[Path]:
    """The stack files that name a ZenML release (examples/ included) name `version` (that
    line replaced, the rest as it was): the files changed. A file without one stays so:
    `apply` needs none; `zenml stack import` does, and `stacks -- export` writes it."""
    changed = []
    for path in sorted(STACKS.glob("*.yaml")) + sorted(STACKS.glob("examples/*.yaml")):
        text = path.read_text(encoding="utf-8")
        new = VERSION_LINE.sub(f'zenml_version: "{version}"', text, count=1)
        if new != text:
            path.write_text(new, encoding="utf-8")
            changed.append(path)
    return changed


def version_problem(definition: dict, locked: str) -> str | None:
    """Why `zenml stack import` would refuse a file that names a ZenML release other than the
    locked one, or None (also when it names none: `apply` needs none)."""
    found = definition.get("zenml_version")
    if found is None or str(found) == locked:
        return None
    return (
        f"it says zenml_version {found} and the lock has ZenML {locked}: "
        "`zenml stack import` refuses it"
    )


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
                existing = client.get_stack_component(
                    kind, component["name"], allow_name_prefix_match=False
                )
            except KeyError:
                existing = None
            if existing is None:
                existing = client.create_stack_component(
                    component["name"], component["flavor"], kind, configuration
                )
                print(f"  {component_type} {component['name']}: registered")
            elif existing.flavor_name != component["flavor"]:
                raise ZenlockError(
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
            # By its exact name: ZenML would take `e2e` for `e2e-docker` (a prefix).
            stack = client.get_stack(name, allow_name_prefix_match=False)
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


def credential_like(key: str) -> bool:
    """`api_key`, `auth_token`, `db_password`, ... : words that name a credential."""
    words = key.lower().replace("-", "_").split("_")
    return bool(CREDENTIAL_WORDS & set(words)) or words[-1] in {"key", "apikey"}


def refuse_plain_secrets(client, definition: dict, where: str) -> None:
    """A credential (a field ZenML marks sensitive, or one named like a credential) must be a
    secret reference, not a value; a key the flavor does not know is named."""
    from zenml.enums import StackComponentType
    from zenml.utils.secret_utils import is_secret_reference

    for component_type, component in components_of(definition):
        try:
            flavor = client.get_flavor_by_name_and_type(
                component["flavor"], StackComponentType(component_type)
            )
        except KeyError:
            raise ZenlockError(
                f"{where}: ZenML has no {component_type} flavor {component['flavor']!r}."
            ) from None
        fields = flavor.config_schema.get("properties", {})
        for key, value in (component.get("configuration") or {}).items():
            if key not in fields:
                close = ", ".join(sorted(fields)) or "none"
                raise ZenlockError(
                    f"{where}: {component_type} {component['name']} (flavor "
                    f"{component['flavor']}) has no configuration key `{key}` (it has: {close})."
                )
            sensitive = fields[key].get("sensitive") or credential_like(key)
            if sensitive and value not in (None, "") and not is_secret_reference(value):
                raise ZenlockError(
                    f"{where}: {component_type} {component['name']} holds `{key}` in plain "
                    f"text. Keep it in a ZenML secret (`zenml secret create NAME --{key}=...`) "
                    f"and write the reference {secret_reference('NAME', key)} instead; nothing "
                    "was changed."
                )
