"""Times of the generated project's sessions, and the ratios that matter. Prints; asserts nothing.

uv run nox -s bench            # venv sessions only
uv run nox -s bench -- docker  # also images and the server (needs Docker)
"""

import hashlib
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import docker

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from conftest import DOCKER_ANSWERS, project_env, render_project  # noqa: E402


def timed(project: Path, *command: str, repeat: int = 1) -> float:
    """Median wall time of `command` in the project, in seconds."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(command, cwd=project, env=project_env(), check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def nox(project: Path, *args: str, repeat: int = 1) -> float:
    return timed(project, sys.executable, "-m", "nox", *args, repeat=repeat)


def remove_server_data(project: Path) -> None:
    """`down` keeps the server's data volume on purpose; the benchmark's own is not needed."""
    project_id = hashlib.sha256(str(project.resolve()).encode()).hexdigest()[:12]
    for volume in docker.from_env().volumes.list():
        if volume.name.endswith(f"-{project_id}-data"):
            volume.remove(force=True)


def main() -> None:
    with_docker = "docker" in sys.argv[1:]
    with tempfile.TemporaryDirectory() as folder:
        project = render_project(
            Path(folder) / "project", **(DOCKER_ANSWERS if with_docker else {})
        )
        rows = [("nox -s dev (first: lock + sync, warm uv cache)", nox(project, "-s", "dev"))]
        noop = nox(project, "-s", "dev", repeat=5)
        bare = timed(project, "uv", "sync", "--frozen", repeat=5)
        rows += [("nox -s dev, nothing changed", noop), ("uv sync --frozen, bare", bare)]
        ratios = [("no-op nox -s dev / bare uv sync --frozen", noop / bare)]
        if with_docker:
            cold = nox(project, "-s", "images", "--", "--no-cache")
            noop_images = nox(project, "-s", "images")
            nox(project, "-s", "images", "--", "--release")
            step = next((project / "src").glob("*/steps/training.py"))
            step.write_text(step.read_text() + "\n# a code change\n")
            release = nox(project, "-s", "images", "--", "--release")
            server_cold = nox(project, "-s", "server", "--", "--no-cache")
            server_noop = nox(project, "-s", "server")
            up = nox(project, "-s", "server", "--", "up", "--port", "8297")
            nox(project, "-s", "server", "--", "down")
            remove_server_data(project)
            rows += [
                ("nox -s images, cold (--no-cache)", cold),
                ("nox -s images, nothing changed", noop_images),
                ("nox -s images -- --release, after a code change", release),
                ("nox -s server, cold (--no-cache)", server_cold),
                ("nox -s server, nothing changed", server_noop),
                ("nox -s server -- up, to healthy and connected", up),
            ]
            ratios += [
                ("cold image build / release rebuild after a code change", cold / release),
                ("cold image build / no-op", cold / noop_images),
            ]
    for name, seconds in rows:
        print(f"{seconds:8.2f} s  {name}")
    for name, ratio in ratios:
        print(f"{ratio:8.1f} x  {name}")


if __name__ == "__main__":
    main()
