from .loader import load_rows
from .trainer import train_model
