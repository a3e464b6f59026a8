"""Every test talks to a fresh, throw-away ZenML store on the local default stack.

`nox -s tests` starts pytest with a throw-away ZenML config already; run another way (from an
IDE), the tests get one here, before any test module can import ZenML.
"""

import os
import tempfile

_zenml_config = tempfile.TemporaryDirectory(prefix="zenml-tests-")
os.environ["ZENML_CONFIG_PATH"] = _zenml_config.name
os.environ.setdefault("ZENML_ANALYTICS_OPT_IN", "false")
for name in ("ZENML_STORE_URL", "ZENML_STORE_API_KEY", "ZENML_ACTIVE_STACK_ID"):
    os.environ.pop(name, None)
