"""`nox -s tests -- [--stack NAME] [PYTEST ARGS]`: pytest on a throw-away ZenML store whose
active stack is NAME's file (default: [tool.zenlock.stacks] default)."""

import argparse
import sys

from . import ZenlockError
from .project import Project
from .zenmlenv import run_in_throwaway_zenml


def main(project: Project, args: list[str]) -> None:
    stack, pytest_args = split_arguments(args)
    sys.exit(run_in_throwaway_zenml(project, stack, ["pytest", *pytest_args]))


def split_arguments(args: list[str]) -> tuple[str | None, list[str]]:
    """`--stack` is ours (the stack is registered and active before pytest starts, so a
    module may read it at import); every other argument is pytest's, `--help` too."""
    parser = argparse.ArgumentParser(prog="nox -s tests --", add_help=False, allow_abbrev=False)
    parser.add_argument("--stack")
    chosen, pytest_args = parser.parse_known_args(args)
    if chosen.stack is not None and not chosen.stack.strip():
        raise ZenlockError("--stack names a stack: `nox -s tests -- --stack NAME`.")
    return chosen.stack, pytest_args
