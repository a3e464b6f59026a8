"""`zenlock exec [--throwaway-zenml [--stack NAME]] CMD ...`: run CMD with the project's ZenML
config and server connection, or on a fresh, throw-away ZenML store whose active stack is
NAME's file (default: [tool.zenlock.stacks] default)."""

import sys

from . import ZenlockError
from .project import Project
from .zenmlenv import run_in_project_zenml, run_in_throwaway_zenml


def main(project: Project, args: list[str]) -> None:
    throwaway = args[:1] == ["--throwaway-zenml"]
    args = args[1:] if throwaway else args
    stack = None
    if throwaway and args[:1] == ["--stack"]:
        if len(args) < 2:
            raise ZenlockError("exec --throwaway-zenml --stack: name a stack of configs/stacks/.")
        stack, args = args[1], args[2:]
    if not args:
        raise ZenlockError("exec: name the command to run.")
    if throwaway:
        sys.exit(run_in_throwaway_zenml(project, stack, args))
    sys.exit(run_in_project_zenml(project, args))
