"""The server's image: the parent plus the lock's `server` group, the integrations the server
imports (`-- add NAME --server`) and the project's plugin package, as a wheel."""

from pathlib import Path

from . import ZenlockError, engine, lock, registry
from .imagespec import ImageSpec, locked_spec, planned_tag, tree_contents
from .project import Project
from .settings import ServerSettings

# ZenML's own settings that make its claims hold (docs/server.md; the server env file may
# set others): secrets encrypted with the key in admin.env (ZenML ignores the key unless the
# store has a type), logins rate-limited per client address, access tokens that expire, and a
# run's own token (what a DAG file or a step container holds; it has no expiry of its own)
# refused 60 s after its run ends, not ZenML's hour (docs/stacks.md, Airflow).
SECURE_DEFAULTS = {
    "ZENML_SECRETS_STORE_TYPE": "sql",
    "ZENML_SERVER_RATE_LIMIT_ENABLED": "true",
    "ZENML_SERVER_LOGIN_RATE_LIMIT_MINUTE": "5",
    "ZENML_SERVER_LOGIN_RATE_LIMIT_DAY": "1000",
    "ZENML_SERVER_JWT_TOKEN_EXPIRE_MINUTES": "60",
    "ZENML_WORKLOAD_TOKEN_EXPIRATION_LEEWAY": "60",
}
CONTAINER_PORT = 8080


def plugin_package(root: Path, settings: ServerSettings) -> tuple[Path, str] | None:
    """The local plugin package the server imports (its folder and distribution name)."""
    if not settings.plugins:
        return None
    folder = root / settings.plugins
    if not (folder / "pyproject.toml").is_file():
        raise ZenlockError(f"Server plugin package {folder} has no pyproject.toml.")
    return folder, lock.read_toml(folder / "pyproject.toml")["project"]["name"]


def server_spec(project: Project, settings: ServerSettings, platform: str) -> ImageSpec:
    """`platform`'s parent plus the locked `server` group; the plugin package goes in as a
    wheel."""
    plugin = plugin_package(project.root, settings)
    leave_out = ["--no-emit-package", plugin[1]] if plugin else []
    selection = lock.selection(project.root, "server", server_groups(project.root))
    requirements = lock.export(project.root, [*selection, *leave_out], cache=project.cache_home)

    def add_plugin_wheel(context: Path) -> None:
        (context / "wheels").mkdir()
        if plugin:
            lock.uv(
                project.root,
                "build",
                "--wheel",
                "--quiet",
                "--out-dir",
                str(context / "wheels"),
                str(plugin[0]),
            )

    return locked_spec(
        project.root,
        "server",
        settings.build,
        platform,
        project.dockerfiles / "server.Dockerfile",
        requirements,
        *(tree_contents(plugin[0]) if plugin else ()),
        sbom=lock.sbom(project.root, selection, cache=project.cache_home),  # with the plugin
        add_files=add_plugin_wheel,
    )


def server_groups(root: Path) -> list[str]:
    """The `server` group and the integrations the server imports (`-- add NAME --server`)."""
    return ["server", *registry.integration_groups(root, "server")]


def current_image(project: Project, client, settings: ServerSettings) -> str | None:
    """The server image of the current lock and plugins for the engine's own platform (what
    `up` runs), if built here (never pulls)."""
    return planned_tag(client, server_spec(project, settings, engine.native_platform(client)))
