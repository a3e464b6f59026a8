"""What the nox sessions run: every environment of the project derived from uv.lock.

Base modules: `state` (paths, env files, the project's identity and ZenML environment),
`settings` (`[tool.zenlock]`), `lock` (uv lock and export), `engine` (Docker), `imagespec`
(what goes into an image and its tag), `registry` (ZenML's integration registry), `stackfiles`
(configs/stacks/), `credentials` (the server's). Commands on that base: `images`, `server`,
`check`, `integrations`, `stacks` (`zenlock`).
"""


class ZenlockError(Exception):
    """A problem the user can fix; the message says how."""
