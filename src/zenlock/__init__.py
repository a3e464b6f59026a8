"""zenlock: every environment of a ZenML project derived from its uv.lock (`zenlock --help`).

Four layers, each importing only those below it (tests/test_comparisons.py holds them to it):
- ground: `state` (the project found from the working directory, its files and identity),
  `settings` ([tool.zenlock]), `inputs` (validation by grammar), `requirements`, `scripts`
  (the files in inside/ that run with another environment's python), `moved`;
- tools: `lock` (uv), `engine` (the Docker engine and what is on it), `buildkit` (builds),
  `pushes` (to registries), `oneoff` (short-lived containers), `registry` (ZenML's
  integration registry and the integration groups' names), `activation`;
- services: `imagespec`, `serverspec`, `database` and `backups`, `credentials`, `stackfiles`,
  `containers` and `discovery` (for the project's run module);
- commands: `images`, `server`, `check`, `integrations`, `stacks`, `upgrade`, `run`; none
  imports another (`upgrade` runs the others as processes).
"""


class ZenlockError(Exception):
    """A problem the user can fix; the message says how."""
