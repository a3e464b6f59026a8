"""The benchmark's comparisons in their quick form (one run per figure): they finish, and every
image they time holds the very package set of the others. The numbers are printed, none
asserted. Left out (`--compared-only`), as they time no image against another's: the venv and
no-op sessions against `nox -l`, the first run, the download floor, arm64 against amd64, a
step container's start, a second machine's push and the server's start (each of those paths
is tested as users type it); and the larger dependency set (the same functions on more
packages; its integrations are built and checked by test_integrations). `nox -s bench` runs
them all."""

import json
import sys

import pytest
from conftest import REPO, run

# The longest test: among the first to run, so that no worker waits for it at the end.
pytestmark = [pytest.mark.docker, pytest.mark.slow, pytest.mark.early]

# The comparisons of docs/benchmarks.md: each must be measured on images checked alike.
COMPARED = (
    "pipeline image, cold: nox -s images -- --no-cache",
    "pipeline image, cold: ZenML builder",
    "pipeline image, cold: pip Dockerfile",
    "pipeline image, cold: nox -s images -- --no-cache --builder buildkit",
    "first image (host uv cache warm, engine empty): nox -s images",
    "pushed to a registry, cold, no engine: nox -s images -- --push --no-cache",
    "pushed to a registry, cold: ZenML builder (build + push)",
    "no-op: nox -s images",
    "no-op: ZenML builder",
    "release, code change: nox -s images -- --release",
    "release, code change: ZenML builder (code included)",
    "one package added: nox -s images",
    "one package added: ZenML builder",
    "server image, cold: nox -s server -- --no-cache",
    "server image, cold: pip",
)


def test_the_quick_benchmark_compares_the_same_package_sets(tmp_path):
    bench = REPO / "benchmarks" / "sessions.py"
    run(sys.executable, bench, "docker", "--quick", "--no-larger-set", "--compared-only",
        "--output", tmp_path, cwd=REPO)  # fmt: skip
    summary = json.loads((tmp_path / "bench.json").read_text())
    figures = summary["figures"]
    assert {figure for figure in COMPARED if figures[figure].get("same_set")} == set(COMPARED)
    assert all(ratio["ratio"] > 0 for ratio in summary["ratios"])
    targets = {ratio["name"] for ratio in summary["ratios"] if ratio["target"]}
    assert len(targets) >= 7, targets
    assert (tmp_path / "bench.md").read_text().count("✓ checked") >= len(COMPARED)
