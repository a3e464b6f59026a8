"""Every test talks to a fresh, throw-away ZenML store on the local default stack."""

import pytest
from zenml.client import Client
from zenml.config.global_config import GlobalConfiguration


@pytest.fixture(scope="session", autouse=True)
def isolated_zenml(tmp_path_factory: pytest.TempPathFactory):
    with pytest.MonkeyPatch.context() as env:
        env.setenv("ZENML_CONFIG_PATH", str(tmp_path_factory.mktemp("zenml")))
        env.setenv("ZENML_ANALYTICS_OPT_IN", "false")
        for name in ("ZENML_STORE_URL", "ZENML_STORE_API_KEY", "ZENML_ACTIVE_STACK_ID"):
            env.delenv(name, raising=False)
        GlobalConfiguration._reset_instance()
        Client._reset_instance()
        yield
        GlobalConfiguration._reset_instance()
        Client._reset_instance()
