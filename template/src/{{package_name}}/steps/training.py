"""Model training."""

from typing import Annotated

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler
from zenml import step

MODEL_ARTIFACT = "breast_cancer_classifier"


@step
def train_model(
    X_train: np.ndarray, y_train: np.ndarray, regularization: float = 1.0
) -> Annotated[Pipeline, MODEL_ARTIFACT]:
    """Fit a scaled logistic regression; `regularization` is the inverse strength C."""
    model = make_pipeline(StandardScaler(), LogisticRegression(C=regularization, max_iter=1000))
    model.fit(X_train, y_train)
    return model
