# Pipeline image: the locked [project] dependencies and nothing else. Built by `nox -s images`,
# which writes the build context: requirements.txt (`uv export`, with hashes), the uv binary,
# ca-bundle.crt (an extra CA for TLS-intercepting proxies, may be empty) and build.env (package
# index credentials from your environment, may be empty). All four stay in the build stage.
ARG PARENT_IMAGE

FROM ${PARENT_IMAGE} AS build
# Marks this stage's images so that `nox -s images` can delete them after the build; keep it
# (a Dockerfile whose build stage lacks it is refused: the stage holds the CA and credentials).
ARG BUILD_STAGE_LABEL
LABEL envtools.build-stage=${BUILD_STAGE_LABEL}
COPY uv /usr/local/bin/uv
COPY requirements.txt ca-bundle.crt build.env /tmp/build/
ENV UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy UV_PYTHON_DOWNLOADS=never UV_NO_CACHE=1
RUN set -eu; \
    if [ -s /tmp/build/ca-bundle.crt ]; then export SSL_CERT_FILE=/tmp/build/ca-bundle.crt; fi; \
    set -a; . /tmp/build/build.env; set +a; \
    uv venv --quiet --python python3 /opt/venv; \
    uv pip install --quiet --python /opt/venv/bin/python --require-hashes --no-deps \
        -r /tmp/build/requirements.txt

FROM ${PARENT_IMAGE}
# Non-root. /app is where ZenML puts step code; it is world-writable because ZenML's local
# Docker orchestrator runs step containers with the host user's uid.
RUN (useradd --uid 10001 --create-home --shell /usr/sbin/nologin zenml \
        || adduser -D -u 10001 -s /sbin/nologin zenml) \
    && mkdir -p /app && chmod 1777 /app
COPY --from=build /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:${PATH} VIRTUAL_ENV=/opt/venv PYTHONUNBUFFERED=1
WORKDIR /app
USER 10001
