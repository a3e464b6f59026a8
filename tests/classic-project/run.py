"""python run.py --training"""

import click

from pipelines import training_pipeline


@click.command()
@click.option("--training", is_flag=True, default=True)
def main(training: bool) -> None:
    if training:
        training_pipeline.with_options(config_path="configs/training_pipeline.yaml")()


if __name__ == "__main__":
    main()
