"""Stacks as code: `nox -s stacks -- apply [NAME ...] | export NAME | list`.

A stack is a file in configs/stacks/, in ZenML's own `zenml stack export` format. `apply`
registers the files' stacks in the project's store (the local one, or the running server), and
updates components whose configuration changed: run it again and nothing changes. Secrets stay
references to ZenML secrets (`zenml secret create`); never write a credential into a stack file.
"""

import argparse

import yaml

from . import ZenlockError, registry
from .settings import default_stack
from .stackfiles import STACKS, apply, refuse_plain_secrets, stack_files
from .state import ROOT


def export(name: str) -> None:
    from zenml.client import Client

    try:
        stack = Client().get_stack(name, allow_name_prefix_match=False)
    except KeyError:
        raise ZenlockError(f"No stack {name!r} is registered: `zenml stack list`.") from None
    definition = {**stack.to_yaml(), "zenml_version": registry.zenml_version()}
    refuse_plain_secrets(Client(), definition, f"Stack {name}")
    STACKS.mkdir(parents=True, exist_ok=True)
    path = STACKS / f"{name}.yaml"
    path.write_text(yaml.safe_dump(definition, sort_keys=False))
    print(f"Stack {name} written to {path.relative_to(ROOT)}")


def show() -> None:
    from zenml.client import Client

    registered = {stack.name for stack in Client().list_stacks(size=1000).items}
    default = default_stack()
    for name, path in stack_files().items():
        state = "registered" if name in registered else "not applied"
        state += ", the default of `nox -s run`" if name == default else ""
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
