from zenml import pipeline

from steps import load_rows, train_model


@pipeline
def training_pipeline(regularization: float = 1.0) -> None:
    train_model(rows=load_rows(), regularization=regularization)
