"""Every test talks to a fresh, throw-away ZenML store, whose active stack is the project's
default ([tool.zenlock.stacks] default in pyproject.toml), else ZenML's local `default` stack.

`nox -s tests` makes that store before pytest starts (`nox -s tests -- --stack NAME` picks
another stack file); run another way (from an IDE), the tests get one here, before any test
module is collected: a module may read `Client().active_stack` when it is imported.
"""

import os
import tempfile

import pytest
from zenlock import ZenlockError
from zenlock.settings import default_stack
from zenlock.stackfiles import THROWAWAY, use_throwaway_store

_zenml_config = None


def made_by_nox() -> bool:
    """`nox -s tests` made the store already: its config folder is in both variables."""
    folder = os.environ.get(THROWAWAY)
    return folder is not None and folder == os.environ.get("ZENML_CONFIG_PATH")


def pytest_configure(config: pytest.Config) -> None:
    global _zenml_config
    if made_by_nox():
        return
    _zenml_config = tempfile.TemporaryDirectory(prefix="zenml-tests-")
    try:
        use_throwaway_store(_zenml_config.name, default_stack())
    except ZenlockError as error:
        raise pytest.UsageError(str(error)) from None
