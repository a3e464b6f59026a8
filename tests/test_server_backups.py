"""Nothing lost: backups that bring data back, restores that take only a complete database
of this server and can be undone, credentials that match their data afterwards."""

import contextlib
import re
import secrets
import shutil
import sqlite3
import stat
from pathlib import Path

import pytest
from conftest import (
    DATA_HOME,
    admin_login,
    client_python,
    nox,
    read_env_file,
    read_secret,
    run,
    run_count,
)

pytestmark = [pytest.mark.docker, pytest.mark.server, pytest.mark.slow]


def test_a_backup_brings_back_a_deleted_run_and_the_key_still_works(served):
    project, _, _ = served
    runs = run_count(project)
    backed_up = nox("-s", "server", "--", "backup", cwd=project).stdout
    backup = Path(backed_up.split(" to ", 1)[1].split(" (")[0])
    assert backup.suffix == ".db" and stat.S_IMODE(backup.stat().st_mode) == 0o600
    assert backup.is_relative_to(DATA_HOME)  # beside the artifacts, outside the project
    delete = project / "build" / "delete_newest_run.py"
    delete.parent.mkdir(exist_ok=True)
    delete.write_text(
        "from zenml.client import Client\n"
        "client = Client()\n"
        "client.delete_pipeline_run(client.list_pipeline_runs(sort_by='desc:created').items[0].id)\n"
    )
    env = read_env_file(project / ".zenml-server" / "client.env")
    run(project / ".venv" / "bin" / "python", delete, cwd=project, **env)
    assert run_count(project) == runs - 1
    assert backup.name in nox("-s", "server", "--", "status", cwd=project).stdout
    nox("-s", "server", "--", "restore", str(backup), "--yes", cwd=project)
    assert run_count(project) == runs  # asked with the same API key as before


def test_a_backup_never_overwrites_a_file_and_its_folders_are_private(served, tmp_path):
    project, _, _ = served
    pyproject = (project / "pyproject.toml").read_bytes()
    refused = nox("-s", "server", "--", "backup", "pyproject.toml", cwd=project, check=False)
    assert refused.returncode != 0
    assert "exists: a backup never overwrites a file" in refused.stdout + refused.stderr
    assert "Traceback" not in refused.stdout + refused.stderr
    assert (project / "pyproject.toml").read_bytes() == pyproject
    plain = tmp_path / "NOTES"  # an existing file without a suffix: not a folder to write in
    plain.write_text("mine")
    refused = nox("-s", "server", "--", "backup", str(plain), cwd=project, check=False)
    assert refused.returncode != 0 and "Traceback" not in refused.stderr
    assert plain.read_text() == "mine"
    made = tmp_path / "new" / "deeper"
    nox("-s", "server", "--", "backup", str(made), cwd=project)
    for folder in (tmp_path / "new", made):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    written = sorted(made.iterdir())  # the backup, and its secrets key beside it
    assert [path.suffix for path in written] == [".db", ".key"]
    assert all(stat.S_IMODE(path.stat().st_mode) == 0o600 for path in written)


def test_lost_admin_file_is_refused_then_reset_keeps_every_run(served):
    project, url, port = served
    runs = run_count(project)
    admin_file = project / ".zenml-server" / "admin.env"
    old = read_env_file(admin_file)
    nox("-s", "server", "--", "down", cwd=project)
    admin_file.unlink()

    refused = nox("-s", "server", "--", "up", "--port", str(port), cwd=project, check=False)

    assert refused.returncode != 0
    assert "nox -s server -- reset-admin" in refused.stdout + refused.stderr
    assert not admin_file.exists()
    nox("-s", "server", "--", "reset-admin", cwd=project)
    new = read_env_file(admin_file)
    assert new["ZENML_DEFAULT_USER_PASSWORD"] != old["ZENML_DEFAULT_USER_PASSWORD"]
    nox("-s", "server", "--", "up", "--port", str(port), cwd=project)
    assert admin_login(url, "admin", new["ZENML_DEFAULT_USER_PASSWORD"]) == 200
    assert admin_login(url, "admin", old["ZENML_DEFAULT_USER_PASSWORD"]) == 401
    assert run_count(project) == runs

    server_env = project / "configs" / "server.env"
    server_env.write_text("ZENML_DEFAULT_USER_PASSWORD=Another-Strong-Passw0rd-Here\n")
    try:
        differs = nox("-s", "server", "--", "up", "--port", str(port), cwd=project, check=False)
        assert "differs from the admin's password" in differs.stdout + differs.stderr
    finally:
        server_env.unlink()


def backup_to(project, folder: Path) -> Path:
    nox("-s", "server", "--", "backup", str(folder), cwd=project)
    (written,) = folder.glob("*.db")
    return written


def corrupted_page(good: Path, target: Path, table: str) -> Path:
    """`good` with the first page of `table`'s b-tree overwritten: a corrupt page."""
    shutil.copy(good, target)
    with contextlib.closing(sqlite3.connect(good)) as database:
        page_size = database.execute("PRAGMA page_size").fetchone()[0]
        query = "SELECT rootpage FROM sqlite_master WHERE name = ?"
        root = database.execute(query, (table,)).fetchone()[0]
    with target.open("r+b") as file:
        file.seek(page_size * (root - 1))
        file.write(bytes(range(256)) * (page_size // 256))
    return target


def test_restore_takes_only_a_complete_database_of_this_server_and_can_be_undone(served, tmp_path):
    """Item 4: a hand-made file, a corrupt page, a cut-off file and another server's backup
    are refused with the live data untouched; a good restore keeps a copy that undoes it."""
    project, _, _ = served
    runs = run_count(project)
    good = backup_to(project, tmp_path / "good")
    key_file = good.with_name(good.name + ".key")
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert "ZENML_SECRETS_STORE_ENCRYPTION_KEY" in key_file.read_text()

    hand_made = tmp_path / "hand-made.db"
    with contextlib.closing(sqlite3.connect(good)) as database:
        version = database.execute("SELECT version_num FROM alembic_version").fetchone()[0]
    with contextlib.closing(sqlite3.connect(hand_made)) as database:
        database.execute("CREATE TABLE alembic_version (version_num VARCHAR(32))")
        database.execute("INSERT INTO alembic_version VALUES (?)", (version,))
        database.commit()
    cut_off = tmp_path / "cut-off.db"
    cut_off.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    other = tmp_path / "other-server.db"
    shutil.copy(good, other)
    with contextlib.closing(sqlite3.connect(other)) as database:
        database.execute("UPDATE server_settings SET id = ?", (secrets.token_hex(16),))
        database.commit()
    refusals = {
        hand_made: "lacks tables of ZenML",
        corrupted_page(good, tmp_path / "corrupt.db", "pipeline_run"): "not a complete",
        cut_off: "not a complete",
        other: "a backup of another ZenML server",
    }
    for bad, why in refusals.items():
        refused = nox("-s", "server", "--", "restore", str(bad), "--yes", cwd=project, check=False)
        said = refused.stdout + refused.stderr
        assert refused.returncode != 0 and why in said, (bad.name, said[-1500:])
        assert "Nothing was changed" in said and "Traceback" not in said, bad.name
    assert "--from-another-server" in said
    assert run_count(project) == runs  # the live data as it was, the server still serving

    nox("-s", "run", cwd=project)
    restored = nox("-s", "server", "--", "restore", str(good), "--yes", cwd=project).stdout
    assert run_count(project) == runs
    safety = Path(re.search(r"The data it replaced is in (.+?): ", restored).group(1))
    assert f"restore {safety} --yes` undoes this" in restored
    nox("-s", "server", "--", "restore", str(safety), "--yes", cwd=project)
    assert run_count(project) == runs + 1  # undone: the run made after the backup is back


def test_restore_after_a_lost_admin_file_ends_with_a_working_client_and_its_secrets(
    served, tmp_path
):
    """Items 5 and 2: reset-admin after admin.env (and so the secrets key) was lost, then an
    older backup restored: the client works, the admin is this project's, the backup's secrets
    read back (its key was kept beside it)."""
    project, url, port = served
    value = secrets.token_hex(8)
    client_python(
        project,
        "from zenml.client import Client\n"
        f"Client().create_secret('kept-by-backup', values={{'token': {value!r}}})\n",
    )
    older = backup_to(project, tmp_path / "older")
    nox("-s", "server", "--", "down", cwd=project)
    (project / ".zenml-server" / "admin.env").unlink()
    nox("-s", "server", "--", "reset-admin", cwd=project)
    nox("-s", "server", "--", "up", "--port", str(port), cwd=project)

    restored = nox("-s", "server", "--", "restore", str(older), "--yes", cwd=project)
    said = restored.stdout + restored.stderr
    assert "Traceback" not in said and "CredentialsNotValid" not in said
    assert "kept-by-backup" in said  # re-encrypted with this project's key
    assert value in read_secret(project, "kept-by-backup")
    admin = read_env_file(project / ".zenml-server" / "admin.env")
    assert admin_login(url, "admin", admin["ZENML_DEFAULT_USER_PASSWORD"]) == 200
    assert "completed" in nox("-s", "run", cwd=project).stdout
