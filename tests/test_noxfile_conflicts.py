"""A merge conflict that `copier update` leaves in noxfile.py stops nox itself (nox parses the
file before any session runs, so no code of ours can speak then): `nox -s update` says so
while it still runs, and `zenlock check` lists the file afterwards."""

import pytest
from conftest import git_commit, nox, run
from test_update import V1_DEV_DOCSTRING, project_from_v1, versioned_template  # noqa: F401

pytestmark = pytest.mark.slow


def test_a_conflict_in_the_noxfile_is_named_by_the_update_that_made_it(
    versioned_template,  # noqa: F811
    tmp_path,
):
    project = project_from_v1(versioned_template, tmp_path / "project")
    nox("-s", "dev", cwd=project)
    noxfile = project / "noxfile.py"
    mine = '"""Sync .venv with uv.lock (our team runs this after every pull)."""'
    noxfile.write_text(noxfile.read_text().replace(V1_DEV_DOCSTRING, mine))
    git_commit(project, "my dev docstring")

    refused = nox("-s", "update", "--", "--defaults", "--vcs-ref=0.2.0", cwd=project, check=False)

    said = refused.stdout + refused.stderr
    assert refused.returncode != 0
    assert (
        "noxfile.py has merge conflict markers from copier update: resolve them (git diff), "
        "then retry" in said
    ), said[-3000:]
    assert "<<<<<<<" in noxfile.read_text() and mine in noxfile.read_text()
    # What the message warns of, and where the file is still named.
    listed = nox("-l", cwd=project, check=False)
    assert listed.returncode != 0 and "<<<<<<< " in listed.stderr
    checked = run("uv", "run", "zenlock", "check", cwd=project, check=False)
    assert checked.returncode != 0
    assert "conflict markers in noxfile.py" in checked.stdout, checked.stdout[-3000:]
