"""A generated project's stacks where its tests and ZenML's CLI run: `nox -s tests` on the
default stack (or `-- --stack NAME`) in a throw-away store, `nox -s zenml` on the project's
store, stack files with nested credentials refused."""

import hashlib
import re

import pytest
from conftest import nox, render_project, run

pytestmark = pytest.mark.slow

# Like ZenML's own templates: the stack is read when the module is imported, before any
# fixture could change it. The test says which stack it expects through the environment.
IMPORT_TIME_STACK = """
import os

from zenml.client import Client

STACK = Client().active_stack


def test_the_stack_read_at_import_time_is_the_one_asked_for():
    assert STACK.name == os.environ["EXPECTED_STACK"]
    assert STACK.artifact_store.name == os.environ["EXPECTED_STORE"]
    assert STACK.orchestrator.flavor == os.environ["EXPECTED_ORCHESTRATOR"]
"""
# A second local artifact store: a component ZenML's default stack lacks.
SCRATCH = """stack_name: scratch
components:
  orchestrator:
    - {name: default, flavor: local, configuration: {}}
  artifact_store:
    - {name: scratch-store, flavor: local, configuration: {}}
"""
# Stacks that cannot be used in the tests' store, and what the one line says.
UNUSABLE = {
    "absent": (None, "No stack file for absent in configs/stacks/"),
    "tracked": (
        "stack_name: tracked\ncomponents:\n"
        "  orchestrator: [{name: default, flavor: local}]\n"
        "  artifact_store: [{name: default, flavor: local}]\n"
        "  experiment_tracker: [{name: tracker, flavor: mlflow}]\n",
        "experiment_tracker tracker (flavor mlflow) needs the mlflow integration, which .venv "
        "lacks: `nox -s integrations -- add mlflow`",
    ),
    "half": (
        "stack_name: half\ncomponents:\n  orchestrator: [{name: default, flavor: local}]\n",
        "configs/stacks/half.yaml: ZenML refuses stack half: Stack must contain at least an "
        "orchestrator and artifact store.",
    ),
    "leaky": (
        "stack_name: leaky\ncomponents:\n"
        "  orchestrator:\n    - name: leaky-docker\n      flavor: local_docker\n"
        "      configuration: {run_args: {environment: [LOG_LEVEL=info, DB_PASSWORD=hunter2]}}\n"
        "  artifact_store: [{name: default, flavor: local}]\n",
        "orchestrator leaky-docker holds DB_PASSWORD at `run_args.environment[1]`, below the top "
        "level, where ZenML resolves no secret reference",
    ),
}


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """A project whose default stack is `scratch`, with a test module that reads the stack at
    import time; HOME is an empty folder."""
    root = tmp_path_factory.mktemp("project-stacks")
    project = render_project(root / "project")
    (root / "home").mkdir()
    (project / "configs" / "stacks" / "scratch.yaml").write_text(SCRATCH)
    pyproject = project / "pyproject.toml"
    text = pyproject.read_text()
    assert '# default = "local-docker"' in text
    pyproject.write_text(text.replace('# default = "local-docker"', 'default = "scratch"'))
    (project / "tests" / "test_import_time.py").write_text(IMPORT_TIME_STACK)
    nox("-s", "dev", cwd=project, HOME=str(root / "home"))
    return project


def session(project, *args: str, check: bool = True, **env: str):
    return nox(*args, cwd=project, check=check, HOME=str(project.parent / "home"), **env)


def snapshot(folder) -> dict[str, str]:
    """Every file under `folder` and a hash of its bytes."""
    return {
        str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def test_tests_run_on_the_default_stack_read_at_import_time(project):
    session(project, "-s", "stacks")  # the project's own store exists: its state is compared
    before = snapshot(project / ".zenml")

    result = session(
        project,
        "-s",
        "tests",
        EXPECTED_STACK="scratch",
        EXPECTED_STORE="scratch-store",
        EXPECTED_ORCHESTRATOR="local",
    )

    assert re.search(r"\b4 passed\b", result.stdout), result.stdout[-2000:]
    assert "Tests run on stack scratch (configs/stacks/scratch.yaml)" in result.stdout
    assert snapshot(project / ".zenml") == before
    listed = session(project, "-s", "stacks").stdout
    assert "scratch: configs/stacks/scratch.yaml (not applied" in listed
    assert not (project.parent / "home" / ".config" / "zenml").exists()


def test_another_stack_file_through_the_stack_option(project):
    """One spelling runs here; `--stack NAME` and the others are read in-process
    (test_project_inputs)."""
    # The local Docker orchestrator runs steps only with a server; registered, it reads fine.
    result = session(
        project,
        "-s",
        "tests",
        "--",
        "-k",
        "import_time",
        "--stack=local-docker",
        EXPECTED_STACK="local-docker",
        EXPECTED_STORE="default",
        EXPECTED_ORCHESTRATOR="local_docker",
    )
    assert re.search(r"\b1 passed, 3 deselected\b", result.stdout), result.stdout[-2000:]


def test_pytest_started_another_way_gets_the_same_store(project):
    """From an IDE: the generated conftest.py makes the store and activates the default."""
    python = project / ".venv" / "bin" / "python"
    result = run(
        python, "-m", "pytest", "-k", "import_time", cwd=project,
        HOME=str(project.parent / "home"),
        EXPECTED_STACK="scratch", EXPECTED_STORE="scratch-store", EXPECTED_ORCHESTRATOR="local",
    )  # fmt: skip
    assert re.search(r"\b1 passed\b", result.stdout), result.stdout[-2000:]


@pytest.mark.parametrize("name", list(UNUSABLE))
def test_a_stack_tests_cannot_use_is_one_line_before_pytest_starts(project, name):
    text, said = UNUSABLE[name]
    path = project / "configs" / "stacks" / f"{name}.yaml"
    if text:
        path.write_text(text)
    try:
        refused = session(project, "-s", "tests", "--", "--stack", name, check=False)
    finally:
        path.unlink(missing_ok=True)
    output = refused.stdout + refused.stderr
    assert refused.returncode != 0
    errors = [line for line in output.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and said in errors[0], output[-3000:]
    assert "test session starts" not in output and "Traceback" not in output
    assert "hunter2" not in output


def test_the_zenml_session_acts_on_the_projects_store(project):
    session(project, "-s", "stacks", "--", "apply", "scratch")
    listed = session(project, "-s", "zenml", "--", "stack", "list").stdout
    assert re.search(r"\bscratch\b", listed) and re.search(r"\bdefault\b", listed)

    # What ZenML's CLI registers, the project's sessions see: one store.
    session(project, "-s", "zenml", "--", "stack", "register", "by-hand", "-o", "default",
            "-a", "default")  # fmt: skip
    assert "by-hand: registered only" in session(project, "-s", "stacks").stdout
    status = session(project, "-s", "zenml").stdout
    assert str(project / ".zenml") in status
    deployers = session(
        project, "-s", "zenml", "--", "model-deployer", "models", "list", check=False
    )
    assert "No active model deployer found" in deployers.stdout + deployers.stderr
    assert not (project.parent / "home" / ".config" / "zenml").exists()


def test_a_nested_credential_in_a_stack_file_is_refused(project):
    leaky = project / "configs" / "stacks" / "leaky.yaml"
    leaky.write_text(
        "stack_name: leaky\ncomponents:\n"
        "  orchestrator:\n    - name: leaky-docker\n      flavor: local_docker\n"
        "      configuration: {run_args: {environment: {DB_PASSWORD: hunter2}}}\n"
        "  artifact_store: [{name: default, flavor: local}]\n"
    )
    try:
        refused = session(project, "-s", "stacks", "--", "apply", "leaky", check=False)
        listed = session(project, "-s", "stacks").stdout
    finally:
        leaky.unlink()
    said = refused.stdout + refused.stderr
    assert refused.returncode != 0
    assert "holds DB_PASSWORD at `run_args.environment.DB_PASSWORD`" in said
    assert "list NAME under `secrets:` in the run configuration" in said
    assert "hunter2" not in said
    assert "leaky: configs/stacks/leaky.yaml (not applied)" in listed
