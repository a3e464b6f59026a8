"""ZenML integrations from the lock, stacks as code, stack parity, pipelines found by name."""

import json
import re
import signal
import subprocess
import time
import tomllib

import pytest
import yaml
from conftest import (
    DOCKER_ANSWERS,
    SPACED_NAME,
    free_port,
    nox,
    project_env,
    remove_servers,
    render_project,
    run,
)

pytestmark = pytest.mark.slow

TRACKED_PIPELINE = '''"""Added the way a user would: a module plus configs/tracked.yaml."""

import mlflow
from zenml import pipeline, step


@step(experiment_tracker="mlflow")
def log_score() -> float:
    mlflow.log_metric("score", 0.75)
    return 0.75


@pipeline
def tracked() -> None:
    log_score()
'''
STACK = """stack_name: {name}
components:
  orchestrator:
    - {{name: {orchestrator}, flavor: {orchestrator_flavor}, configuration: {{}}}}
  artifact_store:
    - {{name: default, flavor: local, configuration: {{}}}}
  {extra_type}:
    - {{name: {extra}, flavor: {extra}, configuration: {{}}}}
"""


def stack_file(project, name, extra_type, extra, docker=False) -> None:
    orchestrator, flavor = ("local-docker", "local_docker") if docker else ("default", "local")
    text = STACK.format(
        name=name,
        orchestrator=orchestrator,
        orchestrator_flavor=flavor,
        extra_type=extra_type,
        extra=extra,
    )
    if docker:
        text += "  image_builder:\n    - {name: local-docker, flavor: local, configuration: {}}\n"
    (project / "configs" / "stacks" / f"{name}.yaml").write_text(text)


def python(project, code: str) -> str:
    script = project / "build" / "probe.py"  # ZenML wants a main module with a file
    script.parent.mkdir(exist_ok=True)
    script.write_text(code)
    return run(project / ".venv" / "bin" / "python", script, cwd=project).stdout


def registry_requirements(project, name: str) -> list[str]:
    code = (
        "import json\nfrom zenml.integrations.registry import integration_registry as r\n"
        f"print(json.dumps(r.select_integration_requirements({name!r})))\n"
    )
    return json.loads(python(project, code).splitlines()[-1])


def groups(project) -> dict:
    return tomllib.loads((project / "pyproject.toml").read_text())["dependency-groups"]


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    project = render_project(
        tmp_path_factory.mktemp("integrations") / SPACED_NAME, **DOCKER_ANSWERS
    )
    nox("-s", "dev", cwd=project)
    return project


def test_the_copier_answers_integrations_match_zenmls_registry(project):
    declared = groups(project)["integration-sklearn"]
    assert sorted(declared) == sorted(set(registry_requirements(project, "sklearn")))
    assert "(venv)" not in nox("-s", "check", "--", "--only", "venv", cwd=project).stdout


def test_unknown_or_conflicting_integrations_change_nothing(project):
    pyproject, lock = project / "pyproject.toml", project / "uv.lock"
    before = pyproject.read_bytes(), lock.read_bytes()
    unknown = nox("-s", "integrations", "--", "add", "mlflw", cwd=project, check=False)
    assert unknown.returncode != 0
    assert "no integration 'mlflw'. Did you mean mlflow?" in unknown.stdout + unknown.stderr
    assert (pyproject.read_bytes(), lock.read_bytes()) == before

    # A constraint of the user's that mlflow's requirements (pandas>=2.0.0) cannot meet.
    pyproject.write_text(
        pyproject.read_text().replace(
            "[tool.uv]\n", '[tool.uv]\nconstraint-dependencies = ["pandas<2"]\n'
        )
    )
    nox("-s", "lock", cwd=project)
    constrained = pyproject.read_bytes(), lock.read_bytes()
    try:
        conflict = nox("-s", "integrations", "--", "add", "mlflow", cwd=project, check=False)
        said = conflict.stdout + conflict.stderr
        assert conflict.returncode != 0
        assert "No solution found" in said and "pandas" in said
        assert "Traceback" not in said
        assert (pyproject.read_bytes(), lock.read_bytes()) == constrained
    finally:
        pyproject.write_bytes(before[0])
        lock.write_bytes(before[1])


def test_add_then_remove_an_integration(project):
    pyproject = (project / "pyproject.toml").read_text()
    nox("-s", "integrations", "--", "add", "mlflow", cwd=project)

    assert sorted(groups(project)["integration-mlflow"]) == sorted(
        set(registry_requirements(project, "mlflow"))
    )
    assert python(project, "import mlflow; print(mlflow.__version__)").strip()
    listing = nox("-s", "integrations", "--", "list", cwd=project).stdout
    assert "  mlflow: mlflow>=" in listing and "Available:" in listing
    nox("-s", "check", "--", "--only", "venv", "stacks", cwd=project)

    nox("-s", "integrations", "--", "remove", "mlflow", cwd=project)
    assert (project / "pyproject.toml").read_text() == pyproject
    assert '\nname = "mlflow"\n' not in (project / "uv.lock").read_text()
    gone = run(
        project / ".venv" / "bin" / "python", "-c", "import mlflow", cwd=project, check=False
    )
    assert gone.returncode != 0


def test_a_stale_integration_is_drift_and_sync_rederives_it(project):
    pyproject = project / "pyproject.toml"
    original = pyproject.read_text()
    # What an older ZenML's registry (or a hand edit) left: not what this ZenML declares.
    pyproject.write_text(original.replace('    "scikit-learn",\n', '    "scikit-learn<1.99",\n'))
    nox("-s", "lock", "dev", cwd=project)
    drift = nox("-s", "check", "--", "--only", "venv", cwd=project, check=False)
    assert drift.returncode == 1
    assert "integration sklearn (pipelines)" in drift.stdout
    assert "nox -s integrations -- sync" in drift.stdout

    synced = nox("-s", "integrations", "--", "sync", cwd=project).stdout
    assert "scikit-learn<1.99 -> scikit-learn" in synced
    assert groups(project)["integration-sklearn"] == ["scikit-learn"]
    nox("-s", "check", "--", "--only", "venv", cwd=project)


def test_a_stack_file_with_a_plain_credential_is_refused(project):
    nox("-s", "integrations", "--", "add", "mlflow", cwd=project)
    leaky = project / "configs" / "stacks" / "leaky.yaml"
    leaky.write_text(
        "stack_name: leaky\ncomponents:\n"
        "  orchestrator:\n    - {name: default, flavor: local, configuration: {}}\n"
        "  artifact_store:\n    - {name: default, flavor: local, configuration: {}}\n"
        "  experiment_tracker:\n    - name: leaky-mlflow\n      flavor: mlflow\n"
        "      configuration: {tracking_uri: 'http://127.0.0.1:5000', "
        "tracking_username: me, tracking_password: hunter2-plain}\n"
    )
    try:
        refused = nox("-s", "stacks", "--", "apply", "leaky", cwd=project, check=False)
        said = refused.stdout + refused.stderr
        assert refused.returncode != 0
        assert "holds `tracking_" in said and "in plain text" in said
        assert "zenml secret create" in said
        assert "hunter2-plain" not in said
        assert (
            "leaky: configs/stacks/leaky.yaml (not applied)"
            in nox("-s", "stacks", cwd=project).stdout
        )
    finally:
        leaky.unlink()


@pytest.mark.docker
@pytest.mark.server
def test_stacks_as_code_with_mlflow_locally_and_in_docker(project, docker_client):
    nox("-s", "integrations", "--", "add", "mlflow", cwd=project)
    pipelines = next((project / "src").glob("*/pipelines"))
    (pipelines / "tracked.py").write_text(TRACKED_PIPELINE)
    (project / "configs" / "tracked.yaml").write_text("enable_cache: false\n")
    stack_file(project, "mlflow-local", "experiment_tracker", "mlflow")
    stack_file(project, "mlflow-docker", "experiment_tracker", "mlflow", docker=True)
    stack_file(project, "evidently-docker", "data_validator", "evidently", docker=True)

    assert "tracked" in nox("-s", "run", "--", "--help", cwd=project).stdout
    local = nox("-s", "run", "--", "--pipeline", "tracked", "--stack", "mlflow-local", cwd=project)
    assert metric(project, local.stdout) == 0.75
    applied = nox("-s", "stacks", "--", "apply", cwd=project).stdout
    assert applied.count("up to date") == 1  # mlflow-local: applied by the run already
    listing = nox("-s", "stacks", "--", "list", cwd=project).stdout
    assert "mlflow-docker: configs/stacks/mlflow-docker.yaml (registered)" in listing

    drift = nox("-s", "check", "--", "--only", "stacks", cwd=project, check=False)
    assert drift.returncode == 1
    assert "stack evidently-docker" in drift.stdout
    assert "data_validator evidently needs the evidently integration" in drift.stdout
    assert "nox -s integrations -- add evidently" in drift.stdout
    assert "ok  stack mlflow-docker" in drift.stdout

    nox("-s", "server", cwd=project)
    nox("-s", "server", "--", "up", "--port", str(free_port()), cwd=project)
    try:
        nox("-s", "images", cwd=project)
        record = yaml.safe_load((project / "configs" / "images.yaml").read_text())
        tag = record["pipelines"]["images"][0]["tag"]
        refused = nox("-s", "run", "--", "--stack", "evidently-docker", cwd=project, check=False)
        said = refused.stdout + refused.stderr
        assert refused.returncode != 0
        assert "needs ZenML's evidently integration" in said
        assert "has started" not in said  # no step ran
        assert not docker_client.containers.list(all=True, filters={"ancestor": tag})

        in_docker = nox(
            "-s", "run", "--", "--pipeline", "tracked", "--stack", "mlflow-docker", cwd=project
        )
        assert metric(project, in_docker.stdout) == 0.75
        exported = nox("-s", "stacks", "--", "export", "mlflow-docker", cwd=project).stdout
        assert "written to configs/stacks/mlflow-docker.yaml" in exported
        assert (
            "zenml_version:" in (project / "configs" / "stacks" / "mlflow-docker.yaml").read_text()
        )
    finally:
        remove_servers(docker_client, project)


@pytest.mark.docker
def test_an_integrations_apt_packages_reach_the_image(project, docker_client):
    """ZenML declares libgomp1 for lightgbm: without it `import lightgbm` fails."""
    nox("-s", "integrations", "--", "add", "lightgbm", cwd=project)
    try:
        built = nox("-s", "images", cwd=project).stdout
        (tag,) = re.findall(r"^  (\S+:iterate-[0-9a-f]{16})  \d+ MB", built, re.M)
        output = docker_client.containers.run(
            tag,
            ["sh", "-c", "ls /usr/lib/*/libgomp.so.1 && python -c 'import lightgbm'"],
            remove=True,
            network_mode="host",
            entrypoint=[],
        ).decode()
        assert "libgomp.so.1" in output
    finally:
        nox("-s", "integrations", "--", "remove", "lightgbm", cwd=project)


def metric(project, output: str) -> float:
    """The `score` that the run logged, read back from its MLflow tracking store."""
    found = dict(
        line.strip().split(" logged ", 1)[1].split(" = ", 1)
        for line in output.splitlines()
        if " logged " in line
    )
    code = (
        "from mlflow.tracking import MlflowClient\n"
        f"client = MlflowClient({found['experiment_tracker_url']!r})\n"
        f"print(client.get_run({found['mlflow_run_id']!r}).data.metrics['score'])\n"
    )
    return float(python(project, code).splitlines()[-1])


def test_sync_follows_zenml_from_0_97_to_0_98(tmp_path):
    """langchain's specifier differs between the two releases' registries."""
    project = render_project(tmp_path / "project", zenml_version="0.97.0")
    nox("-s", "dev", cwd=project)
    nox("-s", "integrations", "--", "add", "langchain", cwd=project)
    assert "langchain==0.3.0" in groups(project)["integration-langchain"]
    pyproject = project / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('"zenml==0.97.0"', '"zenml==0.98.0"'))
    nox("-s", "lock", "dev", cwd=project)

    drift = nox("-s", "check", "--", "--only", "venv", cwd=project, check=False)
    assert "integration langchain (pipelines)" in drift.stdout
    synced = nox("-s", "integrations", "--", "sync", cwd=project).stdout
    before, after = synced.split(" -> ", 1)
    assert "langchain==0.3.0" in before and "langchain>=0.3.5,<1.0" in after
    assert "langchain>=0.3.5,<1.0" in groups(project)["integration-langchain"]
    nox("-s", "check", "--", "--only", "venv", cwd=project)


def test_a_stopped_add_leaves_pyproject_lock_and_venv_as_they_were(project):
    """SIGTERM (a CI timeout, a closed terminal) in the middle of `add`: all or nothing."""
    before = {name: (project / name).read_bytes() for name in ("pyproject.toml", "uv.lock")}
    adding = subprocess.Popen(
        [project / ".venv" / "bin" / "python", "-m", "zenlock", "integrations", "add", "slack"],
        cwd=project,
        env=project_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 120
    while (project / "pyproject.toml").read_bytes() == before["pyproject.toml"]:
        assert adding.poll() is None and time.monotonic() < deadline, "add ended unchanged"
        time.sleep(0.02)
    adding.send_signal(signal.SIGTERM)  # uv add has written pyproject.toml
    adding.wait(timeout=60)
    assert adding.returncode != 0
    for name, content in before.items():
        assert (project / name).read_bytes() == content, name
    check = nox("-s", "check", "--", "--only", "venv", cwd=project)
    assert "All" in check.stdout  # .venv is the lock's again
