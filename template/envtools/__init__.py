"""Build and check this project's environments from uv.lock; the nox sessions call these modules."""
