"""Pipeline steps: one concern per module."""

from .data import load_inference_batch, load_training_data
from .evaluation import evaluate_model
from .inference import predict
from .training import train_model

__all__ = [
    "evaluate_model",
    "load_inference_batch",
    "load_training_data",
    "predict",
    "train_model",
]
