"""Times of the generated project's sessions, and the ratios that matter. Prints; asserts nothing.

uv run nox -s bench                      # venv sessions only
uv run nox -s bench -- docker            # also images, server and first run, side by side with
                                         # ZenML's builder and pip (needs Docker); 3 runs each
uv run nox -s bench -- docker --quick    # one run each: proves the harness, not the numbers
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


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("docker", nargs="?", choices=["docker"], help="also the Docker comparisons")
    parser.add_argument("--repeat", type=int, default=3, help="runs per figure (default 3)")
    parser.add_argument("--quick", action="store_true", help="one run per figure")
    parser.add_argument(
        "--docs",
        action="store_true",
        help="write benchmarks/results.md, which docs/benchmarks.md shows",
    )
    args = parser.parse_args()
    repeat = 1 if args.quick else args.repeat
    timings = Timings()
    with tempfile.TemporaryDirectory(prefix="zenlock-bench-") as folder:
        venv_sessions(Path(folder), repeat, timings)
        if args.docker:
            from compare import compare

            compare(Path(folder), repeat, timings)
    command = "uv run nox -s bench -- " + " ".join(sys.argv[1:])
    write(timings, ROOT / "build", command.strip())
    if args.docs:
        shutil.copy(ROOT / "build" / "bench.md", ROOT / "benchmarks" / "results.md")


if __name__ == "__main__":
    main()
