"""`nox -s zenml -- ARGS`: ZenML's CLI on the project's store or server."""

import sys
from pathlib import Path

from . import ZenlockError
from .project import Project
from .zenmlenv import run_in_project_zenml

# ZenML's own ways to choose or start a server: the project's are `nox -s server -- ...`.
SERVER_CHOICES = {
    "login": "up (its own server) or connect URL (another)",
    "logout": "down",
    "connect": "connect URL",
    "disconnect": "down",
    "up": "up",
    "down": "down",
}


def refuse_server_choice(args: list[str]) -> None:
    """Choosing or starting a server there would move the project's sessions off the server
    `nox -s server` manages (`zenml login --local` runs one that asks no password): refused,
    naming ours."""
    if args and args[0] in SERVER_CHOICES:
        raise ZenlockError(
            f"`zenml {args[0]}` would choose this project's server behind its back: use "
            f"`nox -s server -- {SERVER_CHOICES[args[0]]}`."
        )


def main(project: Project, args: list[str]) -> None:
    refuse_server_choice(args)
    zenml = Path(sys.executable).with_name("zenml")
    sys.exit(run_in_project_zenml(project, [sys.executable, str(zenml), *(args or ["status"])]))
