"""Times of the generated project's sessions, and the ratios that matter. Prints; asserts nothing.

uv run nox -s bench                      # venv sessions only
uv run nox -s bench -- docker            # also the no-op sessions against `nox -l`, and images,
                                         # server and first run, side by side with
                                         # ZenML's builder and pip (needs Docker); 3 runs each
uv run nox -s bench -- noop              # the no-op sessions only, against `nox -l` (Docker)
uv run nox -s bench -- docker --quick    # one run each: proves the harness, not the numbers
uv run nox -s bench -- docker --quick --no-larger-set   # the same, the small set only
uv run nox -s bench -- docker --quick --no-larger-set --compared-only
                                         # only the comparisons whose images are checked
                                         # alike (what the test suite runs)
uv run nox -s bench -- docker --docs     # also writes benchmarks/results.md (the docs show it)

Results: build/bench.json (every run, min/median/max, ratios, machine) and build/bench.md.
"""

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from report import Timings, write

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from conftest import project_env, render_project  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def run(project: Path, *command: str) -> None:
    subprocess.run(command, cwd=project, env=project_env(), check=True, capture_output=True)


def venv_sessions(folder: Path, repeat: int, timings: Timings) -> None:
    """`nox -s dev` first and with nothing changed, against bare `uv sync --frozen`."""
    project = render_project(folder / "venv-project")
    nox = (sys.executable, "-m", "nox")
    timings.wall(
        "nox -s dev, first (lock + sync, warm uv cache)", lambda: run(project, *nox, "-s", "dev")
    )
    for _ in range(repeat):
        timings.wall("nox -s dev, nothing changed", lambda: run(project, *nox, "-s", "dev"))
        timings.wall("uv sync --frozen, bare", lambda: run(project, "uv", "sync", "--frozen"))
    timings.ratio(
        "no-op nox -s dev / bare uv sync --frozen",
        "nox -s dev, nothing changed",
        "uv sync --frozen, bare",
    )


def noop_sessions(folder: Path, repeat: int, timings: Timings) -> None:
    """The commands users type most, with everything built, each against `nox -l` (nox's own
    start-up): a no-op must cost about what nox does."""
    from conftest import DOCKER_ANSWERS

    project = render_project(folder / "noop-project", **DOCKER_ANSWERS)
    nox = (sys.executable, "-m", "nox")
    for session in ("dev", "images", "server"):  # everything built once, not timed
        run(project, *nox, "-s", session)
    figures = {
        "nox -l": ("-l",),
        "nox -s dev, no-op": ("-s", "dev"),
        "nox -s images, no-op": ("-s", "images"),
        "nox -s server, no-op": ("-s", "server"),
        "nox -s check, everything built": ("-s", "check", "--", "--only", "venv", "images",
                                           "server", "stacks"),
    }  # fmt: skip
    for _ in range(repeat):
        for figure, args in figures.items():
            timings.wall(figure, lambda args=args: run(project, *nox, *args))
    for figure in list(figures)[1:]:
        timings.ratio(f"{figure} / nox -l", figure, "nox -l", None if "check" in figure else 1.5)
    timings.group("no-op sessions and nox's own start-up", *figures)
    server_restart(project, repeat, timings)


def server_restart(project: Path, repeat: int, timings: Timings) -> None:
    """`up` of a running server (it checks and writes nothing) and of a stopped one with data
    (the restart users wait for): the probe, the server's start and the client's key check."""
    import docker
    from conftest import free_port, remove_servers

    port = str(free_port())
    nox = (sys.executable, "-m", "nox", "-s", "server", "--")
    run(project, *nox, "up", "--port", port)  # the first start (a new database): not timed
    try:
        for _ in range(repeat):
            timings.wall("server up, running", lambda: run(project, *nox, "up", "--port", port))
            run(project, *nox, "down")
            timings.wall("server up, stopped", lambda: run(project, *nox, "up", "--port", port))
    finally:  # its container and data volume, found by the project's label
        remove_servers(docker.from_env(), project)
    timings.ratio("server up, running / nox -l", "server up, running", "nox -l")
    timings.group("server restarts", "server up, running", "server up, stopped")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "docker",
        nargs="?",
        choices=["docker", "noop"],
        help="docker: also the no-op sessions and the Docker comparisons; noop: those only",
    )
    parser.add_argument("--repeat", type=int, default=3, help="runs per figure (default 3)")
    parser.add_argument("--quick", action="store_true", help="one run per figure")
    parser.add_argument(
        "--no-larger-set",
        action="store_true",
        help="leave out the larger dependency set (the same comparisons on more packages)",
    )
    parser.add_argument(
        "--compared-only",
        action="store_true",
        help="only the side-by-side comparisons whose images are checked alike: no venv, "
        "no-op session, first-run, floor, arm64, container-start, second-machine or "
        "server-start figures",
    )
    parser.add_argument(
        "--docs",
        action="store_true",
        help="write benchmarks/results.md, which docs/benchmarks.md shows",
    )
    parser.add_argument(
        "--output", type=Path, default=ROOT / "build", help="where bench.json and bench.md go"
    )
    args = parser.parse_args()
    repeat = 1 if args.quick else args.repeat
    timings = Timings()
    with tempfile.TemporaryDirectory(prefix="zenlock-bench-") as folder:
        if not args.compared_only:
            venv_sessions(Path(folder), repeat, timings)
        if args.docker and not args.compared_only:
            noop_sessions(Path(folder), repeat, timings)
        if args.docker == "docker":
            from compare import compare

            compare(Path(folder), repeat, timings, not args.no_larger_set, args.compared_only)
    command = "uv run nox -s bench -- " + " ".join(sys.argv[1:])
    write(timings, args.output, command.strip())
    if args.docs:
        shutil.copy(args.output / "bench.md", ROOT / "benchmarks" / "results.md")


if __name__ == "__main__":
    main()
