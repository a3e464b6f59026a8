"""Run one pipeline: `python -m <package>.run --pipeline training [--config FILE]`."""

import argparse
from pathlib import Path

from zenml.client import Client
from zenml.models import PipelineRunResponse
from zenml.utils import source_utils

from . import containers
from .pipelines import inference, training

PIPELINES = {"training": training, "inference": inference}
# ZenML names step code relative to its source root; ours is src/, so steps resolve as
# `<package>.steps...` here and in every container, whatever the working directory.
SOURCE_ROOT = Path(__file__).resolve().parents[1]


def run(
    pipeline_name: str, config: Path | None = None, docker: bool = False
) -> PipelineRunResponse:
    """Run one pipeline with its run configuration and return the finished run.

    With `docker`, the steps run in this project's image on the local Docker stack.
    """
    source_utils.set_custom_source_root(str(SOURCE_ROOT))
    config = config or Path("configs") / f"{pipeline_name}.yaml"
    if not config.is_file():
        raise SystemExit(f"Run configuration {config} not found (pass --config PATH).")
    if docker:
        containers.use_local_docker_stack()
    settings, where = containers.image_settings(pipeline_name)
    print(f"Running {pipeline_name} on stack {Client().active_stack_model.name}: {where}")
    started = PIPELINES[pipeline_name].with_options(config_path=str(config), settings=settings)()
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
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pipeline", choices=sorted(PIPELINES), default="training")
    parser.add_argument("--config", type=Path, help="ZenML run configuration (YAML)")
    parser.add_argument(
        "--docker", action="store_true", help="run the steps in our image on the local Docker stack"
    )
    args = parser.parse_args()
    print(describe(run(args.pipeline, args.config, args.docker)))


if __name__ == "__main__":
    main()
