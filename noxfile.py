# /// script
# dependencies = ["nox[uv]==2026.10.20"]
# ///
"""Sessions of the zenlock template repository. `nox -l` lists them."""

from pathlib import Path

import nox

nox.needs_version = ">=2026.10.20"
nox.options.default_venv_backend = "uv"
nox.options.sessions = ["lint", "tests"]

ROOT = Path(__file__).parent
# Generated projects run their own nox and uv: they must not see this session's venv.
CHILD_ENV = {"VIRTUAL_ENV": None, "ZENML_ANALYTICS_OPT_IN": "false"}


def install_tooling(session: nox.Session) -> None:
    """Install the repository's pinned tooling (uv.lock, dev group) into the session venv."""
    session.run_install(
        "uv",
        "sync",
        "--locked",
        env={"UV_PROJECT_ENVIRONMENT": session.virtualenv.location},
    )


@nox.session
def demo(session: nox.Session) -> None:
    """Render the template with its defaults into build/demo (or `-- DIR`) and run its pipeline;
    the project gets zenlock from this working tree (editable)."""
    install_tooling(session)
    target = Path(session.posargs[0] if session.posargs else ROOT / "build" / "demo").resolve()
    working_tree = ["--data", "zenlock_source=path", "--data", f"zenlock_path={ROOT}"]
    session.run(
        "copier", "copy", "--defaults", "--overwrite", "--vcs-ref", "HEAD", *working_tree,
        str(ROOT), str(target),
    )  # fmt: skip
    session.chdir(target)
    session.run("nox", "-s", "lock", "dev", "run", env=CHILD_ENV)
    session.log(f"Project:      {target}")
    session.log(f"Venv:         {target / '.venv'}")
    session.log(f"ZenML state:  {target / '.zenml'} (the project's own ZENML_CONFIG_PATH)")
    session.log(f"Next:         cd {target} && uv run nox -s run -- --pipeline inference")


@nox.session
def tests(session: nox.Session) -> None:
    """Run the whole test suite: renders the template and drives uv, nox and ZenML for real."""
    install_tooling(session)
    session.run("pytest", *session.posargs, env=CHILD_ENV)


@nox.session
def bench(session: nox.Session) -> None:
    """Time the generated project's sessions and print ratios (`-- docker` adds images, server)."""
    install_tooling(session)
    session.run("python", "benchmarks/sessions.py", *session.posargs, env=CHILD_ENV)


@nox.session
def lint(session: nox.Session) -> None:
    """Check the repository's own code with ruff (the generated code is checked by the tests)."""
    install_tooling(session)
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session
def docs(session: nox.Session) -> None:
    """Build the user guide with MkDocs, strict (`-- serve` to preview it)."""
    install_tooling(session)
    if session.posargs == ["serve"]:
        session.run("mkdocs", "serve")
    else:
        session.run("mkdocs", "build", "--strict", "--site-dir", "site")
