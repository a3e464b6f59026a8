"""Whose server it is: a moved project keeps it, a copy does not share it, a renamed one is
refused, two `up`s end in one server, lost client state writes no credentials."""

import contextlib
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import (
    free_port,
    nox,
    project_env,
    run_count,
    server_containers,
)

pytestmark = [pytest.mark.docker, pytest.mark.server, pytest.mark.slow]


def test_a_moved_project_keeps_its_server(served, docker_client):
    project, url, _ = served
    runs = run_count(project)
    moved = project.with_name("moved here")
    project.rename(moved)
    try:
        status = nox("-s", "server", "--", "status", cwd=moved).stdout
        assert "connected with an API key" in status
        assert url in status
        (own,) = server_containers(docker_client, moved)
        assert f"Also here: {own.name}" not in status  # never another's (item 7)
        assert "completed" in nox("-s", "run", cwd=moved).stdout
        assert run_count(moved) == runs + 1
        nox("-s", "server", "--", "down", cwd=moved)
        said = nox("-s", "server", "--", "up", "--port", url.rsplit(":", 1)[1], cwd=moved).stdout
        assert "moved here from" in said
        assert run_count(moved) == runs + 1
    finally:
        moved.rename(project)
    nox("-s", "server", "--", "up", "--port", url.rsplit(":", 1)[1], cwd=project)


def test_a_copy_and_the_moved_original_are_told_apart(served, docker_client):
    """Item 8 (and 21): copy a project, move the original. The moved folder (its own files)
    keeps the server; the copy is refused with both ways out; a folder that is not a copy is
    never detached; `claim` settles it when neither folder is the recorded one."""
    project, url, port = served
    copy = project.with_name("copy of it")
    shutil.copytree(project, copy, symlinks=True, ignore=shutil.ignore_patterns(".venv", "build"))
    moved = project.with_name("moved away")
    project.rename(moved)
    try:
        refused = nox("-s", "run", cwd=copy, check=False)
        said = refused.stdout + refused.stderr
        assert refused.returncode != 0 and "Traceback" not in said
        assert "nox -s server -- claim" in said and "nox -s server -- detach" in said
        assert "gives it its own, empty server" in said and "cannot claim it back" in said
        status = nox("-s", "server", "--", "status", cwd=moved).stdout
        (own,) = server_containers(docker_client, moved)
        assert "connected with an API key" in status and f"Also here: {own.name}" not in status

        nox("-s", "server", "--", "claim", cwd=copy)  # the user says: the copy owns it
        refused = nox("-s", "run", cwd=moved, check=False)
        assert f"is a copy of {copy}" in refused.stdout + refused.stderr
        shutil.rmtree(copy)  # and now it is gone: the moved folder's files are not its files
        refused = nox("-s", "server", "--", "status", cwd=moved, check=False)
        assert "nox -s server -- claim" in refused.stdout + refused.stderr
        nox("-s", "server", "--", "claim", cwd=moved)
        assert "completed" in nox("-s", "run", cwd=moved).stdout

        admin_file = moved / ".zenml-server" / "admin.env"
        refused = nox("-s", "server", "--", "detach", cwd=moved, check=False)
        said = refused.stdout + refused.stderr
        assert refused.returncode != 0 and "is not a copy" in said and "Traceback" not in said
        assert admin_file.is_file()
    finally:
        shutil.rmtree(copy, ignore_errors=True)
        if moved.exists():
            moved.rename(project)
    nox("-s", "server", "--", "up", "--port", str(port), cwd=project)


def test_a_renamed_server_is_refused_while_its_data_is_under_the_old_name(served, docker_client):
    """Item 21: renaming [tool.zenlock.server] name would start an empty server."""
    project, _, port = served
    pyproject = project / "pyproject.toml"
    settings = pyproject.read_text()
    (old_name,) = re.findall(r'(?m)^name = "(.+-server)"', settings)

    def volumes() -> list[str]:  # of either name: other workers make theirs meanwhile
        names = (volume.name for volume in docker_client.volumes.list())
        return sorted(name for name in names if name.startswith((old_name, "renamed-server")))

    before = volumes()
    pyproject.write_text(settings.replace(f'name = "{old_name}"', 'name = "renamed-server"'))
    try:
        refused = nox("-s", "server", "--", "up", "--port", str(port), cwd=project, check=False)
    finally:
        pyproject.write_text(settings)
    said = refused.stdout + refused.stderr
    assert refused.returncode != 0 and f"Set name = '{old_name}' again" in said, said[-1500:]
    assert volumes() == before


def test_a_copy_does_not_share_and_an_orphan_is_named(served, docker_client):
    project, url, _ = served
    copy = project.with_name("copied")
    shutil.copytree(project, copy, symlinks=True, ignore=shutil.ignore_patterns(".venv", "build"))
    copied_servers = []
    try:
        nox("-s", "dev", cwd=copy)
        for args in (["run"], ["server", "--", "status"], ["check"]):
            refused = nox("-s", *args, cwd=copy, check=False)
            said = refused.stdout + refused.stderr
            assert refused.returncode != 0, args
            assert f"is a copy of {project}" in said and "nox -s server -- detach" in said
            assert "Traceback" not in said
        nox("-s", "server", "--", "detach", cwd=copy)
        assert not (copy / ".zenml-server" / "admin.env").exists()
        copy_port = free_port()
        nox("-s", "server", "--", "up", "--port", str(copy_port), cwd=copy)
        copied_servers = server_containers(docker_client, copy)
        assert [c.id for c in copied_servers] != [
            c.id for c in server_containers(docker_client, project)
        ]
        assert "completed" in nox("-s", "run", cwd=copy).stdout

        shutil.rmtree(copy)
        status = nox("-s", "server", "--", "status", cwd=project).stdout
        (orphan,) = copied_servers
        assert f"Also here: {orphan.name}" in status and f"that was in {copy}" in status
        assert "docker rm" not in status  # a server is data: never advised away (item 7)
        refused = nox(
            "-s", "server", "--", "up", "--port", str(copy_port), cwd=project, check=False
        )
        assert f"already runs at {url}" in refused.stdout + refused.stderr
        nox("-s", "server", "--", "down", cwd=project)
        refused = nox(
            "-s", "server", "--", "up", "--port", str(copy_port), cwd=project, check=False
        )
        assert f"It is held by {orphan.name}" in refused.stdout + refused.stderr
        assert "docker rm" not in refused.stdout + refused.stderr
    finally:
        shutil.rmtree(copy, ignore_errors=True)
        for container in copied_servers:
            container.remove(force=True, v=False)
            docker_client.volumes.get(f"{container.name}-data").remove(force=True)


def test_two_ups_at_once_end_in_one_server_and_no_traceback(served_stopped, docker_client):
    project, _, port = served_stopped
    command = [sys.executable, "-m", "nox", "-s", "server", "--", "up", "--port", str(port)]
    both = [
        subprocess.Popen(
            command,
            cwd=project,
            env=project_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for _ in range(2)
    ]
    outputs = [process.communicate(timeout=300)[0] for process in both]
    assert any(process.returncode == 0 for process in both), outputs
    assert all("Traceback" not in output for output in outputs), outputs
    assert len(server_containers(docker_client, project)) == 1


def test_lost_client_state_while_the_server_runs_writes_no_credentials(served, tmp_path):
    """`.zenml-server/` deleted under a running server: `up` must not mint an admin the data
    does not know, and says `reset-admin` in one line, every time."""
    project, _, port = served
    state = project / ".zenml-server"
    kept = tmp_path / "state"
    shutil.copytree(state, kept)
    shutil.rmtree(state)
    try:
        for _ in range(2):  # the second `up` still sees the loss
            refused = nox("-s", "server", "--", "up", "--port", str(port), cwd=project, check=False)
            said = refused.stdout + refused.stderr
            assert refused.returncode != 0 and "nox -s server -- reset-admin" in said
            assert "Traceback" not in said and "CredentialsNotValid" not in said
            assert not (state / "admin.env").exists()
    finally:
        shutil.rmtree(state, ignore_errors=True)
        shutil.copytree(kept, state)


def test_a_lost_connection_is_said_and_never_silently_local(served):
    """Item 15: the connection file gone while the server runs (a stopped restart): the run
    says where it goes; `up` connects again."""
    project, _, port = served
    (project / ".zenml-server" / "client.env").unlink()
    ran = nox("-s", "run", cwd=project)
    said = ran.stdout + ran.stderr  # nox hands a command's stderr on as output
    assert "server is not connected" in said and "runs go to the local ZenML store" in said
    nox("-s", "server", "--", "up", "--port", str(port), cwd=project)
    ran = nox("-s", "run", cwd=project)
    assert "not connected" not in ran.stdout + ran.stderr


@contextlib.contextmanager
def read_only(folder: Path):
    """`folder` read-only for real: a read-only bind mount over itself when we are root (who
    ignores file modes), else every file and folder without write permission."""
    if os.geteuid() == 0:
        for command in (["mount", "--bind", folder, folder],
                        ["mount", "-o", "remount,bind,ro", folder]):  # fmt: skip
            if subprocess.run(command, capture_output=True).returncode != 0:
                subprocess.run(["umount", folder], capture_output=True)
                pytest.skip("no read-only bind mount here (root ignores file modes)")
        try:
            yield
        finally:
            subprocess.run(["umount", folder], check=True)
        return
    modes = {path: path.stat().st_mode for path in [folder, *folder.rglob("*")]
             if not path.is_symlink() and ".venv" not in path.parts}  # fmt: skip
    for path, mode in modes.items():
        path.chmod(mode & ~0o222)
    try:
        yield
    finally:
        for path, mode in reversed(list(modes.items())):
            path.chmod(mode)


def test_a_read_only_project_is_one_line_and_up_of_a_running_server_writes_nothing(served):
    """Item 24."""
    project, _, port = served
    with read_only(project):
        for args in (["run"], ["stacks", "--", "list"]):
            refused = nox("-s", *args, cwd=project, check=False)
            said = refused.stdout + refused.stderr
            assert refused.returncode != 0 and "cannot be written" in said, said[-1500:]
            assert "Traceback" not in said
        nox("-s", "server", "--", "up", "--port", str(port), cwd=project)
