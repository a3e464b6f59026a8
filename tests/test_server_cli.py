"""`nox -s server -- ACTION`: each action has its own options and its own `--help`, and what
users type keeps its meaning (nothing, or options alone, is the build). Fast: the parser
in-process, the real entry point in a bare project folder; no rendering, no Docker."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from zenlock import server

# Every action and the options its `--help` lists (`-h/--help` aside); nothing else.
OPTIONS = {
    "build": {"--push", "--no-cache", "--parent-image", "--platform"},
    "up": {"--port"},
    "down": set(),
    "logs": {"--follow", "-f"},
    "status": set(),
    "backup": set(),
    "restore": {"--yes", "--from-another-server"},
    "reset-admin": set(),
    "detach": set(),
    "claim": set(),
    "helm": {"--url", "--secret", "--allow-http"},
    "connect": {"--user", "--allow-http"},
}
EVERY_OPTION = set().union(*OPTIONS.values())


def options_in(help_text: str) -> set[str]:
    """The options an argparse help lists (its `options:` section), `-h/--help` aside."""
    section = help_text.split("\noptions:\n")[1]
    columns = [re.split(r"\s{2,}", line.strip())[0] for line in section.splitlines()]
    named = {
        item.split()[0]
        for column in columns
        if column.startswith("-")
        for item in column.split(", ")
    }
    return named - {"-h", "--help"}


def help_of(capsys, *argv: str) -> str:
    with pytest.raises(SystemExit) as done:
        server.parse([*argv, "--help"])
    assert done.value.code == 0
    return capsys.readouterr().out


def test_the_help_lists_every_action_and_each_is_tested(capsys):
    listed = help_of(capsys).split("actions:")[1]
    assert set(re.findall(r"^    (\S+)", listed, re.MULTILINE)) == set(OPTIONS)


@pytest.mark.parametrize("action", OPTIONS)
def test_an_actions_help_lists_only_its_own_options(capsys, action):
    text = help_of(capsys, action)
    assert text.startswith(f"usage: nox -s server -- {action} ")
    assert options_in(text) == OPTIONS[action]


@pytest.mark.parametrize("action", [a for a in OPTIONS if a != "build"])
def test_another_actions_option_is_refused(capsys, action):
    for option in sorted(EVERY_OPTION - OPTIONS[action]):
        with pytest.raises(SystemExit) as done:
            server.parse([action, option])
        assert done.value.code == 2
        said = capsys.readouterr().err
        assert f"unrecognized arguments: {option}" in said, (action, option, said)


def parsed(argv: list[str]) -> dict:
    return {k: v for k, v in vars(server.parse(argv)).items() if k not in ("run", "error")}


BUILD = {
    "action": "build",
    "push": False,
    "no_cache": False,
    "parent_image": None,
    "platform": None,
}
AS_TYPED = {
    "": BUILD,
    "--push": {**BUILD, "push": True},
    "--no-cache": {**BUILD, "no_cache": True},
    "--parent-image local/python:3.11": {**BUILD, "parent_image": "local/python:3.11"},
    "--platform linux/amd64,linux/arm64": {**BUILD, "platform": "linux/amd64,linux/arm64"},
    "--push --no-cache": {**BUILD, "push": True, "no_cache": True},
    "build --platform linux/arm64": {**BUILD, "platform": "linux/arm64"},
    "restore FILE --yes": {
        "action": "restore", "file": "FILE", "yes": True, "from_another_server": False,
    },
    "restore FILE --from-another-server": {
        "action": "restore", "file": "FILE", "yes": False, "from_another_server": True,
    },
    "backup": {"action": "backup", "file": None},
    "backup FILE": {"action": "backup", "file": "FILE"},
    "connect URL --user U --allow-http": {
        "action": "connect", "url": "URL", "user": "U", "allow_http": True,
    },
    "connect URL": {"action": "connect", "url": "URL", "user": "admin", "allow_http": False},
    "helm --url U --secret S": {"action": "helm", "url": "U", "secret": "S", "allow_http": False},
    "logs -f": {"action": "logs", "follow": True},
    "logs": {"action": "logs", "follow": False},
    "up --port 8240": {"action": "up", "port": "8240"},
    "up": {"action": "up", "port": None},
    "down": {"action": "down"},
    "detach": {"action": "detach"},
    "claim": {"action": "claim"},
    "reset-admin": {"action": "reset-admin"},
    "status": {"action": "status"},
}  # fmt: skip


@pytest.mark.parametrize(("typed", "meaning"), AS_TYPED.items())
def test_what_users_type_keeps_its_meaning(typed, meaning):
    assert parsed(typed.split()) == meaning


# --- the real entry point, in a folder that is a project but has nothing built -------------


@pytest.fixture
def bare_project(tmp_path: Path) -> Path:
    project = tmp_path / "project"
    project.mkdir()
    (project / "pyproject.toml").write_text('[project]\nname = "p"\n\n[tool.zenlock]\nschema = 1\n')
    return project


def zenlock_server(project: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZENML_")}
    return subprocess.run(
        [sys.executable, "-m", "zenlock", "server", *args],
        cwd=project, capture_output=True, text=True,
        env={**env, "XDG_DATA_HOME": str(project.parent / "data")},
    )  # fmt: skip


def files_in(folder: Path) -> set[Path]:
    return set(folder.parent.rglob("*"))


def test_up_help_as_typed_lists_only_the_port_and_writes_nothing(bare_project):
    before = files_in(bare_project)
    done = zenlock_server(bare_project, "up", "--help")
    assert done.returncode == 0, done.stderr
    assert options_in(done.stdout) == {"--port"}
    assert files_in(bare_project) == before


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["restore"], "restore needs the backup file (`-- status` lists them)"),
        (["helm"], "helm needs --url, where the cluster serves it"),
        (["connect"], "connect needs the server's URL (http://127.0.0.1:8080)"),
        (["up", "--push"], "unrecognized arguments: --push"),
        (["fly"], "invalid choice: 'fly'"),
    ],
)
def test_a_missing_or_foreign_argument_is_one_line_and_changes_nothing(bare_project, args, said):
    before = files_in(bare_project)
    done = zenlock_server(bare_project, *args)
    assert done.returncode == 2
    assert said in done.stderr.splitlines()[-1]
    assert files_in(bare_project) == before
