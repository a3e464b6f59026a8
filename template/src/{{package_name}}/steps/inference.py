"""Batch inference."""

from typing import Annotated

import numpy as np
from sklearn.pipeline import Pipeline
from zenml import step


@step
def predict(model: Pipeline, inference_batch: np.ndarray) -> Annotated[np.ndarray, "predictions"]:
    """Predict a class label (0 = malignant, 1 = benign) for every sample of the batch."""
    return model.predict(inference_batch)
