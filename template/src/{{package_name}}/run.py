"""Run one pipeline: `python -m <package>.run --pipeline NAME [--config FILE] [--stack NAME]`.

Pipelines are found, not listed: every `@pipeline` in a module under `pipelines/` can be run
by its name, with `configs/<name>.yaml` as its run configuration.
"""

import argparse
import importlib
import pkgutil
from pathlib import Path

from zenml.client import Client
from zenml.models import PipelineRunResponse
from zenml.pipelines.pipeline_definition import Pipeline
from zenml.utils import source_utils

from . import containers, pipelines

# ZenML names step code relative to its source root; ours is src/, so steps resolve as
# `<package>.steps...` here and in every container, whatever the working directory.
SOURCE_ROOT = Path(__file__).resolve().parents[1]
DOCKER_STACK = "local-docker"  # configs/stacks/local-docker.yaml: `--docker` runs on it


def discover() -> dict[str, Pipeline]:
    """Every pipeline defined in a module of the `pipelines` package, by name."""
    found = {}
    for module_info in pkgutil.iter_modules(pipelines.__path__):
        module = importlib.import_module(f"{pipelines.__name__}.{module_info.name}")
        for value in vars(module).values():
            if isinstance(value, Pipeline):
                found[value.name] = value
    return found


def run(
    pipeline_name: str, config: Path | None = None, stack: str | None = None
) -> PipelineRunResponse:
    """Run one pipeline with its run configuration and return the finished run.

    With `stack`, it runs on that registered stack (`nox -s stacks -- apply` registers the
    stack files); steps outside this process run in this project's images.
    """
    source_utils.set_custom_source_root(str(SOURCE_ROOT))
    available = discover()
    if pipeline_name not in available:
        found = ", ".join(sorted(available)) or "none"
        raise SystemExit(f"No pipeline {pipeline_name!r} under pipelines/ (found: {found}).")
    config = config or Path("configs") / f"{pipeline_name}.yaml"
    if not config.is_file():
        raise SystemExit(f"Run configuration {config} not found (pass --config PATH).")
    if stack:
        containers.activate(stack)
    settings, where = containers.image_settings(pipeline_name)
    print(f"Running {pipeline_name} on stack {Client().active_stack_model.name}: {where}")
    started = available[pipeline_name].with_options(config_path=str(config), settings=settings)()
    return Client().get_pipeline_run(started.id)


def describe(pipeline_run: PipelineRunResponse) -> str:
    """Summarize a run: status, logged metrics, output artifacts and the ZenML store."""
    lines = [
        f"Pipeline run {pipeline_run.name}: {pipeline_run.status.value}",
        f"  ZenML store: {Client().zen_store.url}",
    ]
    for step_name, step_run in pipeline_run.steps.items():
        for key, value in step_run.run_metadata.items():
            lines.append(f"  {step_name} logged {key} = {value}")
        for output_name, artifacts in step_run.outputs.items():
            lines.append(f"  {step_name} -> {output_name}: {artifacts[0].uri}")
    return "\n".join(lines)


def main() -> None:
    names = sorted(discover())
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pipeline", choices=names, default="training", help="default: training")
    parser.add_argument("--config", type=Path, help="ZenML run configuration (YAML)")
    parser.add_argument("--stack", help="run on this stack (a file in configs/stacks/)")
    parser.add_argument(
        "--docker", action="store_true", help=f"the steps in our image: --stack {DOCKER_STACK}"
    )
    args = parser.parse_args()
    stack = args.stack or (DOCKER_STACK if args.docker else None)
    print(describe(run(args.pipeline, args.config, stack)))


if __name__ == "__main__":
    main()
