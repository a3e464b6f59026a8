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

import errno
import importlib
import signal
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

from . import ZenlockError
from .moved import remove_leftovers, report_dropped_edits
from .project import Project, find_root
from .settings import tool_settings
from .state import keep_zenml_state_private, zenml_environment
from .zenmlenv import project_zenml, use_project_zenml


@dataclass(frozen=True)
class Command:
    """A command: its module (whose `main(project, args)` runs it) and the ZenML environment
    it runs in, set before anything imports ZenML: `none` (uv alone, or it sets its own),
    `project` (the project's store, or its server as connected) or `serving` (the server,
    which must answer: the command talks to it)."""

    module: str
    zenml: str = "project"
    after_update: bool = False  # what a project runs first after `copier update`: says so
    removes_leftovers: bool = False  # of the engine's move into the package (moved.py)
    options_after_target: bool = False  # its own options come after MODULE or CMD
    # Actions that say whose server a folder uses, which zenml_environment() refuses to guess.
    own_actions: tuple[str, ...] = ()

    def environment(self, args: list[str]) -> str:
        if args[:1] and args[0] in self.own_actions:
            return "none"
        if not self.options_after_target and {"-h", "--help"} & set(args):
            return "none"  # help sets up and writes nothing
        return self.zenml


COMMANDS = {
    "lock": Command("lock", zenml="none", after_update=True, removes_leftovers=True),
    "images": Command("images"),
    "server": Command("server", own_actions=("detach", "claim")),
    "check": Command("check", after_update=True),
    "integrations": Command("integrations"),
    "stacks": Command("stacks", zenml="serving"),
    "upgrade": Command("upgrade"),
    "run": Command("run", zenml="serving", options_after_target=True),
    "exec": Command("execute", zenml="none", options_after_target=True),
    "tests": Command("testing", zenml="none"),
    "zenml": Command("zenmlcli", zenml="none"),
}


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


def stop_on_sigterm(signum, frame) -> None:
    """SIGTERM unwinds like Ctrl-C: all-or-nothing blocks restore pyproject.toml and uv.lock,
    temporary build contexts are removed."""
    raise KeyboardInterrupt


def run(project: Project, name: str, args: list[str]) -> None:
    """Command `name` on `project`, in the ZenML environment it needs."""
    command = COMMANDS[name]
    tool_settings(project.root)  # a newer template's schema, a misspelt setting: refused first
    if command.after_update:
        notice = report_dropped_edits(project.root)
        if notice:
            print(notice, file=sys.stderr)
        if command.removes_leftovers:
            remove_leftovers(project.root)
    environment = command.environment(args)
    if environment != "none":
        # Before anything imports ZenML: the project's state, never ~/.config/zenml.
        use_project_zenml(
            project_zenml(project) if environment == "serving" else zenml_environment(project)
        )
    try:
        importlib.import_module(f"zenlock.{command.module}").main(project, args)
    finally:
        if environment != "none":
            keep_zenml_state_private(project)


def main() -> None:
    signal.signal(signal.SIGTERM, stop_on_sigterm)
    name, *args = sys.argv[1:] or ["--help"]
    if name in ("--version", "-V"):
        from importlib.metadata import version  # here: every other command starts faster

        print(f"zenlock {version('zenlock')}")
        return
    if name in ("-h", "--help"):
        print(__doc__)
        return
    if name not in COMMANDS:
        sys.exit(f"error: no command {name!r}.\n\n{__doc__}")
    if COMMANDS[name].options_after_target and (not args or args[0] in ("-h", "--help")):
        print(__doc__)
        return
    root = find_root(Path.cwd().resolve())
    if root is None:
        sys.exit(f"error: {not_a_project(Path.cwd())}")
    try:
        run(Project.at(root), name, args)
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
