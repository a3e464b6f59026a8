# Pipeline image: the locked [project] dependencies and ZenML integrations, nothing else.
# Built by `nox -s images` with BuildKit from a build context of requirements.txt (`uv
# export`, with hashes), the apt packages of the integrations and the uv binary; an extra CA
# bundle (TLS-intercepting proxies) and package-index credentials arrive as secrets. All of
# them are mounted for the install step only: none is in any layer.
ARG PARENT_IMAGE
FROM ${PARENT_IMAGE}
# Non-root. /app is where ZenML puts step code; it is world-writable because ZenML's local
# Docker orchestrator runs step containers with the host user's uid.
RUN (useradd --uid 10001 --create-home --shell /usr/sbin/nologin zenml \
        || adduser -D -u 10001 -s /sbin/nologin zenml) \
    && mkdir -p /app && chmod 1777 /app
# The apt packages ZenML declares for the project's integrations (e.g. libgomp1 for lightgbm).
RUN --mount=type=bind,source=apt-packages.txt,target=/tmp/apt-packages.txt \
    if [ -s /tmp/apt-packages.txt ]; then \
        apt-get update \
        && DEBIAN_FRONTEND=noninteractive xargs apt-get install --yes --no-install-recommends \
            < /tmp/apt-packages.txt \
        && rm -rf /var/lib/apt/lists/*; \
    fi
# uv's cache is a BuildKit cache mount: a dependency change downloads only what changed.
RUN --mount=type=bind,source=uv,target=/usr/local/bin/uv \
    --mount=type=bind,source=requirements.txt,target=/tmp/requirements.txt \
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
    chmod -R go-w /opt/venv
# What is installed, as CycloneDX (`uv export` of the same selection): read by `nox -s check`.
COPY sbom.cdx.json /opt/sbom.cdx.json
ENV PATH=/opt/venv/bin:${PATH} VIRTUAL_ENV=/opt/venv PYTHONUNBUFFERED=1
WORKDIR /app
USER 10001
