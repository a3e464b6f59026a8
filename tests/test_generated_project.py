"""Each answer set renders a clean project that locks, syncs, lints and passes its own tests."""

import re
import tomllib
from pathlib import Path

import pytest
import yaml
from conftest import TOOLS_BIN, nox, run

DERIVED = {".venv", ".nox", ".zenml", ".pytest_cache", ".ruff_cache", "__pycache__"}


def source_files(project: Path) -> list[Path]:
    """What copier wrote, not what the project's sessions derived from it."""
    return [
        path
        for path in project.rglob("*")
        if path.is_file() and not DERIVED & set(path.relative_to(project).parts)
    ]


def read_answers(project: Path) -> dict:
    return yaml.safe_load((project / ".copier-answers.yml").read_text())


def test_expected_files_are_present(project):
    package = read_answers(project)["package_name"]
    for relative in [
        "pyproject.toml",
        "noxfile.py",
        "README.md",
        ".gitignore",
        ".python-version",
        ".copier-answers.yml",
        "configs/training.yaml",
        "configs/inference.yaml",
        f"src/{package}/run.py",
        f"src/{package}/steps/__init__.py",
        f"src/{package}/pipelines/training.py",
        f"src/{package}/pipelines/inference.py",
        "tests/test_pipelines.py",
    ]:
        assert (project / relative).is_file(), relative


def test_license_follows_the_answer(project):
    chosen = read_answers(project)["license"]
    first_line = (project / "LICENSE").read_text().splitlines()[0]
    assert {
        "MIT": "MIT License",
        "Apache-2.0": "Apache License",
        "BSD-3-Clause": "BSD 3-Clause License",
    }[chosen] in first_line


def test_no_template_syntax_is_left(project):
    leftovers = [
        str(path.relative_to(project))
        for path in source_files(project)
        # GitHub's own `${{ expressions }}` in workflows and ZenML's secret references
        # (`{{secret.key}}`, no spaces) in stack files are not Jinja.
        if re.search(
            r"(?<!\$)\{\{(?![\w-]+\.[\w-]+\}\})|\{%|\.jinja$", path.read_text() + path.name
        )
    ]
    assert not leftovers


def test_answers_round_trip(project, answers):
    recorded = read_answers(project)
    assert {key: recorded[key] for key in answers} == answers
    assert "_commit" in recorded and recorded["_src_path"]


def test_pyproject_is_the_single_requirements_source(project):
    answers = read_answers(project)
    pyproject = tomllib.loads((project / "pyproject.toml").read_text())
    zenml_pin = f"=={answers['zenml_version']}"
    assert pyproject["project"]["name"] == answers["project_slug"]
    assert pyproject["project"]["requires-python"] == f">={answers['python_version']}"
    groups = pyproject["dependency-groups"]
    # ZenML's version is written once: every other zenml requirement takes it from the lock.
    assert pyproject["project"]["dependencies"] == [f"zenml{zenml_pin}"]
    assert "zenml[local]" in groups["dev"]
    for integration in answers["ml_integrations"]:
        assert groups[f"integration-{integration}"]
    assert any(dep.startswith("scikit-learn") for dep in groups["integration-sklearn"])
    zenml_server, *plugins = groups["server"]
    extras = re.fullmatch(r"zenml\[(.*)\]", zenml_server).group(1)
    assert extras.split(",") == ["server", *answers["server_plugins"]]
    assert plugins == (
        [f"{answers['project_slug']}-plugins"] if answers["with_server_plugin"] else []
    )
    assert (project / "plugins" / "pyproject.toml").is_file() == answers["with_server_plugin"]
    assert (project / ".python-version").read_text().strip() == answers["python_version"]


def test_ruff_finds_nothing_to_change(project):
    run(TOOLS_BIN / "ruff", "check", "--no-cache", ".", cwd=project)
    run(TOOLS_BIN / "ruff", "format", "--check", "--no-cache", ".", cwd=project)


def test_nox_lists_the_sessions(project):
    listing = nox("-l", cwd=project).stdout
    for session in ["lock", "dev", "run", "tests", "lint"]:
        assert re.search(rf"^[*-] {session} -> \S", listing, re.MULTILINE), listing


def test_the_readme_lists_the_sessions_nox_l_lists(project):
    """One source: the noxfile's docstrings are what `nox -l` and the README's table say (the
    template repository's README and guide: test_docs.py)."""
    listing = dict(re.findall(r"^[*-] (\w+) -> (.+)$", nox("-l", cwd=project).stdout, re.M))
    assert {"upgrade", "server", "check", "run"} <= listing.keys()
    rows = re.findall(r"^\| `nox -s (\w+)` \| (.+) \|$", (project / "README.md").read_text(), re.M)
    assert {name: text.replace("\\|", "|") for name, text in rows} == listing
    assert "backup" in listing["server"] and "restore" in listing["server"]


@pytest.mark.slow
def test_lock_and_frozen_sync_succeed(synced_project):
    assert (synced_project / "uv.lock").is_file()
    run("uv", "lock", "--check", cwd=synced_project)
    run("uv", "sync", "--frozen", cwd=synced_project)
    locked = tomllib.loads((synced_project / "uv.lock").read_text())
    zenml = [pkg for pkg in locked["package"] if pkg["name"] == "zenml"]
    assert [pkg["version"] for pkg in zenml] == [read_answers(synced_project)["zenml_version"]]


@pytest.mark.slow
def test_generated_lint_session_passes(synced_project):
    nox("-s", "lint", cwd=synced_project)


@pytest.mark.slow
def test_generated_test_suite_passes(synced_project):
    result = nox("-s", "tests", "--", "-p", "no:cacheprovider", cwd=synced_project)
    summary = result.stdout.strip().splitlines()[-1]
    assert re.search(r"\b\d+ passed\b", summary) and not re.search(r"failed|error|skipped", summary)
    assert "tests/test_pipelines.py ..." in result.stdout, result.stdout[-2000:]


@pytest.mark.slow
def test_a_zenml_connection_left_in_the_shell_is_dropped_and_said(synced_project):
    """Another project's server in the shell never gets this project's runs."""
    shown = run(
        synced_project / ".venv" / "bin" / "python", "-m", "zenlock", "exec", "python", "-c",
        "import os; print('store:', os.environ.get('ZENML_STORE_URL'),"
        " os.environ.get('ZENML_STORE_API_KEY'), os.environ['ZENML_ANALYTICS_OPT_IN'])",
        cwd=synced_project,
        ZENML_STORE_URL="http://127.0.0.1:9/other-project",
        ZENML_STORE_API_KEY="ZENKEY_other",
        ZENML_ANALYTICS_OPT_IN="true",
    )  # fmt: skip
    answers = read_answers(synced_project)
    analytics = "true" if answers.get("server_analytics") else "false"
    assert f"store: None None {analytics}" in shown.stdout
    assert "Ignoring ZENML_STORE_API_KEY, ZENML_STORE_URL from the shell" in shown.stderr
