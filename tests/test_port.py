"""A real ZenML project ported in with the documented commands only: the shape of ZenML's own
e2e template (steps that read the active stack at import time, an MLflow experiment tracker,
evidently + kubernetes + mlflow + s3, three pipelines imported by the package's __init__),
run locally and in Docker against the project's server; `check` green. No hand edits of
anything the template generated, no `zenml` CLI call."""

import re

import pytest
from conftest import DOCKER_ANSWERS, SPACED_NAME, free_port, nox, remove_servers, render_project

pytestmark = [pytest.mark.slow, pytest.mark.docker, pytest.mark.server]

INTEGRATIONS = ["evidently", "kubernetes", "mlflow", "s3", "slack"]
# ZenML's e2e template does exactly this at import time: it fails on a stack without one.
TRACKING = '''"""Steps that need the active stack's experiment tracker, read at import."""

import mlflow
from zenml import step
from zenml.client import Client

experiment_tracker = Client().active_stack.experiment_tracker


@step(experiment_tracker=experiment_tracker.name)
def train(rows: int = 20) -> float:
    import pandas as pd

    frame = pd.DataFrame({"x": range(rows), "y": [2 * x for x in range(rows)]})
    score = float(frame["y"].corr(frame["x"]))
    mlflow.log_metric("score", score)
    return score


@step
def drift_report(score: float) -> str:
    import evidently

    return f"evidently {evidently.__version__}: {score}"


@step
def deploy(score: float) -> str:
    import kubernetes
    import s3fs
    import slack_sdk

    return f"{kubernetes.__version__} {s3fs.__version__} {slack_sdk.__name__} {score}"
'''
PIPELINES = {
    "training": """from zenml import pipeline

from ..steps.tracking import drift_report, train


@pipeline(name="e2e_training")
def training() -> None:
    drift_report(score=train())
""",
    "batch_inference": """import zenml

from ..steps.tracking import drift_report, train


@zenml.pipeline
def e2e_batch_inference(rows: int = 10) -> None:
    drift_report(score=train(rows=rows))
""",
    "deployment": """from zenml import pipeline as zenml_pipeline

from ..steps.tracking import deploy, train


@zenml_pipeline(enable_cache=False)
def e2e_deployment() -> None:
    deploy(score=train())
""",
}
# As the e2e template's pipelines/__init__.py: every module imported with the package.
PACKAGE_INIT = (
    "from .batch_inference import e2e_batch_inference\n"
    "from .deployment import e2e_deployment\n"
    "from .training import training\n"
)
STACK = """stack_name: {name}
components:
  orchestrator:
    - {{name: {orchestrator}, flavor: {flavor}, configuration: {{}}}}
  artifact_store:
    - {{name: default, flavor: local, configuration: {{}}}}
  experiment_tracker:
    - {{name: e2e-mlflow, flavor: mlflow, configuration: {{}}}}
"""
NAMES = ["e2e_training", "e2e_batch_inference", "e2e_deployment"]


def port(project) -> None:
    """The user's code and configuration, where the docs say they go."""
    package = next((project / "src").glob("*/pipelines")).parent
    (package / "steps" / "tracking.py").write_text(TRACKING)
    for module, source in PIPELINES.items():
        (package / "pipelines" / f"{module}.py").write_text(source)
    (package / "pipelines" / "__init__.py").write_text(PACKAGE_INIT)
    for name in NAMES:
        (project / "configs" / f"{name}.yaml").write_text("enable_cache: false\n")
    stacks = project / "configs" / "stacks"
    local = STACK.format(name="e2e", orchestrator="default", flavor="local")
    (stacks / "e2e.yaml").write_text(local)
    (stacks / "e2e-docker.yaml").write_text(
        STACK.format(name="e2e-docker", orchestrator="local-docker", flavor="local_docker")
        + "  image_builder:\n    - {name: local-docker, flavor: local, configuration: {}}\n"
    )


def edit_pyproject(project, old: str, new: str) -> None:
    """What the docs tell users to write in pyproject.toml (their requirements source)."""
    path = project / "pyproject.toml"
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


def completed(output: str, name: str) -> bool:
    return re.search(rf"Pipeline run {name}-\S+: completed", output) is not None


def test_a_multi_integration_project_ports_in_with_the_documented_commands(tmp_path, docker_client):
    project = render_project(tmp_path / SPACED_NAME, **DOCKER_ANSWERS)
    nox("-s", "dev", cwd=project)

    # Locked as ZenML's registry says, evidently gets a pandas it cannot import: refused whole.
    before = (project / "pyproject.toml").read_text(), (project / "uv.lock").read_text()
    refused = nox("-s", "integrations", "--", "add", *INTEGRATIONS, cwd=project, check=False)
    said = refused.stdout + refused.stderr
    assert refused.returncode != 0
    assert "The evidently integration does not import with pandas 3" in said, said
    assert 'constraint-dependencies = ["pandas<3"]' in said
    assert ((project / "pyproject.toml").read_text(), (project / "uv.lock").read_text()) == before
    # The constraint it names, where integrations.md says constraints go; then it imports.
    edit_pyproject(project, "[tool.uv]\n", '[tool.uv]\nconstraint-dependencies = ["pandas<3"]\n')
    nox("-s", "lock", cwd=project)
    added = nox("-s", "integrations", "--", "add", *INTEGRATIONS, cwd=project)
    assert "kubernetes: Jinja2" in added.stdout or "kubernetes: jinja2" in added.stdout.lower()

    port(project)
    # The default stack of plain `nox -s run`, documented in stacks.md and the README.
    edit_pyproject(project, '# default = "local-docker"', 'default = "e2e"')
    help_text = nox("-s", "run", "--", "--help", cwd=project).stdout
    for name in NAMES:
        assert name in help_text
    for name in NAMES:  # on the default stack, local store: the tracker is there at import
        run = nox("-s", "run", "--", "--pipeline", name, cwd=project)
        assert completed(run.stdout, name), run.stdout
        assert "on stack e2e:" in run.stdout

    nox("-s", "images", cwd=project)
    nox("-s", "server", cwd=project)
    nox("-s", "server", "--", "up", "--port", str(free_port()), cwd=project)
    try:
        applied = nox("-s", "stacks", "--", "apply", cwd=project)
        assert "local resources while connected to a remote" not in applied.stdout + applied.stderr
        # In step containers: the two pipelines that between them import every integration
        # (the third's steps are the first's; choosing it by name was shown above).
        for name in ["e2e_training", "e2e_deployment"]:
            run = nox("-s", "run", "--", "--pipeline", name, "--stack", "e2e-docker", cwd=project)
            assert completed(run.stdout, name), run.stdout + run.stderr
            assert "on stack e2e-docker: image " in run.stdout
        # The server's client starts on ZenML's default stack, and a run's --stack lasted for
        # that run: plain `run` is on the project's default stack.
        on_server = nox("-s", "run", "--", "--pipeline", "e2e_training", cwd=project)
        assert completed(on_server.stdout, "e2e_training")
        assert "on stack e2e:" in on_server.stdout
        check = nox("-s", "check", cwd=project)
        assert "environments match uv.lock" in check.stdout
        again = nox("-s", "upgrade", "--", "0.98.0", cwd=project)
        assert "already everywhere" in again.stdout
        assert "backup" not in again.stdout.lower()
    finally:
        remove_servers(docker_client, project)
