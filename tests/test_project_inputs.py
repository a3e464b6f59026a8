"""What the sessions refuse before they act, each in one line, and what a read-only scan of the
project never does (block on a FIFO, read a data set). Fast: no rendering."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO

from zenlock import ZenlockError, testing
from zenlock.__main__ import not_a_project
from zenlock.project import Project
from zenlock.zenmlcli import SERVER_CHOICES, refuse_server_choice


@pytest.mark.parametrize(
    ("args", "ours"),
    [
        (["login", "--local"], "nox -s server -- up (its own server) or connect URL (another)"),
        (["login", "https://zenml.example.com"], "connect URL"),
        (["logout", "--local"], "nox -s server -- down"),
        (["connect", "--url", "x"], "nox -s server -- connect URL"),
        (["disconnect"], "nox -s server -- down"),
        (["up"], "nox -s server -- up"),
        (["down"], "nox -s server -- down"),
    ],
)
def test_the_zenml_session_leaves_choosing_the_server_to_the_project(args, ours):
    with pytest.raises(ZenlockError) as refused:
        refuse_server_choice(args)
    message = str(refused.value)
    assert f"`zenml {args[0]}` would choose this project's server" in message and ours in message
    assert "\n" not in message


def test_every_server_choice_names_a_server_action_that_exists():
    actions = {"up", "down", "connect"}
    for ours in SERVER_CHOICES.values():
        assert ours.split()[0] in actions


@pytest.mark.parametrize("args", [["--stack="], ["--stack", " "], ["-x", "--stack="]])
def test_an_empty_stack_name_is_one_line(args):
    with pytest.raises(
        ZenlockError, match=r"^--stack names a stack: `nox -s tests -- --stack NAME`"
    ):
        testing.main(Project.at(REPO), args)


@pytest.mark.parametrize(
    ("args", "stack", "pytest_args"),
    [
        ([], None, []),
        (["--stack", "local-docker"], "local-docker", []),
        (["--stack=local-docker"], "local-docker", []),
        (["-k", "import_time", "--stack=gpu", "-x"], "gpu", ["-k", "import_time", "-x"]),
        (["--sta", "gpu"], None, ["--sta", "gpu"]),  # no abbreviation: pytest's to judge
        (["--help"], None, ["--help"]),
    ],
)
def test_the_tests_session_takes_stack_and_hands_the_rest_to_pytest(args, stack, pytest_args):
    """`nox -s tests -- --stack X` (test_project_stacks runs it) and every other spelling."""
    assert testing.split_arguments(args) == (stack, pytest_args)


def test_a_pyproject_that_is_no_toml_is_named(tmp_path):
    (tmp_path / "pyproject.toml").write_text("[tool.zenlock]\nschema = 1\nschema = 1\n")
    said = not_a_project(tmp_path / "src")
    assert said.startswith(f"{tmp_path / 'pyproject.toml'} is not valid TOML (")
    assert "\n" not in said
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    assert "no pyproject.toml with a [tool.zenlock] table" in not_a_project(tmp_path)


SCAN = "conflicted_files(__import__('pathlib').Path.cwd())"


def test_the_conflict_scan_reads_template_files_only(tmp_path):
    """A FIFO would block the read for ever; a data set is never merged."""
    (tmp_path / "pyproject.toml").write_text("[tool.zenlock]\nschema = 1\n")
    (tmp_path / "data").mkdir()
    os.mkfifo(tmp_path / "data" / "stream")
    os.mkfifo(tmp_path / "pipe")
    marker = "<" * 7 + " HEAD\n"
    (tmp_path / "data" / "merged-looking.csv").write_text(marker)
    (tmp_path / "big.log").write_text(marker + "x" * 2_000_000)
    (tmp_path / "noxfile.py").write_text(marker)
    scanned = subprocess.run(
        [
            sys.executable,
            "-c",
            f"from zenlock.state import conflicted_files; print({SCAN})",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert scanned.stdout.strip() == "['noxfile.py']", scanned.stderr
    assert Path(tmp_path / "pipe").exists()
