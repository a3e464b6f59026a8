"""Stacks as code: `nox -s stacks -- apply [NAME ...] | export NAME | list`.

A stack is a file in configs/stacks/, in ZenML's own `zenml stack export` format. `apply`
registers the files' stacks in the project's store (the local one, or the running server), and
updates components whose configuration changed: run it again and nothing changes. Secrets stay
references to ZenML secrets (`zenml secret create`); never write a credential into a stack file.
"""

import argparse
from pathlib import Path

import yaml

from . import EnvtoolsError, registry
from .stackfiles import STACKS, components_of, read_stack, stack_files
from .state import ROOT


def selected(names: list[str]) -> dict[str, Path]:
    files = stack_files()
    unknown = [name for name in names if name not in files]
    if unknown:
        known = ", ".join(files) or "none"
        raise EnvtoolsError(
            f"No stack file for {', '.join(unknown)} in configs/stacks/ (there are: {known})."
        )
    return {name: files[name] for name in names} if names else files


def apply(names: list[str]) -> None:
    from zenml.client import Client
    from zenml.enums import StackComponentType

    client = Client()
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


def export(name: str) -> None:
    from zenml.client import Client

    try:
        stack = Client().get_stack(name)
    except KeyError:
        raise EnvtoolsError(f"No stack {name!r} is registered: `zenml stack list`.") from None
    definition = {**stack.to_yaml(), "zenml_version": registry.zenml_version()}
    refuse_plain_secrets(Client(), definition, f"Stack {name}")
    STACKS.mkdir(parents=True, exist_ok=True)
    path = STACKS / f"{name}.yaml"
    path.write_text(yaml.safe_dump(definition, sort_keys=False))
    print(f"Stack {name} written to {path.relative_to(ROOT)}")


def show() -> None:
    from zenml.client import Client

    registered = {stack.name for stack in Client().list_stacks(size=1000).items}
    for name, path in stack_files().items():
        state = "registered" if name in registered else "not applied"
        print(f"{name}: {path.relative_to(ROOT)} ({state})")
    for name in sorted(registered - stack_files().keys()):
        print(f"{name}: registered only (`nox -s stacks -- export {name}` makes it a file)")


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="nox -s stacks --", description=__doc__)
    parser.add_argument("action", choices=["apply", "export", "list"])
    parser.add_argument("names", nargs="*", metavar="NAME")
    args = parser.parse_args(argv)
    if args.action == "apply":
        apply(args.names)
    elif args.action == "export":
        if len(args.names) != 1:
            parser.error("export needs one stack name")
        export(args.names[0])
    else:
        show()
