"""Stacks as code: `nox -s stacks -- apply [NAME ...] | export NAME | list`.

A stack is a file in configs/stacks/, in ZenML's own `zenml stack export` format. `apply`
registers the files' stacks in the project's store (the local one, or the running server), and
updates components whose configuration changed: run it again and nothing changes. Secrets stay
references to ZenML secrets (`zenml secret create`); never write a credential into a stack file.
"""

import argparse

import yaml

from . import ZenlockError, registry
from .project import Project
from .stackfiles import apply, refuse_plain_secrets, stack_files


def export(project: Project, name: str) -> None:
    from zenml.client import Client

    try:
        stack = Client().get_stack(name, allow_name_prefix_match=False)
    except KeyError:
        raise ZenlockError(f"No stack {name!r} is registered: `zenml stack list`.") from None
    definition = {**stack.to_yaml(), "zenml_version": registry.zenml_version()}
    refuse_plain_secrets(project.root, Client(), definition, f"Stack {name}")
    project.stacks.mkdir(parents=True, exist_ok=True)
    path = project.stacks / f"{name}.yaml"
    path.write_text(yaml.safe_dump(definition, sort_keys=False))
    print(f"Stack {name} written to {path.relative_to(project.root)}")


def show(project: Project) -> None:
    from zenml.client import Client

    registered = {stack.name for stack in Client().list_stacks(size=1000).items}
    default = project.default_stack
    files = stack_files(project)
    for name, path in files.items():
        state = "registered" if name in registered else "not applied"
        state += ", the default of `nox -s run`" if name == default else ""
        print(f"{name}: {path.relative_to(project.root)} ({state})")
    for name in sorted(registered - files.keys()):
        print(f"{name}: registered only (`nox -s stacks -- export {name}` makes it a file)")


def main(project: Project, argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="nox -s stacks --", description=__doc__)
    parser.add_argument("action", choices=["apply", "export", "list"])
    parser.add_argument("names", nargs="*", metavar="NAME")
    args = parser.parse_args(argv)
    if args.action == "apply":
        apply(project, args.names)
    elif args.action == "export":
        if len(args.names) != 1:
            parser.error("export needs one stack name")
        export(project, args.names[0])
    else:
        show(project)
