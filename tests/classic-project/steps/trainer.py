import mlflow
import pandas as pd
from sklearn.linear_model import LogisticRegression
from zenml import step
from zenml.client import Client

# As ZenML's own templates do: the tracker is read from the active stack at import.
experiment_tracker = Client().active_stack.experiment_tracker


@step(experiment_tracker=experiment_tracker.name)
def train_model(rows: pd.DataFrame, regularization: float = 1.0) -> float:
    features, labels = rows[["x1", "x2"]], rows["label"]
    model = LogisticRegression(C=regularization).fit(features, labels)
    accuracy = float(model.score(features, labels))
    mlflow.log_metric("accuracy", accuracy)
    return accuracy
