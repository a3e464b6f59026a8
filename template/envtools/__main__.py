"""`python -m envtools COMMAND [ARGS]`: what the nox sessions run.

lock [UV LOCK OPTIONS]            uv lock; an unknown extra is an error, the old lock stays
images | server | check | integrations | stacks | upgrade [...]
                                  see `python -m envtools COMMAND --help`
run MODULE [ARGS]                 run the project's run module on its stack (see envtools/run.py)
exec [--throwaway-zenml] CMD ...  run CMD with the project's ZenML config and server
                                  connection (or a fresh, throw-away ZenML store)
"""

import importlib
import os
import signal
import subprocess
import sys
import tempfile
import urllib.request

from . import EnvtoolsError
from .state import keep_zenml_state_private

COMMANDS = (
    "lock", "images", "server", "check", "integrations", "stacks", "upgrade", "run", "exec"
)  # fmt: skip


def exec_command(args: list[str]) -> int:
    """Run a command in the project's ZenML environment, set before the command starts."""
    throwaway = args[:1] == ["--throwaway-zenml"]
    args = args[1:] if throwaway else args
    if not args:
        raise EnvtoolsError("exec: name the command to run.")
    if not throwaway:
        try:
            use_project_zenml(project_zenml())
            return subprocess.run(args, env=dict(os.environ)).returncode
        finally:
            keep_zenml_state_private()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZENML_STORE_")}
    with tempfile.TemporaryDirectory(prefix="zenml-throwaway-") as config:
        return subprocess.run(args, env={**env, "ZENML_CONFIG_PATH": config}).returncode


def project_zenml() -> dict[str, str]:
    """The project's ZenML environment for a command that runs pipelines."""
    from .state import ZENML_CONFIG, zenml_environment

    # ZenML's local store holds runs and secrets: readable by you only.
    ZENML_CONFIG.mkdir(mode=0o700, exist_ok=True)
    ZENML_CONFIG.chmod(0o700)
    environment = zenml_environment()
    server_must_answer(environment.get("ZENML_STORE_URL"))
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


def server_must_answer(url: str | None) -> None:
    """A session bound to the project's server fails at once, with the fix, when it is down."""
    if not url:
        return
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=3):
            return
    except OSError as error:
        raise EnvtoolsError(
            f"This project's server at {url} does not answer ({error}): start it with "
            "`nox -s server -- up`, or `nox -s server -- down` to use the local ZenML store."
        ) from None


def stop_on_sigterm(signum, frame) -> None:
    """SIGTERM unwinds like Ctrl-C: all-or-nothing blocks restore pyproject.toml and uv.lock,
    temporary build contexts are removed."""
    raise KeyboardInterrupt


def main() -> None:
    signal.signal(signal.SIGTERM, stop_on_sigterm)
    command, *args = sys.argv[1:] or ["--help"]
    if command not in COMMANDS:
        sys.exit(__doc__)
    try:
        if command == "exec":
            sys.exit(exec_command(args))
        # lock runs before .venv exists (no ZenML there); detach is how a copied folder stops
        # using the original's server, which zenml_environment() refuses.
        if command != "lock" and args[:1] != ["detach"]:
            from .state import zenml_environment

            # Before anything imports ZenML: the project's state, never ~/.config/zenml.
            use_project_zenml(project_zenml() if command == "run" else zenml_environment())
        try:
            importlib.import_module(f"envtools.{command}").main(args)
        finally:
            if command != "lock":
                keep_zenml_state_private()
    except EnvtoolsError as error:
        sys.exit(f"error: {error}")
    except SyntaxError as error:  # most often what `copier update` leaves: conflict markers
        sys.exit(
            f"error: {error.filename} line {error.lineno} is not valid Python: resolve "
            "any merge conflict (<<<<<<<) there."
        )
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
