"""The project's ZenML environment for a process: its own config folder, its server's
connection, or a throw-away store; a server that must answer is asked first."""

import json
import os
import subprocess
import sys
import tempfile

from packaging.version import Version

from . import ZenlockError
from .project import Project
from .stackfiles import use_throwaway_store
from .state import keep_zenml_state_private, zenml_environment


def run_in_project_zenml(project: Project, args: list[str]) -> int:
    """Run a command in the project's ZenML environment, set before the command starts."""
    try:
        use_project_zenml(project_zenml(project))
        return subprocess.run(args, env=dict(os.environ)).returncode
    finally:
        keep_zenml_state_private(project)


def run_in_throwaway_zenml(project: Project, stack: str | None, args: list[str]) -> int:
    """Run a command on a fresh ZenML store whose active stack is `stack`'s file (default:
    [tool.zenlock.stacks] default)."""
    with tempfile.TemporaryDirectory(prefix="zenml-throwaway-") as config:
        use_throwaway_store(config, stack or project.default_stack, project)
        return subprocess.run(args, env=dict(os.environ)).returncode


def project_zenml(project: Project) -> dict[str, str]:
    """The project's ZenML environment for a command that runs pipelines."""
    # ZenML's local store holds runs and secrets: readable by you only.
    project.zenml_config.mkdir(mode=0o700, exist_ok=True)
    project.zenml_config.chmod(0o700)
    environment = zenml_environment(project)
    server_must_answer(project, environment.get("ZENML_STORE_URL"))
    return environment


def use_project_zenml(environment: dict[str, str]) -> None:
    """This process's environment gets the project's ZenML connection. A ZENML_STORE_* left
    in the shell (another project's server) is dropped, and said: runs are never recorded on
    a server the project did not choose."""
    dropped = sorted(
        key for key in os.environ if key.startswith("ZENML_STORE_") and key not in environment
    )
    if dropped:
        where = "its own server" if "ZENML_STORE_URL" in environment else "its local ZenML store"
        print(
            f"Ignoring {', '.join(dropped)} from the shell: this project's sessions use {where}.",
            file=sys.stderr,
        )
    for key in dropped:
        del os.environ[key]
    os.environ.update(environment)


def server_must_answer(project: Project, url: str | None) -> None:
    """A session bound to the project's server fails at once, with the fix, when the server
    is down, cannot read its database, or runs another ZenML than the client (ZenML's rule).
    Without a connection, a project that has a server says that its runs go elsewhere."""
    if not url:
        if project.admin_env.is_file():
            print(
                "This project's server is not connected (`nox -s server -- up` connects it): "
                "runs go to the local ZenML store.",
                file=sys.stderr,
            )
        return
    import urllib.error  # here: only a command that talks to the server pays for its import
    import urllib.request
    from importlib import metadata

    try:
        with urllib.request.urlopen(f"{url}/api/v1/info", timeout=10) as response:
            server_version = json.load(response).get("version")
    except urllib.error.HTTPError as error:
        if error.code < 500:
            return  # an older server that wants a login for it: the client says the rest
        raise ZenlockError(
            f"This project's server at {url} runs but cannot read its database (HTTP "
            f"{error.code}): start the database (`nox -s server -- status` names it); the "
            "server reconnects by itself."
        ) from None
    except (OSError, ValueError) as error:
        raise ZenlockError(
            f"This project's server at {url} does not answer ({error}): start it with "
            "`nox -s server -- up`, or `nox -s server -- down` to use the local ZenML store."
        ) from None
    client_version = metadata.version("zenml")
    if server_version and server_version != client_version:
        newer = max(server_version, client_version, key=Version)
        raise ZenlockError(
            f"This project's client has ZenML {client_version}, its server {server_version}: "
            f"ZenML needs both the same. `nox -s upgrade -- {newer}` brings every environment "
            "to one version."
        )
