#!/bin/sh
# One layer of an image's venv, run by `RUN` in docker/pipeline.Dockerfile: install the layer's
# share of the lock (/tmp/layer/requirements.txt: hash-pinned, no resolution), then compile to
# bytecode what a step imports from it (precompile.py). The CA bundle and index settings are
# build secrets: they reach this step and no layer.
set -eu
export UV_LINK_MODE=copy UV_PYTHON_DOWNLOADS=never
[ -x /opt/venv/bin/python ] || uv venv --quiet --python python3 /opt/venv
if [ -s /tmp/layer/requirements.txt ]; then
    (   # the index settings reach uv only, not the imports below
        if [ -s /run/secrets/ca ]; then export SSL_CERT_FILE=/run/secrets/ca; fi
        if [ -s /run/secrets/index ]; then set -a; . /run/secrets/index; set +a; fi
        uv pip install --quiet --python /opt/venv/bin/python --require-hashes --no-deps \
            -r /tmp/layer/requirements.txt
    )
fi
# As root, so Python writes the .pyc files (the steps' user cannot); ZenML's state stays in /tmp.
env -u PYTHONDONTWRITEBYTECODE ZENML_CONFIG_PATH=/tmp/zenml ZENML_ANALYTICS_OPT_IN=false \
    /opt/venv/bin/python /tmp/zenlock/precompile.py /tmp/layer
rm -rf /tmp/zenml
# Only what is writable by others changes: touching the layers below would copy them up.
find /opt/venv -perm /022 ! -type l -exec chmod go-w {} +
