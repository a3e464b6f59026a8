"""A project of ZenML's classic shape (tests/classic-project: requirements.txt, a run script,
`from steps import …`, a step that reads data/ by a relative path, `settings.docker` in its run
configuration, a step that reads the active stack's MLflow tracker at import) is ported with
the commands of docs/porting.md, run as the page has them: every pipeline runs locally and on
the Docker stack, against the project's server too; its tests pass on the project's stack; the
check is green. No `zenml` command outside the project's sessions."""

import re
import shutil

import pytest
from conftest import (
    DOCKER_ANSWERS,
    REPO,
    free_port,
    remove_servers,
    run,
    template_repository,
)

pytestmark = [pytest.mark.slow, pytest.mark.docker, pytest.mark.server]

SNIPPET = REPO / "docs" / "snippets" / "porting.sh"


def test_the_porting_page_uses_the_projects_sessions_only():
    commands = [line for line in SNIPPET.read_text().splitlines() if not line.startswith("#")]
    assert not [line for line in commands if re.match(r"\s*(uvx |uv run )?zenml\b", line)]
    assert not [line for line in commands if re.search(r"\bpip install\b", line)]


def test_a_classic_project_ports_with_the_pages_commands(tmp_path, docker_client):
    shutil.copytree(REPO / "tests" / "classic-project", tmp_path / "old-project")
    port = free_port()
    answers = " ".join(f"--data {key}={value}" for key, value in DOCKER_ANSWERS.items())
    script = (
        SNIPPET.read_text()
        .replace("https://github.com/OWNER/zenlock.git", f"--vcs-ref HEAD {template_repository()}")
        .replace("uvx copier copy --defaults", f"uvx copier copy --defaults {answers}")
        .replace("server -- up\n", f"server -- up --port {port}\n")
    )
    project = tmp_path / "iris-classifier"
    try:
        ported = run("bash", "-euxo", "pipefail", "-c", script, cwd=tmp_path, check=False)
        said = ported.stdout + ported.stderr
        assert ported.returncode == 0, said[-8000:]
    finally:
        remove_servers(docker_client, project)
    # Locally, then against the server: in .venv and in the pipeline image.
    completed = re.findall(r"Pipeline run training_pipeline-\S+: completed", ported.stdout)
    assert len(completed) == 3, said[-8000:]
    notice = "training_pipeline.yaml: settings.docker left out: steps in containers run in"
    assert ported.stdout.count(notice) == 3
    assert re.search(r"\b1 passed\b", ported.stdout), said[-8000:]
    assert "environments match uv.lock" in ported.stdout
    pyproject = (project / "pyproject.toml").read_text()
    assert '"tqdm>=4"' in pyproject and "integration-mlflow = [" in pyproject
    assert "zenml[server]==0.98.0" not in pyproject  # left out: ZenML is pinned once
    for stack in ("mlflow_stack", "mlflow_docker"):
        assert (
            "experiment_tracker" in (project / "configs" / "stacks" / f"{stack}.yaml").read_text()
        )
