"""`copier update` from a tagged older template keeps the user's edits and migrates answers."""

import shutil
import tomllib
from pathlib import Path

import copier
import pytest
import yaml
from conftest import REPO, git_commit, nox, run

pytestmark = pytest.mark.slow

IGNORED = shutil.ignore_patterns(
    ".git", ".venv", ".nox", "build", "site", "__pycache__", ".*_cache"
)
V1_DEV_DOCSTRING = '"""Sync .venv with uv.lock."""'
RETRAINING = '''"""Retrain on the training pipeline's data, with a stronger regularization."""

from zenml import pipeline

from ..steps import evaluate_model, load_training_data, train_model


@pipeline
def retraining() -> None:
    X_train, X_test, y_train, y_test = load_training_data()
    model = train_model(X_train=X_train, y_train=y_train, regularization=0.1)
    evaluate_model(model=model, X_test=X_test, y_test=y_test)
'''


def write_tree(template: Path) -> None:
    """Replace everything but .git with this repository's working tree."""
    for entry in template.iterdir():
        if entry.name != ".git":
            shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
    shutil.copytree(REPO, template, ignore=IGNORED, dirs_exist_ok=True)


def make_v1(template: Path) -> None:
    """An older release: `docker_network` still called `build_network`, no server.env example,
    an older pytest floor and a different `dev` session docstring."""
    config = template / "copier.yml"
    config.write_text(
        config.read_text()
        .replace("docker_network:\n", "build_network:\n")
        .replace("default: \"{{ build_network | default('bridge') }}\"", "default: bridge")
    )
    pyproject = template / "template" / "pyproject.toml.jinja"
    pyproject.write_text(
        pyproject.read_text()
        .replace("{{ docker_network }}", "{{ build_network }}")
        .replace('"pytest>=9.0"', '"pytest>=8.0"')  # v2 raises a dependency's floor
    )
    (template / "template" / "configs" / "server.env.example").unlink()
    noxfile = template / "template" / "noxfile.py.jinja"
    text = noxfile.read_text()
    v2_docstring = next(
        line.strip() for line in text.splitlines() if "Create or update .venv" in line
    )
    noxfile.write_text(text.replace(v2_docstring, V1_DEV_DOCSTRING))


def tag(template: Path, version: str) -> None:
    run("git", "add", "-A", cwd=template)
    run(
        "git",
        "-c",
        "user.name=T",
        "-c",
        "user.email=t@example.com",
        "commit",
        "-qm",
        version,
        cwd=template,
    )
    run("git", "tag", version, cwd=template)


@pytest.fixture(scope="module")
def versioned_template(tmp_path_factory) -> Path:
    """A git repository of this template with two tags: 0.1.0 (older) and 0.2.0 (this tree)."""
    template = tmp_path_factory.mktemp("template-repo")
    run("git", "init", "-q", cwd=template)
    write_tree(template)
    make_v1(template)
    tag(template, "0.1.0")
    write_tree(template)
    tag(template, "0.2.0")
    return template


# The tags here are this tree's, and no release is on the package index: the working tree's
# zenlock (a render at a release tag would pin zenlock==VERSION from the index).
ENGINE = {"zenlock_source": "path", "zenlock_path": str(REPO)}


def project_from_v1(template: Path, destination: Path) -> Path:
    copier.run_copy(
        str(template), destination, data={"build_network": "host", **ENGINE}, defaults=True,
        vcs_ref="0.1.0", quiet=True,
    )  # fmt: skip
    git_commit(destination, "generated from 0.1.0")
    return destination


def update(project: Path, **options) -> None:
    copier.run_update(project, defaults=True, overwrite=True, quiet=True, **options)


def test_update_keeps_edits_adds_new_files_and_migrates_answers(versioned_template, tmp_path):
    project = project_from_v1(versioned_template, tmp_path / "project")
    assert yaml.safe_load((project / ".copier-answers.yml").read_text())["_commit"] == "0.1.0"
    step = project / "src" / "zenml_project" / "steps" / "training.py"
    step.write_text(step.read_text().replace("max_iter=1000", "max_iter=2000"))
    pyproject = project / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text().replace('    "zenml==', '    "tqdm>=4",\n    "zenml==', 1)
    )
    pyproject.write_text(
        pyproject.read_text().replace(
            '    "zenml[local]",\n', '    "zenml[local]",\n    "zenml[jupyter]",\n'
        )
    )
    config = project / "configs" / "training.yaml"
    config.write_text(config.read_text().replace("test_size: 0.2", "test_size: 0.25"))
    # A pipeline added the way a user would: a module and its run configuration.
    mine = project / "src" / "zenml_project" / "pipelines" / "retraining.py"
    mine.write_text(RETRAINING)
    (project / "configs" / "retraining.yaml").write_text("enable_cache: false\n")
    run("git", "add", "-A", cwd=project)
    run("git", "commit", "-qam", "my edits", cwd=project)

    update(project, conflict="inline")

    answers = yaml.safe_load((project / ".copier-answers.yml").read_text())
    assert answers["_commit"] == "0.2.0"
    assert answers["docker_network"] == "host" and "build_network" not in answers
    assert 'network = "host"' in pyproject.read_text()
    assert "max_iter=2000" in step.read_text()
    assert '"tqdm>=4"' in pyproject.read_text()
    assert "test_size: 0.25" in config.read_text()
    assert (project / "configs" / "server.env.example").is_file()
    assert V1_DEV_DOCSTRING not in (project / "noxfile.py").read_text()
    assert "<<<<<<<" not in (project / "noxfile.py").read_text()
    assert '"zenml[jupyter]"' in pyproject.read_text()
    assert "<<<<<<<" not in pyproject.read_text()
    assert mine.read_text() == RETRAINING

    nox("-s", "lock", "dev", "tests", cwd=project)
    assert "- check ->" in nox("-l", cwd=project).stdout
    retrained = nox("-s", "run", "--", "--pipeline", "retraining", cwd=project).stdout
    assert "Pipeline run retraining-" in retrained and ": completed" in retrained


@pytest.mark.parametrize("conflict", ["inline", "rej"])
def test_conflicting_edit_is_shown_not_lost(versioned_template, tmp_path, conflict):
    project = project_from_v1(versioned_template, tmp_path / "project")
    noxfile = project / "noxfile.py"
    mine = '"""Sync .venv with uv.lock (our team runs this after every pull)."""'
    noxfile.write_text(noxfile.read_text().replace(V1_DEV_DOCSTRING, mine))
    run("git", "commit", "-qam", "my docstring", cwd=project)

    update(project, conflict=conflict)

    if conflict == "inline":
        text = noxfile.read_text()
        assert "<<<<<<<" in text and mine in text and ">>>>>>>" in text
    else:  # the template's line wins in the file; the user's hunk waits in the .rej file
        assert mine in (project / "noxfile.py.rej").read_text()
        assert "Create or update .venv" in noxfile.read_text()


def test_update_without_answers_file_fails_clearly_and_changes_nothing(
    versioned_template, tmp_path
):
    project = project_from_v1(versioned_template, tmp_path / "project")
    nox("-s", "dev", cwd=project)
    (project / ".copier-answers.yml").unlink()
    git_commit(project, "locked, and lost the answers")
    before = run("git", "rev-parse", "HEAD", cwd=project).stdout

    refused = nox("-s", "update", "--", "--defaults", cwd=project, check=False)

    assert refused.returncode != 0
    assert ".copier-answers.yml is missing" in refused.stderr
    assert "git log -- .copier-answers.yml" in refused.stderr
    with pytest.raises(Exception, match="Template not found"):  # copier alone: a bare TypeError
        update(project)
    assert run("git", "status", "--porcelain", cwd=project).stdout == ""
    assert run("git", "rev-parse", "HEAD", cwd=project).stdout == before


def test_update_session_refreshes_the_lock_when_dependencies_change(versioned_template, tmp_path):
    project = project_from_v1(versioned_template, tmp_path / "project")
    nox("-s", "dev", cwd=project)
    git_commit(project, "locked")

    updated = nox("-s", "update", "--", "--defaults", "--vcs-ref=0.2.0", cwd=project)

    assert "pyproject.toml changed: refreshing uv.lock" in updated.stdout + updated.stderr
    assert '"pytest>=9.0"' in (project / "pyproject.toml").read_text()
    assert yaml.safe_load((project / ".copier-answers.yml").read_text())["_commit"] == "0.2.0"
    run("uv", "lock", "--check", cwd=project)
    nox("-s", "check", "--", "--only", "venv", cwd=project)


def test_update_session_stops_at_conflict_markers(versioned_template, tmp_path):
    project = project_from_v1(versioned_template, tmp_path / "project")
    nox("-s", "dev", cwd=project)
    pyproject = project / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('"pytest>=8.0"', '"pytest>=8.2"'))
    nox("-s", "lock", cwd=project)
    git_commit(project, "my pytest floor")

    refused = nox("-s", "update", "--", "--defaults", "--vcs-ref=0.2.0", cwd=project, check=False)

    assert refused.returncode != 0
    assert "Resolve the merge conflicts in pyproject.toml" in refused.stdout + refused.stderr
    assert "<<<<<<<" in pyproject.read_text()


def test_zenlock_comes_from_the_index_at_a_release_and_from_the_repository_before(
    versioned_template, tmp_path
):
    """The default source: a render at the release tag of zenlock's version pins it from the
    package index; a render of any other commit gets the template repository at that commit,
    which uv really fetches and builds (`nox -s lock`, before .venv exists)."""
    at_release = tmp_path / "release"
    copier.run_copy(str(versioned_template), at_release, defaults=True, vcs_ref="0.1.0", quiet=True)
    pyproject = tomllib.loads((at_release / "pyproject.toml").read_text())
    assert "zenlock==0.1.0" in pyproject["dependency-groups"]["dev"]
    assert "zenlock" not in pyproject["tool"]["uv"].get("sources", {})

    later = tmp_path / "later"
    copier.run_copy(str(versioned_template), later, defaults=True, vcs_ref="0.2.0", quiet=True)
    commit = run("git", "rev-parse", "0.2.0^{commit}", cwd=versioned_template).stdout.strip()
    source = tomllib.loads((later / "pyproject.toml").read_text())["tool"]["uv"]["sources"]
    assert source["zenlock"] == {"git": versioned_template.as_uri(), "rev": commit}
    nox("-s", "lock", cwd=later)
    locked = tomllib.loads((later / "uv.lock").read_text())["package"]
    (zenlock,) = [package for package in locked if package["name"] == "zenlock"]
    assert zenlock["source"]["git"].endswith(commit)
