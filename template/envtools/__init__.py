"""What the nox sessions run: every environment of the project derived from uv.lock.

Base modules: `state` (paths, env files, the project's ZenML environment), `settings`
(`[tool.envtools]`), `lock` (uv lock and export), `engine` (Docker), `imagespec` (what goes into
an image and its tag). Commands on that base: `images`, `server`, `check` (`python -m envtools`).
"""


class EnvtoolsError(Exception):
    """A problem the user can fix; the message says how."""
