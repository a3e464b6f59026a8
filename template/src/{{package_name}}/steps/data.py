"""Data loading: scikit-learn's bundled breast-cancer data set (no download needed)."""

from typing import Annotated

import numpy as np
from sklearn.datasets import load_breast_cancer
from sklearn.model_selection import train_test_split
from zenml import step


@step
def load_training_data(
    test_size: float = 0.2, random_state: int = 42
) -> tuple[
    Annotated[np.ndarray, "X_train"],
    Annotated[np.ndarray, "X_test"],
    Annotated[np.ndarray, "y_train"],
    Annotated[np.ndarray, "y_test"],
]:
    """Split the data set into stratified train and test sets."""
    features, target = load_breast_cancer(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(
        features, target, test_size=test_size, random_state=random_state, stratify=target
    )
    return X_train, X_test, y_train, y_test


@step
def load_inference_batch(
    batch_size: int = 50, random_state: int = 0
) -> Annotated[np.ndarray, "inference_batch"]:
    """Draw a batch of unlabeled samples, as a scoring job would receive them."""
    features, _ = load_breast_cancer(return_X_y=True)
    rows = np.random.default_rng(random_state).choice(len(features), batch_size, replace=False)
    return features[rows]
