"""`nox -s run -- [--stack NAME | --docker] [ARGS]`: run the project's run module on a stack.

The stack (`--stack`, `--docker` = local-docker, else `[tool.zenlock.stacks] default`) is
registered from its stack file first and handed to the run module, which makes it the active
one before any pipeline module is imported: steps that read the active stack at import time
(`Client().active_stack.experiment_tracker`) find it, locally and on the project's server.
The run module runs in this process: ZenML is imported once.
"""

import runpy
import sys

from .project import Project
from .stackfiles import apply, stack_files

DOCKER_STACK = "local-docker"  # configs/stacks/local-docker.yaml: `--docker` runs on it


def requested_stack(args: list[str]) -> str | None:
    """The stack a run asks for: `--stack NAME` (or `--stack=NAME`), `--docker` = local-docker."""
    for index, arg in enumerate(args):
        if arg == "--stack" and index + 1 < len(args):
            return args[index + 1]
        if arg.startswith("--stack="):
            return arg.split("=", 1)[1]
    return DOCKER_STACK if "--docker" in args else None


def main(project: Project, argv: list[str]) -> None:
    module, *args = argv
    if not {"-h", "--help"} & set(args):  # help registers nothing
        stack = requested_stack(args)
        if stack is None:
            stack = project.default_stack
            if stack:
                args = ["--stack", stack, *args]
        if stack in stack_files(project):  # the file's current state, registered before the run
            apply(project, [stack])
    sys.argv = [module, *args]
    runpy.run_module(module, run_name="__main__", alter_sys=True)
