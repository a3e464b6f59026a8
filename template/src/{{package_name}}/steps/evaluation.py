"""Model evaluation."""

from typing import Annotated

import numpy as np
from sklearn.metrics import accuracy_score
from sklearn.pipeline import Pipeline
from zenml import log_metadata, step
from zenml.logger import get_logger

logger = get_logger(__name__)


@step
def evaluate_model(
    model: Pipeline, X_test: np.ndarray, y_test: np.ndarray
) -> Annotated[float, "test_accuracy"]:
    """Score the model on the held-out set; the accuracy is returned and logged as metadata."""
    accuracy = float(accuracy_score(y_test, model.predict(X_test)))
    log_metadata(metadata={"test_accuracy": accuracy})
    logger.info("Test accuracy: %.4f", accuracy)
    return accuracy
