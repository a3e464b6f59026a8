# Release image: a pipeline image plus the project's data/ and its code, each in a layer of its
# own, so a code-only change rebuilds in seconds and the layers below stay the same.
ARG DEPENDENCIES_IMAGE
FROM ${DEPENDENCIES_IMAGE}
# Owned by root: the steps (uid 10001) read them and cannot change them. Steps work in /app,
# so a step reads `data/rows.csv` here as it does in your project's folder.
COPY data/ /app/data/
COPY src/ /app/
