"""Pipelines: every `@pipeline` in a module here runs with `nox -s run -- --pipeline NAME`,
configured by `configs/NAME.yaml` (`run.py` finds them; nothing to register)."""
