# Pipeline image: the locked [project] dependencies and ZenML integrations, nothing else.
# Built by `nox -s images` with BuildKit from a build context of the lock's requirements
# (`uv export`, with hashes) in layers, the apt packages of the integrations, the uv binary
# and zenlock's install scripts; an extra CA bundle (TLS-intercepting proxies) and
# package-index credentials arrive as secrets. All of them are mounted for the install steps
# only: none is in any layer.
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
# The venv in three layers, the most stable first: ZenML and what it needs, then the ZenML
# integrations' packages, then the project's own. A dependency change rebuilds from the first
# layer it touches; those below stay. Each installs its share of the lock (hash-pinned,
# no resolution) and compiles to bytecode what a step imports from it, not all of
# site-packages; the second activates the integrations as a step would. uv and the layer's
# files are mounted for the step only; uv's cache is a BuildKit cache mount, so a rebuild
# downloads only what changed.
RUN --mount=type=bind,source=layers/1-zenml,target=/tmp/layer \
    --mount=type=bind,source=zenlock,target=/tmp/zenlock \
    --mount=type=bind,source=uv,target=/usr/local/bin/uv \
    --mount=type=secret,id=ca --mount=type=secret,id=index \
    --mount=type=cache,target=/root/.cache/uv,id=envtools-uv \
    sh /tmp/zenlock/install-layer.sh
RUN --mount=type=bind,source=layers/2-integrations,target=/tmp/layer \
    --mount=type=bind,source=zenlock,target=/tmp/zenlock \
    --mount=type=bind,source=uv,target=/usr/local/bin/uv \
    --mount=type=secret,id=ca --mount=type=secret,id=index \
    --mount=type=cache,target=/root/.cache/uv,id=envtools-uv \
    sh /tmp/zenlock/install-layer.sh
RUN --mount=type=bind,source=layers/3-project,target=/tmp/layer \
    --mount=type=bind,source=zenlock,target=/tmp/zenlock \
    --mount=type=bind,source=uv,target=/usr/local/bin/uv \
    --mount=type=secret,id=ca --mount=type=secret,id=index \
    --mount=type=cache,target=/root/.cache/uv,id=envtools-uv \
    sh /tmp/zenlock/install-layer.sh
# What is installed, as CycloneDX (`uv export` of the same selection): read by `nox -s check`.
COPY sbom.cdx.json /opt/sbom.cdx.json
ENV PATH=/opt/venv/bin:${PATH} VIRTUAL_ENV=/opt/venv PYTHONUNBUFFERED=1
WORKDIR /app
USER 10001
