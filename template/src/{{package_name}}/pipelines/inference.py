"""Batch-inference pipeline: the latest trained model scores a batch of samples."""

from zenml import pipeline
from zenml.client import Client

from ..steps import load_inference_batch, predict
from ..steps.training import MODEL_ARTIFACT


@pipeline
def inference(batch_size: int = 50) -> None:
    """Score a batch with the newest model the training pipeline produced."""
    model = Client().get_artifact_version(MODEL_ARTIFACT)
    predict(model=model, inference_batch=load_inference_batch(batch_size=batch_size))
