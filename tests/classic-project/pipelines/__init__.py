from .training import training_pipeline
