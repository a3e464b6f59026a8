"""Pipelines: each is run by `python -m <package>.run --pipeline NAME`."""

from .inference import inference
from .training import training

__all__ = ["inference", "training"]
