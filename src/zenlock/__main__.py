"""usage: zenlock COMMAND [ARGS] -- what the project's nox sessions run, in its folder.

lock [UV LOCK OPTIONS]            uv lock; an unknown extra is an error, the old lock stays
images | server | check | integrations | stacks | upgrade [...]
                                  see `zenlock COMMAND --help`
run MODULE [ARGS]                 run the project's run module on its stack (see zenlock/run.py)
zenml [ARGS]                      ZenML's CLI on the project's store or server
tests [--stack NAME] [PYTEST ARGS]
                                  pytest on a throw-away ZenML store, on NAME's stack file
exec [--throwaway-zenml [--stack NAME]] CMD ...
                                  run CMD with the project's ZenML config and server
                                  connection, or a fresh, throw-away ZenML store whose active
                                  stack is NAME's file (default: [tool.zenlock.stacks] default)
"""

import argparse
import errno
import importlib
import importlib.metadata
import json
import os
import signal
import subprocess
import sys
import tempfile
import tomllib
import urllib.error
import urllib.request
from pathlib import Path

from packaging.version import Version

from . import ZenlockError
from .moved import remove_leftovers, report_dropped_edits
from .state import FOUND, keep_zenml_state_private, refuse_unknown_schema

COMMANDS = (
    "lock", "images", "server", "check", "integrations", "stacks", "upgrade", "run", "exec",
    "tests", "zenml",
)  # fmt: skip


def exec_command(args: list[str]) -> int:
    """Run a command in the project's ZenML environment, set before the command starts."""
    throwaway = args[:1] == ["--throwaway-zenml"]
    args = args[1:] if throwaway else args
    stack = None
    if throwaway and args[:1] == ["--stack"]:
        if len(args) < 2:
            raise ZenlockError("exec --throwaway-zenml --stack: name a stack of configs/stacks/.")
        stack, args = args[1], args[2:]
    if not args:
        raise ZenlockError("exec: name the command to run.")
    if not throwaway:
        try:
            use_project_zenml(project_zenml())
            return subprocess.run(args, env=dict(os.environ)).returncode
        finally:
            keep_zenml_state_private()
    from .settings import default_stack
    from .stackfiles import use_throwaway_store

    with tempfile.TemporaryDirectory(prefix="zenml-throwaway-") as config:
        use_throwaway_store(config, stack or default_stack())
        return subprocess.run(args, env=dict(os.environ)).returncode


def not_a_project(folder: Path) -> str:
    """Why no project was found from `folder`: a pyproject.toml that is no TOML is named."""
    for candidate in (folder, *folder.parents):
        pyproject = candidate / "pyproject.toml"
        try:
            tomllib.loads(pyproject.read_text())
        except tomllib.TOMLDecodeError as error:
            return f"{pyproject} is not valid TOML ({error}): fix it (`git diff` shows changes)."
        except (OSError, UnicodeDecodeError):
            continue
    return (
        "no pyproject.toml with a [tool.zenlock] table in this folder or above: run zenlock in "
        "a project made from the zenlock template (`nox -s ...` does)."
    )


# ZenML's own ways to choose or start a server: the project's are `nox -s server -- ...`.
SERVER_CHOICES = {
    "login": "up (its own server) or connect URL (another)",
    "logout": "down",
    "connect": "connect URL",
    "disconnect": "down",
    "up": "up",
    "down": "down",
}


def zenml_command(args: list[str]) -> int:
    """`nox -s zenml -- ARGS`: ZenML's CLI on the project's store or server. Choosing or
    starting a server there would move the project's sessions off the server `nox -s server`
    manages (`zenml login --local` runs one that asks no password): refused, naming ours."""
    if args and args[0] in SERVER_CHOICES:
        raise ZenlockError(
            f"`zenml {args[0]}` would choose this project's server behind its back: use "
            f"`nox -s server -- {SERVER_CHOICES[args[0]]}`."
        )
    zenml = Path(sys.executable).with_name("zenml")
    return exec_command([sys.executable, str(zenml), *(args or ["status"])])


def tests_command(args: list[str]) -> int:
    """`nox -s tests -- [--stack NAME] [PYTEST ARGS]`: `--stack` is ours (the stack is
    registered and active before pytest starts, so a module may read it at import); every
    other argument is pytest's, `--help` too."""
    parser = argparse.ArgumentParser(prog="nox -s tests --", add_help=False, allow_abbrev=False)
    parser.add_argument("--stack")
    chosen, pytest_args = parser.parse_known_args(args)
    if chosen.stack is not None and not chosen.stack.strip():
        raise ZenlockError("--stack names a stack: `nox -s tests -- --stack NAME`.")
    stack = ["--stack", chosen.stack] if chosen.stack else []
    return exec_command(["--throwaway-zenml", *stack, "pytest", *pytest_args])


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
    """A session bound to the project's server fails at once, with the fix, when the server
    is down, cannot read its database, or runs another ZenML than the client (ZenML's rule).
    Without a connection, a project that has a server says that its runs go elsewhere."""
    from .state import ADMIN_ENV

    if not url:
        if ADMIN_ENV.is_file():
            print(
                "This project's server is not connected (`nox -s server -- up` connects it): "
                "runs go to the local ZenML store.",
                file=sys.stderr,
            )
        return
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
    client_version = importlib.metadata.version("zenml")
    if server_version and server_version != client_version:
        newer = max(server_version, client_version, key=Version)
        raise ZenlockError(
            f"This project's client has ZenML {client_version}, its server {server_version}: "
            f"ZenML needs both the same. `nox -s upgrade -- {newer}` brings every environment "
            "to one version."
        )


def stop_on_sigterm(signum, frame) -> None:
    """SIGTERM unwinds like Ctrl-C: all-or-nothing blocks restore pyproject.toml and uv.lock,
    temporary build contexts are removed."""
    raise KeyboardInterrupt


def main() -> None:
    signal.signal(signal.SIGTERM, stop_on_sigterm)
    command, *args = sys.argv[1:] or ["--help"]
    if command in ("--version", "-V"):
        print(f"zenlock {importlib.metadata.version('zenlock')}")
        return
    if command in ("-h", "--help"):
        print(__doc__)
        return
    if command not in COMMANDS:
        sys.exit(f"error: no command {command!r}.\n\n{__doc__}")
    if command in ("run", "exec") and (not args or args[0] in ("-h", "--help")):
        print(__doc__)  # their own options come after MODULE or CMD
        return
    if FOUND is None:
        sys.exit(f"error: {not_a_project(Path.cwd())}")
    try:
        refuse_unknown_schema()
        if command in ("lock", "check"):  # what a project runs first after the update
            notice = report_dropped_edits(FOUND)
            if notice:
                print(notice, file=sys.stderr)
            if command == "lock":
                remove_leftovers(FOUND)
        if command == "exec":
            sys.exit(exec_command(args))
        if command == "tests":
            sys.exit(tests_command(args))
        if command == "zenml":
            sys.exit(zenml_command(args))
        # lock runs before .venv exists (no ZenML there); detach and claim are how a folder
        # says whose server it uses, which zenml_environment() refuses to guess.
        # Help sets up and writes nothing (run's and exec's options are their MODULE's, CMD's).
        asks_help = command not in ("run", "exec") and bool({"-h", "--help"} & set(args))
        if command != "lock" and args[:1] not in (["detach"], ["claim"]) and not asks_help:
            from .state import zenml_environment

            # Before anything imports ZenML: the project's state, never ~/.config/zenml.
            bound = command in ("run", "stacks")  # they talk to the server: it must serve
            use_project_zenml(project_zenml() if bound else zenml_environment())
        try:
            importlib.import_module(f"zenlock.{command}").main(args)
        finally:
            if command != "lock" and not asks_help:
                keep_zenml_state_private()
    except ZenlockError as error:
        sys.exit(f"error: {error}")
    except SyntaxError as error:  # most often what `copier update` leaves: conflict markers
        sys.exit(
            f"error: {error.filename} line {error.lineno} is not valid Python: resolve "
            "any merge conflict (<<<<<<<) there."
        )
    except KeyboardInterrupt:
        sys.exit(130)
    except OSError as error:
        if error.errno not in (errno.EROFS, errno.EACCES, errno.EPERM):
            raise
        sys.exit(
            f"error: {error.filename or 'a file'} cannot be written ({error.strerror}): the "
            "sessions keep the project's state in its folder (.zenml, .zenml-server, configs); "
            "run them where the folder is writable."
        )


if __name__ == "__main__":
    main()
