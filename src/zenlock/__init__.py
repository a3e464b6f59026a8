"""zenlock: every environment of a ZenML project derived from its uv.lock (`zenlock --help`).

Three runtimes:
- the CLI (`zenlock COMMAND`, what the project's nox sessions run): `__main__` makes one
  `project.Project` from the working directory and hands it to the command's `main(project,
  args)`; nothing binds a project, a path or the working directory at import
  (tests/test_project_value.py);
- the runtime API, what a project's own code imports (its run module, its tests'
  conftest.py): `containers.activate` and `image_options`, `discovery.discover` and
  `default_pipeline`, `settings.default_stack`, `stackfiles.use_throwaway_store` and
  `THROWAWAY`. Public: tests/test_runtime_api.py holds the names and signatures;
- the scripts in inside/, which another environment's python runs (an image's, the server's).

Four layers, each importing only those below it (tests/test_comparisons.py holds them to it):
- ground: `pyproject` (finding the project), `settings` ([tool.zenlock]), `project` (the
  value passed down: root, paths, settings, record), `identity` (which project a folder is on
  this machine), `state` (env files, the project's ZenML environment), `inputs` (validation
  by grammar), `requirements`, `scripts`, `moved`;
- tools: `lock` (uv), `engine` (the Docker engine and what is on it), `buildkit` (builds),
  `pushes` (to registries), `oneoff` (short-lived containers), `registry` (ZenML's
  integration registry and the integration groups' names), `activation`, `uvbinary`;
- services: `imagespec`, `serverspec`, `database` and `backups`, `credentials`, `stackfiles`,
  `containers`, `discovery` and `builds` (the runtime), `projectserver` (the `Server`
  object) with `lifecycle`, `serverdata`, `remote` and `helmvalues`, `zenmlenv`,
  `checkreport`;
- commands: `images`, `server`, `check`, `integrations`, `stacks`, `upgrade`, `run`,
  `execute`, `testing`, `zenmlcli`; none imports another (`upgrade` runs the others as
  processes). Adding one: its module with `main(project, args)`, and one line in
  `__main__.COMMANDS`.
"""


class ZenlockError(Exception):
    """A problem the user can fix; the message says how."""
