# ZenML server image: the locked `server` dependency group (zenml[server] + extras) and the
# project's server plugin package, on the parent image. Built by `nox -s server` like the
# pipeline images (see pipeline.Dockerfile), plus wheels/ (the plugin package, built locally).
ARG PARENT_IMAGE
FROM ${PARENT_IMAGE}
# Non-root; /zenml holds the database and is where the data volume is mounted. The artifact
# store is mounted at the client's own path, which is under /root when the client runs as
# root: the server's user may pass through /root (not list it).
RUN (useradd --uid 10001 --create-home --shell /usr/sbin/nologin zenml \
        || adduser -D -u 10001 -s /sbin/nologin zenml) \
    && mkdir -p /zenml && chown 10001:10001 /zenml \
    && if [ -d /root ]; then chmod o+x /root; fi
RUN --mount=type=bind,source=uv,target=/usr/local/bin/uv \
    --mount=type=bind,source=requirements.txt,target=/tmp/requirements.txt \
    --mount=type=bind,source=wheels,target=/tmp/wheels \
    --mount=type=secret,id=ca \
    --mount=type=secret,id=index \
    --mount=type=cache,target=/root/.cache/uv,id=envtools-uv \
    set -eu; \
    if [ -s /run/secrets/ca ]; then export SSL_CERT_FILE=/run/secrets/ca; fi; \
    if [ -s /run/secrets/index ]; then set -a; . /run/secrets/index; set +a; fi; \
    export UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy UV_PYTHON_DOWNLOADS=never; \
    uv venv --quiet --python python3 /opt/venv; \
    uv pip install --quiet --python /opt/venv/bin/python --require-hashes --no-deps \
        -r /tmp/requirements.txt; \
    for wheel in /tmp/wheels/*.whl; do \
        [ -e "$wheel" ] && uv pip install --quiet --python /opt/venv/bin/python --no-deps "$wheel"; \
    done; \
    chmod -R go-w /opt/venv
# What is installed, as CycloneDX (`uv export` of the same selection): read by `nox -s check`.
COPY sbom.cdx.json /opt/sbom.cdx.json
ENV PATH=/opt/venv/bin:${PATH} VIRTUAL_ENV=/opt/venv PYTHONUNBUFFERED=1 \
    ZENML_CONTAINER=1 \
    ZENML_SERVER_DEPLOYMENT_TYPE=docker \
    ZENML_SERVER_AUTO_ACTIVATE=1 \
    ZENML_CONFIG_PATH=/zenml/.zenconfig \
    ZENML_STORE_URL=sqlite:////zenml/.zenconfig/local_stores/default_zen_store/zenml.db \
    SERVER_HOST=0.0.0.0 \
    SERVER_PORT=8080 \
    FORWARDED_ALLOW_IPS=""
# FORWARDED_ALLOW_IPS: the addresses of proxies whose X-Forwarded-* headers uvicorn believes;
# none by default, or any client could pose as another. Behind a proxy, set it in server.env.
WORKDIR /zenml
USER 10001
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; host = os.environ['SERVER_HOST'].replace('0.0.0.0', '127.0.0.1'); urllib.request.urlopen('http://%s:%s/health' % (host, os.environ['SERVER_PORT']), timeout=4)"]
# The admin password and JWT secret come from the environment at `docker run`, never from here.
CMD ["sh", "-c", "exec uvicorn zenml.zen_server.zen_server_api:app --host \"$SERVER_HOST\" --port \"$SERVER_PORT\" --proxy-headers --no-server-header"]
