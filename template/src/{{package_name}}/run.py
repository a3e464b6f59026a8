"""Run one pipeline: `python -m <package>.run --pipeline NAME [--config FILE] [--stack NAME]`.

Pipelines are found, not listed: every `@pipeline` in a module under `pipelines/` can be run
by its name, with `configs/<name>.yaml` as its run configuration when there is one (ZenML's
defaults otherwise). They are found by reading the source, and only the module of the
pipeline that runs is imported, after its stack is active: steps may read
`Client().active_stack` at import time, and a module that fails to import stops only its own
pipelines. Without `--pipeline`: `[tool.zenlock.run] default` in pyproject.toml, else
`training`, else the first by name.

Files a step reads by a relative path belong in `data/` (`data/rows.csv`): it reaches the
steps in every mode, beside the code.
"""

import argparse
import importlib
from pathlib import Path

from zenlock import containers, discovery
from zenml.client import Client
from zenml.models import PipelineRunResponse
from zenml.pipelines.pipeline_definition import Pipeline
from zenml.utils import source_utils

# ZenML names step code relative to its source root; ours is src/, so steps resolve as
# `<package>.steps...` here and in every container, whatever the working directory.
SOURCE_ROOT = Path(__file__).resolve().parents[1]
DOCKER_STACK = "local-docker"  # configs/stacks/local-docker.yaml: `--docker` runs on it
PIPELINES = Path(__file__).resolve().parent / "pipelines"
CONFIGS = Path("configs")  # run configurations, `configs/<pipeline>.yaml`


def load(pipeline_name: str, module_name: str) -> Pipeline:
    """Import the one module that defines the pipeline; its failure names the module."""
    try:
        module = importlib.import_module(module_name)
    except Exception as error:
        raise SystemExit(
            f"Pipeline {pipeline_name!r}: module {module_name} does not import "
            f"({type(error).__name__}: {error}). The other pipelines still run."
        ) from error
    for value in vars(module).values():
        if isinstance(value, Pipeline) and value.name == pipeline_name:
            return value
    raise SystemExit(f"Module {module_name} defines no pipeline {pipeline_name!r} once imported.")


def run(
    pipeline_name: str,
    config: Path | None = None,
    stack: str | None = None,
    *,
    cache: bool = True,
) -> PipelineRunResponse:
    """Run one pipeline with its run configuration (`config`, else `configs/<name>.yaml` if
    there is one, else ZenML's defaults) and return the finished run.

    With `stack`, it runs on that registered stack (`nox -s stacks -- apply` registers the
    stack files), made active before the pipeline's module is imported; steps outside this
    process run in this project's images.
    """
    source_utils.set_custom_source_root(str(SOURCE_ROOT))
    available, broken = discovery.discover(PIPELINES, f"{__package__}.pipelines")
    if pipeline_name not in available:
        found = ", ".join(sorted(available)) or "none"
        unreadable = "".join(f"; {module} unreadable: {why}" for module, why in broken.items())
        raise SystemExit(
            f"No pipeline {pipeline_name!r} under pipelines/ (found: {found}{unreadable})."
        )
    if config is not None and not config.is_file():
        raise SystemExit(f"Run configuration {config} not found: fix the path of --config.")
    own = CONFIGS / f"{pipeline_name}.yaml"
    config = config or (own if own.is_file() else None)
    if stack:
        containers.activate(stack)
    pipeline = load(pipeline_name, available[pipeline_name])
    # Our image's settings, and its ZenML build (the dashboard shows the image and its lock).
    image_options, where = containers.image_options(pipeline_name, config)
    configured = f"run configuration {config}" if config else f"no {own}: ZenML's defaults"
    print(
        f"Running {pipeline_name} on stack {Client().active_stack_model.name}: {where}; "
        f"{configured}"
    )
    options = {**({"config_path": str(config)} if config else {}), **image_options}
    if not cache:
        options["enable_cache"] = False
    started = pipeline.with_options(**options)()
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
    available, broken = discovery.discover(PIPELINES, f"{__package__}.pipelines")
    unreadable = "".join(f"\n  {module}: {why}" for module, why in broken.items())
    parser = argparse.ArgumentParser(
        description=__doc__,
        epilog=f"Modules whose pipelines cannot be listed:{unreadable}" if broken else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    names = sorted(available)
    default = discovery.default_pipeline(names)  # [tool.zenlock.run] default, else training
    parser.add_argument("--pipeline", choices=names, default=default, help=f"default: {default}")
    parser.add_argument("--config", type=Path, help="ZenML run configuration (YAML)")
    parser.add_argument("--stack", help="run on this stack (a file in configs/stacks/)")
    parser.add_argument(
        "--docker", action="store_true", help=f"the steps in our image: --stack {DOCKER_STACK}"
    )
    parser.add_argument("--no-cache", action="store_true", help="run every step again")
    args = parser.parse_args()
    if args.pipeline is None:
        parser.error("no pipeline found under pipelines/")
    stack = args.stack or (DOCKER_STACK if args.docker else None)
    print(describe(run(args.pipeline, args.config, stack, cache=not args.no_cache)))


if __name__ == "__main__":
    main()
