"""ZenML flavors the server imports, e.g. to show this project's artifacts in the dashboard."""

from .artifact_store import ProjectArtifactStore, ProjectArtifactStoreFlavor

__all__ = ["ProjectArtifactStore", "ProjectArtifactStoreFlavor"]
