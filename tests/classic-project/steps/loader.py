import pandas as pd
from zenml import step


@step
def load_rows(path: str = "data/rows.csv") -> pd.DataFrame:
    """Reads a file of the project by a path relative to where the pipeline runs."""
    return pd.read_csv(path)
