"""The zenlock a project gets, from each source users get it from: the template's repository at
the rendered commit (the default before a release, and the suite's default render) and the
package index (after a release; here a wheel of the working tree on find-links). Every kind of
requirement is compared by what it names: a version, a URL and its commit, a local project's
version."""

import importlib.metadata
import json
import re
import tomllib

import pytest
import yaml
from conftest import (
    DOCKER_ANSWERS,
    REPO,
    WHEELS,
    free_port,
    nox,
    remove_servers,
    render_project,
    run,
    run_count,
    zenlock_wheel,
)

from zenlock import ZenlockError, lock, requirements
from zenlock.inside.inspect_python import installed_from_url

COMMIT = "0123456789abcdef0123456789abcdef01234567"
GIT = {"vcs": "git", "commit_id": COMMIT}


@pytest.mark.parametrize(
    ("line", "pinned"),
    [
        ("zenml==0.98.0", "0.98.0"),
        ('numpy==2.1.0 ; python_version >= "3.12"', "2.1.0"),
        ("Scikit_Learn===1.5", "1.5"),
        (f"zenlock @ git+file:///tmp/t@{COMMIT}", f"git+file:///tmp/t@{COMMIT}"),
        (f"x @ git+https://h/r.git@{COMMIT}#subdirectory=p", f"git+https://h/r.git@{COMMIT}#subdirectory=p"),
        ("x @ https://h/x-1.0-py3-none-any.whl", "https://h/x-1.0-py3-none-any.whl"),
    ],
)  # fmt: skip
def test_a_requirement_pins_a_version_or_a_url_with_its_commit(line, pinned):
    assert requirements.pinned(line) == pinned


@pytest.mark.parametrize("line", ["zenml", "zenml>=0.98", "zenml==0.98,!=0.98.1", "zenml~=0.98.0"])
def test_a_requirement_that_pins_nothing_is_one_line(line):
    with pytest.raises(
        ZenlockError, match=r"pins no single version \(NAME==VERSION or NAME @ URL\)"
    ):
        requirements.pinned(line)


@pytest.mark.parametrize(
    ("direct_url", "found"),
    [
        (None, None),  # a release from an index: compared by its version
        ({"url": "file:///tmp/t", "vcs_info": GIT}, f"git+file:///tmp/t@{COMMIT}"),
        ({"url": "https://h/r", "vcs_info": GIT, "subdirectory": "p"},
         f"git+https://h/r@{COMMIT}#subdirectory=p"),
        ({"url": "https://h/x-1.0-py3-none-any.whl", "archive_info": {}}, "https://h/x-1.0-py3-none-any.whl"),
        ({"url": "file:///work/plugins", "dir_info": {"editable": True}}, None),  # by its version
        ({"url": "file:///tmp/w/x-1.0-py3-none-any.whl", "archive_info": {}}, None),  # likewise
        ("not json", None),
    ],
)  # fmt: skip
def test_an_installed_distribution_is_read_in_the_terms_of_the_lock(tmp_path, direct_url, found):
    info = tmp_path / "x-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: x\nVersion: 1.0\n")
    if direct_url is not None:
        text = direct_url if isinstance(direct_url, str) else json.dumps(direct_url)
        (info / "direct_url.json").write_text(text)
    assert installed_from_url(importlib.metadata.PathDistribution(info)) == found
    # The requirement uv exports for it names the same thing.
    if found:
        assert requirements.pinned(f"x @ {found}") == found


@pytest.mark.slow
def test_check_compares_a_git_engine_by_its_commit(tmp_path):
    """The default render: zenlock from the template's repository at the rendered commit."""
    project = render_project(tmp_path / "git project")
    pyproject = (project / "pyproject.toml").read_text()
    assert re.search(r'zenlock = \{ git = "file:///[^"]+", rev = "[0-9a-f]{40}" \}', pyproject)
    nox("-s", "dev", cwd=project)
    assert "ok  .venv" in nox("-s", "check", "--", "--only", "venv", cwd=project).stdout

    # The same version of zenlock, from another source: the lock named a commit.
    zenlock_wheel()
    (wheel,) = WHEELS.glob("zenlock-*.whl")
    python = project / ".venv" / "bin" / "python"
    run("uv", "pip", "install", "--python", python, "--no-deps", "--reinstall", wheel, cwd=project)
    drift = nox("-s", "check", "--", "--only", "venv", cwd=project, check=False)
    assert drift.returncode == 1, drift.stdout + drift.stderr
    assert re.search(r"zenlock locked git\+file:///\S+@[0-9a-f]{40}, found 0\.1\.0", drift.stdout)

    nox("-s", "dev", cwd=project)
    assert "ok  .venv" in nox("-s", "check", "--", "--only", "venv", cwd=project).stdout


OLD, NEW = "0.97.0", "0.98.0"


@pytest.mark.slow
@pytest.mark.docker
@pytest.mark.server
def test_the_index_source_through_the_whole_chain(tmp_path, docker_client):
    """A project rendered at a release gets zenlock from the package index: dev, check, images,
    server, a run in the pipeline image against the server, upgrade and update."""
    project = render_project(
        tmp_path / "index project", zenlock_source="index", zenml_version=OLD, **DOCKER_ANSWERS
    )
    assert '"zenlock==0.1.0"' in (project / "pyproject.toml").read_text()
    sources = tomllib.loads((project / "pyproject.toml").read_text())["tool"]["uv"]
    assert "zenlock" not in sources.get("sources", {})  # from the index, as any release
    nox("-s", "dev", cwd=project)
    locked = (project / "uv.lock").read_text()
    assert re.search(r'name = "zenlock"\nversion = "0.1.0"\nsource = \{ registry = ', locked)
    try:
        nox("-s", "images", "server", cwd=project)
        nox("-s", "server", "--", "up", "--port", str(free_port()), cwd=project)
        ran = nox("-s", "run", "--", "--docker", cwd=project)
        assert re.search(r"Pipeline run training-\S+: completed", ran.stdout), ran.stdout[-2000:]
        assert "environments match uv.lock" in nox("-s", "check", cwd=project).stdout

        upgraded = nox("-s", "upgrade", "--", NEW, cwd=project).stdout
        assert f"ZenML {NEW} everywhere" in upgraded and "environments match uv.lock" in upgraded
        assert run_count(project) == 1

        run("git", "init", "-q", cwd=project)
        run("git", "add", "-A", cwd=project)
        run("git", "-c", "user.name=T", "-c", "user.email=t@example.com", "commit", "-qm", "mine",
            cwd=project)  # fmt: skip
        nox("-s", "update", "--", "--defaults", cwd=project)
        answers = yaml.safe_load((project / ".copier-answers.yml").read_text())
        assert answers["zenlock_source"] == "index"
        assert '"zenlock==0.1.0"' in (project / "pyproject.toml").read_text()
        assert "environments match uv.lock" in nox("-s", "check", cwd=project).stdout
    finally:
        remove_servers(docker_client, project)


@pytest.mark.parametrize(
    "line", ["-e .", ".", "./", f"file://{REPO}", f"-e {REPO} ; os_name == 'posix'"]
)
def test_a_local_package_is_found_in_the_lock_by_its_path(line):
    """This repository's own lock holds zenlock itself, editable at `.`."""
    text = (REPO / "uv.lock").read_text()
    assert lock.local_package(REPO, text, line) == ("zenlock", lock.locked_version(text, "zenlock"))


def test_a_local_path_the_lock_lacks_is_one_line():
    with pytest.raises(
        ZenlockError, match=r"^uv.lock has no package at \./nowhere: run `nox -s lock`"
    ):
        lock.local_package(REPO, (REPO / "uv.lock").read_text(), "./nowhere")
