"""Stack files: stacks as code in configs/stacks/, in ZenML's own `zenml stack export` format,
and which ZenML integration each component's flavor comes from."""

import contextlib
import io
import logging
import os
import re
import sys
from collections import deque
from pathlib import Path

import yaml

from . import ZenlockError, registry
from .project import Project, working_root
from .state import analytics_choice, read_env_file

MAX_BYTES = 256 * 1024  # the largest stack file read; ZenML's exports are a few KiB
# The deepest nesting read: ZenML's exports need about ten levels, and YAML's reader recurses
# once per level (60,000 `[` would end in a RecursionError).
MAX_DEPTH = 64
# Set to its ZenML config folder in what a throw-away store runs (`zenlock exec
# --throwaway-zenml`): the tests' conftest.py keeps that store rather than make its own.
THROWAWAY = "ZENLOCK_THROWAWAY_ZENML"
# What ties ZenML to another store, stack, project or artifact folder than a throw-away one's.
OTHER_STORES = {"ZENML_ACTIVE_STACK_ID", "ZENML_ACTIVE_PROJECT_ID", "ZENML_LOCAL_STORES_PATH"}
# Configuration keys that hold a credential whether or not ZenML marks the field sensitive.
CREDENTIAL_WORDS = {"password", "passwd", "secret", "token", "credential", "credentials"}
# ZenML's warning for each local component registered on a server it thinks is remote; the
# project's own server shares this machine's files (it mounts the artifact store).
LOCAL_ON_REMOTE = "local resources while connected to a remote ZenML server"
# `zenml stack import` refuses a file of another ZenML release: each file names its own.
VERSION_LINE = re.compile(r"^zenml_version:.*$", re.MULTILINE)


def selected(project: Project, names: list[str]) -> dict[str, Path]:
    files = stack_files(project)
    unknown = [name for name in names if name not in files]
    if unknown:
        known = ", ".join(files) or "none"
        raise ZenlockError(
            f"No stack file for {', '.join(unknown)} in configs/stacks/ (there are: {known})."
        )
    return {name: files[name] for name in names} if names else files


class OwnServerWarnings(logging.Filter):
    """Drops LOCAL_ON_REMOTE while the store is this project's server, on this machine."""

    def __init__(self, connection: Path, store_url: str) -> None:
        super().__init__()
        self.own = store_url == read_env_file(connection).get("ZENML_STORE_URL")
        self.said = False

    def filter(self, record: logging.LogRecord) -> bool:
        if LOCAL_ON_REMOTE not in record.getMessage():
            return True
        if self.own or self.said:
            return False
        self.said = True  # another server: once, not once per component
        return True


def stack_files(project: Project) -> dict[str, Path]:
    """Stack name -> its file."""
    files = {}
    for path in sorted(project.stacks.glob("*.yaml")):
        definition = read_stack(project.root, path)
        files[definition["stack_name"]] = path
    return files


class TooDeep(yaml.YAMLError):
    """Nesting deeper than MAX_DEPTH, at this line."""


class StackLoader(yaml.SafeLoader):
    """YAML without anchors and aliases (a stack file needs none, and an alias "bomb" of a few
    hundred bytes expands to gigabytes), nested at most MAX_DEPTH levels."""

    depth = 0

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.constructor.ConstructorError(
                None, None, "aliases (*name) are not allowed in a stack file", event.start_mark
            )
        if self.depth >= MAX_DEPTH:
            raise TooDeep(self.peek_event().start_mark.line + 1)
        self.depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1


def read_stack(root: Path, path: Path) -> dict:
    """A stack file of the project in `root`, refused in one line naming the file and the
    field when it is not one."""
    where = path.relative_to(root) if path.is_relative_to(root) else path
    if path.stat().st_size > MAX_BYTES:
        raise ZenlockError(f"{where} is larger than {MAX_BYTES // 1024} KiB: not a stack file.")
    try:
        definition = yaml.load(path.read_text(encoding="utf-8"), Loader=StackLoader) or {}
    except TooDeep as error:
        raise ZenlockError(
            f"{where} nests deeper than {MAX_DEPTH} levels (line {error}): not a stack file."
        ) from None
    except (yaml.YAMLError, UnicodeDecodeError) as error:
        detail = " ".join(str(error).split())
        raise ZenlockError(f"{where} is not valid YAML: {detail}") from None
    problem = stack_problem(root, definition)
    if problem:
        raise ZenlockError(f"{where}: {problem} (the format of `zenml stack export`).")
    return definition


def stack_problem(root: Path, definition) -> str | None:
    """What makes `definition` not a stack file, or None."""
    if not isinstance(definition, dict) or not {"stack_name", "components"} <= definition.keys():
        return "a stack file needs `stack_name` and `components`"
    if not isinstance(definition["stack_name"], str) or not definition["stack_name"].strip():
        return "`stack_name` must be a name (text)"
    if not isinstance(definition["components"], dict) or not definition["components"]:
        return "`components` must map component types to their components"
    known = registry.component_types(root)
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


def write_zenml_version(stacks: Path, version: str) -> list[Path]:
    """The stack files that name a ZenML release (examples/ included) name `version` (that
    line replaced, the rest as it was): the files changed. A file without one stays so:
    `apply` needs none; `zenml stack import` does, and `stacks -- export` writes it."""
    changed = []
    for path in sorted(stacks.glob("*.yaml")) + sorted(stacks.glob("examples/*.yaml")):
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


def integrations_needed(root: Path, definition: dict) -> list[tuple[str, dict, str]]:
    """(component type, component, integration) for each component whose flavor is not
    built into ZenML."""
    flavors = registry.flavor_integrations(root)
    return [
        (component_type, component, flavors[(component_type, component["flavor"])])
        for component_type, component in components_of(definition)
        if (component_type, component["flavor"]) in flavors
    ]


def apply(project: Project, names: list[str]) -> None:
    from zenml.client import Client

    client = Client()
    own_server = OwnServerWarnings(project.connection, client.zen_store.url)
    logging.getLogger("zenml.stack.utils").addFilter(own_server)
    chosen = selected(project, names)
    definitions = {name: read_stack(project.root, path) for name, path in chosen.items()}
    for name, path in chosen.items():  # all files sound before anything is registered
        where = str(path.relative_to(project.root))
        refuse_plain_secrets(project.root, client, definitions[name], where)
    for name, path in chosen.items():
        try:
            register(client, name, definitions[name], str(path.relative_to(project.root)))
        except ValueError as error:  # ZenML's validation: pydantic's errors are ValueErrors
            errors = getattr(error, "errors", None)
            reason = errors()[0]["msg"] if callable(errors) else str(error).strip()
            reason = reason.removeprefix("Value error, ")
            where = path.relative_to(project.root)
            raise ZenlockError(
                f"{where}: ZenML refuses stack {name}: {reason.splitlines()[0]}"
            ) from None


def register(client, name: str, definition: dict, where: str) -> None:
    """Stack `name` and its components as its file (`where`) defines them, registered or
    updated."""
    from zenml.enums import StackComponentType

    components = {}
    for component_type, component in components_of(definition):
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
                f"{where}: {component_type} {component['name']} is "
                f"registered with flavor {existing.flavor_name}, the file says "
                f"{component['flavor']}: rename one of them."
            )
        elif existing.configuration != configuration:
            existing = client.update_stack_component(existing.id, kind, configuration=configuration)
            print(f"  {component_type} {component['name']}: updated")
        components[kind] = existing.id
    try:
        # By its exact name: ZenML would take `e2e` for `e2e-docker` (a prefix).
        stack = client.get_stack(name, allow_name_prefix_match=False)
    except KeyError:
        client.create_stack(name, components=components)
        print(f"Stack {name}: registered from {where}")
        return
    current = {kind: found[0].id for kind, found in stack.components.items()}
    if current != components:
        client.update_stack(stack.id, component_updates={k: [v] for k, v in components.items()})
        print(f"Stack {name}: updated from {where}")
    else:
        print(f"Stack {name}: up to date")


def use_throwaway_store(config: str, stack: str | None, project: Project | None = None) -> None:
    """This process, and what it starts, gets a fresh ZenML store in folder `config` (never
    the project's, a server, or what the shell names); with `stack`, that stack file's stack
    registered there and active (ZENML_ACTIVE_STACK_ID), else ZenML's `default`. Call it
    before ZenML is imported: tests read `Client().active_stack` at import time. `project`:
    by default the working directory's (the tests' conftest.py calls it there)."""
    project = project or Project.at(working_root())
    for key in list(os.environ):
        if key.startswith("ZENML_STORE_") or key in OTHER_STORES:
            del os.environ[key]
    os.environ.update(
        ZENML_CONFIG_PATH=config,
        ZENML_ANALYTICS_OPT_IN=analytics_choice(project),
        **{THROWAWAY: config},
    )
    if stack:
        os.environ["ZENML_ACTIVE_STACK_ID"] = registered_for_tests(project, stack)


def registered_for_tests(project: Project, name: str) -> str:
    """The id of stack `name`, registered from its file in this process's (throw-away) store;
    refused in one line when .venv cannot load it or ZenML refuses it."""
    from zenml.client import Client

    path = selected(project, [name])[name]
    where = path.relative_to(project.root)
    declared = registry.declared(project.root)
    needed = integrations_needed(project.root, read_stack(project.root, path))
    for component_type, component, integration in needed:
        if integration not in declared:
            raise ZenlockError(
                f"{where}: {component_type} {component['name']} (flavor {component['flavor']}) "
                f"needs the {integration} integration, which .venv lacks: "
                f"`nox -s integrations -- add {integration}`."
            )
    with contextlib.redirect_stdout(io.StringIO()):  # one line below says it all
        apply(project, [name])
    print(f"Tests run on stack {name} ({where}) in a throw-away ZenML store.", file=sys.stderr)
    return str(Client().get_stack(name, allow_name_prefix_match=False).id)


def secret_reference(secret: str, key: str) -> str:
    """ZenML's reference to a secret's key: double braces (not spelt out in this file)."""
    return "{" * 2 + f"{secret}.{key}" + "}" * 2


def credential_like(key: str) -> bool:
    """`api_key`, `auth_token`, `db_password`, ... : words that name a credential."""
    words = key.lower().replace("-", "_").split("_")
    return bool(CREDENTIAL_WORDS & set(words)) or words[-1] in {"key", "apikey"}


def credentials_in(configuration: dict, sensitive: set[str]) -> list[tuple[str, str, object]]:
    """(path, key, value) of every value a credential would be in: a top-level key that ZenML
    marks sensitive, or a key named like a credential at any depth, through mappings and lists;
    a list's `NAME=value` item (Docker's environment list) counts as key NAME. Empty values
    are none. A top-level key's path is the key itself."""
    found = []
    pending = deque((str(key), str(key), value, 1) for key, value in configuration.items())
    while pending:  # breadth first, without recursion: the order of the file
        path, key, value, depth = pending.popleft()
        named = credential_like(key) or (depth == 1 and key in sensitive)
        if named and value not in (None, "", [], {}):
            found.append((path, key, value))
        elif isinstance(value, dict):
            pending.extend((f"{path}.{k}", str(k), v, depth + 1) for k, v in value.items())
        elif isinstance(value, list):
            for index, item in enumerate(value):
                name, separator, text = item.partition("=") if isinstance(item, str) else ("",) * 3
                if separator and name.strip():
                    pending.append((f"{path}[{index}]", name.strip(), text, depth + 1))
                else:
                    pending.append((f"{path}[{index}]", "", item, depth + 1))
    return found


def refuse_plain_secrets(root: Path, client, definition: dict, where: str) -> None:
    """A credential (a field ZenML marks sensitive, or a key named like one at any depth) must
    be a secret reference in a top-level key, where ZenML resolves it; a key the flavor does
    not know is named."""
    from zenml.enums import StackComponentType
    from zenml.utils.secret_utils import is_secret_reference

    for component_type, component in components_of(definition):
        kind = StackComponentType(component_type)
        try:
            flavor = client.get_flavor_by_name_and_type(component["flavor"], kind)
        except KeyError:
            flavors = registry.flavor_integrations(root)
            integration = flavors.get((component_type, component["flavor"]))
            fix = f": `nox -s integrations -- add {integration}` brings it" if integration else ""
            raise ZenlockError(
                f"{where}: ZenML has no {component_type} flavor {component['flavor']!r}{fix}."
            ) from None
        fields = flavor.config_schema.get("properties", {})
        configuration = component.get("configuration") or {}
        for key in configuration:
            if key not in fields:
                close = ", ".join(sorted(fields)) or "none"
                raise ZenlockError(
                    f"{where}: {component_type} {component['name']} (flavor "
                    f"{component['flavor']}) has no configuration key `{key}` (it has: {close})."
                )
        sensitive = {key for key, field in fields.items() if field.get("sensitive")}
        for path, key, value in credentials_in(configuration, sensitive):
            holder = f"{where}: {component_type} {component['name']}"
            if path == key and not is_secret_reference(value):
                raise ZenlockError(
                    f"{holder} holds `{key}` in plain text. Keep it in a ZenML secret "
                    f"(`zenml secret create NAME --{key}=...`) and write the reference "
                    f"{secret_reference('NAME', key)} instead; nothing was changed."
                )
            if path != key:
                # ZenML resolves a reference in a top-level key only: below, the step would
                # get the reference's text. A run's `secrets:` become the steps' variables.
                raise ZenlockError(
                    f"{holder} holds {key} at `{path}`, below the top level, where ZenML "
                    "resolves no secret reference. Keep it in a ZenML secret "
                    f"(`zenml secret create NAME --{key}=...`) and list NAME under `secrets:` "
                    "in the run configuration (its keys become the steps' environment "
                    "variables); nothing was changed."
                )
