# Release image: a pipeline image plus the project's code in one layer of its own, so a
# code-only change rebuilds in seconds and the dependency layers stay the same.
ARG DEPENDENCIES_IMAGE
FROM ${DEPENDENCIES_IMAGE}
# Owned by root: the steps (uid 10001) read the code and cannot change it.
COPY src/ /app/
