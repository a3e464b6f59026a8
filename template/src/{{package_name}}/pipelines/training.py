"""Training pipeline: data -> model -> accuracy."""

from zenml import pipeline

from ..steps import evaluate_model, load_training_data, train_model


@pipeline
def training(test_size: float = 0.2, random_state: int = 42) -> float:
    """Train a classifier and return its test accuracy."""
    X_train, X_test, y_train, y_test = load_training_data(
        test_size=test_size, random_state=random_state
    )
    model = train_model(X_train=X_train, y_train=y_train)
    return evaluate_model(model=model, X_test=X_test, y_test=y_test)
