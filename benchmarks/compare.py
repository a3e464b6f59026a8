"""zenlock's image and first-run sessions side by side with ZenML's builder and plain pip.

Every comparison builds the same project's same locked pins on the same parent image, one
contender after the other and in alternating order per repetition, so that a busy machine or
a warming cache hurts each alike. See docs/benchmarks.md for what each figure means.
"""

import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
import tomllib
from collections.abc import Callable
from pathlib import Path

import docker
from report import Timings

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from conftest import DOCKER_ANSWERS, PARENT_IMAGE, project_env, render_project  # noqa: E402

HERE = Path(__file__).resolve().parent
# The benchmark's own names, so it removes its images without touching anyone else's.
NAME = "zenlock-bench"
BENCH_PARENT = f"{NAME}-parent:latest"
ZENML_IMAGE = f"{NAME}-zenml"
PIP_IMAGE = f"{NAME}-pip"
LARGER_SET = ["sklearn", "pandas", "polars", "xgboost"]  # polars brings pyarrow
IMPORT = "import zenml.client, sklearn"
EXPORT = [
    "uv", "export", "--frozen", "--format=requirements-txt", "--no-dev",
    "--no-default-groups", "--no-emit-project", "--no-hashes", "--no-header", "--quiet",
]  # fmt: skip

# One parent for all three builders. ZenML's Dockerfile runs `pip install uv` and
# `uv pip install` into the active environment, so the parent needs a venv with pip (ZenML's
# own parent images have one). The proxy CA goes in the parent because ZenML's builder has no
# way to hand a CA to the build only; zenlock's builds get the CA their own way as well.
PARENT_DOCKERFILE = """\
FROM {parent}
COPY ca.crt /etc/ssl/certs/ca-certificates.crt
RUN python3 -m venv /opt/pip
ENV PATH=/opt/pip/bin:$PATH VIRTUAL_ENV=/opt/pip \\
    SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt PIP_CERT=/etc/ssl/certs/ca-certificates.crt
"""
# No `WORKDIR /app` first: ZenML's Dockerfile starts with it, and the classic builder's cache
# would then find pip's layer as the match for ZenML's, so that ZenML's next build misses
# its own cached layers (seen in a smoke run: a no-op slower than a cold build).
PIP_PIPELINE_DOCKERFILE = """\
FROM {parent}
COPY requirements.txt /tmp/requirements.txt
RUN pip install --no-cache-dir -r /tmp/requirements.txt
"""
PIP_SERVER_DOCKERFILE = """\
FROM {parent}
COPY wheels/ /tmp/wheels/
RUN pip install --no-cache-dir {requirements} /tmp/wheels/*.whl
"""


class Bench:
    def __init__(self, folder: Path, repeat: int, timings: Timings) -> None:
        self.folder = folder
        self.repeat = repeat
        self.timings = timings
        self.client = docker.from_env()
        self.env = project_env()
        # ZenML's builder keeps its stack in a store of its own, not in the project's .zenml.
        self.zenml_env = project_env(ZENML_CONFIG_PATH=str(folder / "zenml-builder"))

    # -- helpers -------------------------------------------------------------------------

    def run(self, *command: str | Path, cwd: Path, env: dict | None = None) -> str:
        result = subprocess.run(
            [str(part) for part in command],
            cwd=cwd,
            env=env or self.env,
            capture_output=True,
            text=True,
        )
        if result.returncode != 0:
            raise SystemExit(
                f"`{' '.join(map(str, command))}` failed in {cwd}:\n"
                f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
            )
        return result.stdout

    def nox(self, project: Path, *args: str) -> None:
        self.run(sys.executable, "-m", "nox", *args, cwd=project)

    def render(self, folder: str, slug: str = NAME, **answers) -> Path:
        """A project whose images are `slug`'s and `slug`-server's, on the shared parent."""
        answers = {
            "project_name": slug,
            "project_slug": slug,
            **DOCKER_ANSWERS,
            "pipeline_parent_image": BENCH_PARENT,
            "server_parent_image": BENCH_PARENT,
            **answers,
        }
        return render_project(self.folder / folder, **answers)

    def docker_build(self, context: Path, tag: str, no_cache: bool) -> None:
        """The classic builder through the Engine API, as ZenML's local builder uses it."""
        stream = self.client.api.build(
            path=str(context), tag=tag, nocache=no_cache, rm=True, network_mode="host", decode=True
        )
        for chunk in stream:
            if "error" in chunk:
                raise SystemExit(f"docker build {tag} failed: {chunk['error']}")

    def remove_images(self, repository: str, keep: set[str] = frozenset()) -> None:
        """Remove every tag of `repository` but `keep`; untagged layers below go with them."""
        for image in self.client.images.list(name=repository):
            for tag in image.tags:
                if tag.startswith(f"{repository}:") and tag not in keep:
                    self.client.images.remove(tag, force=True)

    def tags(self, repository: str) -> set[str]:
        return {
            tag
            for image in self.client.images.list(name=repository)
            for tag in image.tags
            if tag.startswith(f"{repository}:")
        }

    def prune_cache_mounts(self) -> None:
        """Empty BuildKit's cache mounts (uv's cache), so that a cold build downloads again.

        Without BuildKit there are none and this does nothing.
        """
        subprocess.run(
            ["docker", "builder", "prune", "--all", "--force", "--filter", "type=exec.cachemount"],
            capture_output=True,
        )

    def rounds(self, contenders: list[tuple[str, Callable[[], None], Callable[[], float]]],
               before: Callable[[int], None] = lambda _: None,
               after: Callable[[int], None] = lambda _: None) -> None:  # fmt: skip
        """`repeat` rounds; each contender prepares (untimed) then measures; order alternates."""
        for index in range(self.repeat):
            before(index)
            order = contenders if index % 2 == 0 else contenders[::-1]
            for figure, prepare, measure in order:
                prepare()
                self.timings.add(figure, measure())
            after(index)

    def wall(self, action: Callable[[], object]) -> Callable[[], float]:
        def measure() -> float:
            start = time.perf_counter()
            action()
            return time.perf_counter() - start

        return measure

    # -- the three builders --------------------------------------------------------------

    def zenml_build(self, project: Path, tag: str, *flags: str) -> float:
        """Seconds of ZenML's build call (see zenml_build.py: import and client start excluded)."""
        output = self.run(
            project / ".venv" / "bin" / "python",
            HERE / "zenml_build.py",
            project,
            BENCH_PARENT,
            f"{ZENML_IMAGE}:{tag}",
            *flags,
            cwd=project,
            env=self.zenml_env,
        )
        line = next(line for line in output.splitlines()[::-1] if "build_seconds" in line)
        return json.loads(line[line.index("{") :])["build_seconds"]

    def zenml(self, figure: str, project: Path, tag: str, *flags: str) -> Callable[[], float]:
        """Measures ZenML's build call; records the whole process too (start, import, build)."""

        def measure() -> float:
            start = time.perf_counter()
            seconds = self.zenml_build(project, tag, *flags)
            self.timings.add(f"{figure} (whole process)", time.perf_counter() - start)
            return seconds

        return measure

    def pip_context(self, project: Path, name: str) -> Path:
        """A pip Dockerfile's context with the same [project] pins as the other two builders."""
        context = self.folder / f"pip-{name}"
        shutil.rmtree(context, ignore_errors=True)
        context.mkdir()
        (context / "requirements.txt").write_text(self.run(*EXPORT, cwd=project))
        (context / "Dockerfile").write_text(PIP_PIPELINE_DOCKERFILE.format(parent=BENCH_PARENT))
        return context

    def cold_builds(self, project: Path, slug: str, label: str) -> tuple[str, str, str]:
        """`nox -s images -- --no-cache`, ZenML's builder and pip, each from nothing."""
        figures = tuple(
            f"{label}, cold: {who}"
            for who in ("nox -s images -- --no-cache", "ZenML builder", "pip Dockerfile")
        )
        context = self.pip_context(project, slug)
        ours, zenml, pip = figures

        def clean_ours() -> None:
            self.remove_images(slug)
            self.prune_cache_mounts()

        build_ours = self.wall(lambda: self.nox(project, "-s", "images", "--", "--no-cache"))
        self.rounds(
            [
                (ours, clean_ours, build_ours),
                (zenml, lambda: self.remove_images(ZENML_IMAGE),
                 self.zenml(zenml, project, slug, "--no-cache")),
                (pip, lambda: self.remove_images(PIP_IMAGE),
                 self.wall(lambda: self.docker_build(context, f"{PIP_IMAGE}:{slug}", True))),
            ]
        )  # fmt: skip
        return figures

    # -- the comparisons -----------------------------------------------------------------

    def setup(self) -> tuple[Path, str]:
        """The shared parent and the default project, synced (untimed)."""
        context = self.folder / "parent"
        context.mkdir()
        ca = os.environ.get("SSL_CERT_FILE")
        if ca:
            shutil.copy(ca, context / "ca.crt")
        else:
            shutil.copy("/etc/ssl/certs/ca-certificates.crt", context / "ca.crt")
        (context / "Dockerfile").write_text(PARENT_DOCKERFILE.format(parent=PARENT_IMAGE))
        self.docker_build(context, BENCH_PARENT, no_cache=False)
        project = self.render("project")
        self.nox(project, "-s", "dev")
        package = next((project / "src").iterdir()).name
        return project, package

    def pipeline_images(self, project: Path) -> None:
        """1, 7, 4, 3: cold, container start + import, no-op, release code change, one package."""
        t = self.timings
        ours, zenml, pip = self.cold_builds(project, NAME, "pipeline image")
        t.group("Pipeline image, cold", ours, zenml, pip)
        t.ratio("cold pipeline image / ZenML builder", ours, zenml, 0.6)
        t.ratio("cold pipeline image / pip Dockerfile", ours, pip)

        # Step container start + import, in the images just built.
        images = {
            "zenlock image": next(tag for tag in self.tags(NAME) if ":iterate-" in tag),
            "ZenML-built image": f"{ZENML_IMAGE}:{NAME}",
            "pip-built image": f"{PIP_IMAGE}:{NAME}",
        }
        start = [
            (f"container start + `{IMPORT}`: {who}", lambda: None,
             self.wall(lambda tag=tag: self.run(
                 "docker", "run", "--rm", "--network", "host", tag, "python", "-c", IMPORT,
                 cwd=project)))
            for who, tag in images.items()
        ]  # fmt: skip
        self.rounds(start)
        t.group("Step container start + import", *(figure for figure, _, _ in start))
        t.ratio("container start + import / ZenML-built image", start[0][0], start[1][0])

        # No-op: nothing changed since each contender's last ordinary (cached) build.
        self.nox(project, "-s", "images")
        self.zenml_build(project, NAME)
        noop_ours, noop_zenml = "no-op: nox -s images", "no-op: ZenML builder"
        self.rounds(
            [
                (noop_ours, lambda: None, self.wall(lambda: self.nox(project, "-s", "images"))),
                (noop_zenml, lambda: None, self.zenml(noop_zenml, project, NAME)),
            ]
        )
        t.group("Nothing changed", noop_ours, noop_zenml)
        t.ratio("no-op / ZenML builder", noop_ours, noop_zenml, 0.1)
        t.ratio("no-op / ZenML, whole process", noop_ours, f"{noop_zenml} (whole process)")

        # Release: code baked in; one edit of a step per round, both rebuild after it.
        self.nox(project, "-s", "images", "--", "--release")
        self.zenml_build(project, "release", "--include-code")
        step = next((project / "src").glob("*/steps/training.py"))
        original = step.read_text()
        release_ours = "release, code change: nox -s images -- --release"
        release_zenml = "release, code change: ZenML builder (code included)"
        self.rounds(
            [
                (release_ours, lambda: None,
                 self.wall(lambda: self.nox(project, "-s", "images", "--", "--release"))),
                (release_zenml, lambda: None,
                 self.zenml(release_zenml, project, "release", "--include-code")),
            ],
            before=lambda index: step.write_text(original + f"\n# code change {index}\n"),
        )  # fmt: skip
        step.write_text(original)
        t.group("Release image after a code change", release_ours, release_zenml)
        t.ratio("release code change / ZenML builder", release_ours, release_zenml, 0.15)
        t.ratio("release code change / ZenML, whole process", release_ours,
                f"{release_zenml} (whole process)")  # fmt: skip

        # One package more in [project].dependencies, locked; reverted after each round.
        pyproject, lock = project / "pyproject.toml", project / "uv.lock"
        saved = pyproject.read_text(), lock.read_bytes()
        self.nox(project, "-s", "images")
        keep = self.tags(NAME)

        def add_package(_: int) -> None:
            pyproject.write_text(
                saved[0].replace("dependencies = [", 'dependencies = [\n    "tqdm",', 1)
            )
            self.nox(project, "-s", "lock")

        def revert(_: int) -> None:
            pyproject.write_text(saved[0])
            lock.write_bytes(saved[1])
            self.remove_images(NAME, keep)
            self.remove_images(ZENML_IMAGE, {f"{ZENML_IMAGE}:{NAME}", f"{ZENML_IMAGE}:release"})

        change_ours = "one package added: nox -s images"
        change_zenml = "one package added: ZenML builder"
        self.rounds(
            [
                (change_ours, lambda: None, self.wall(lambda: self.nox(project, "-s", "images"))),
                (change_zenml, lambda: None, self.zenml(change_zenml, project, "change")),
            ],
            before=add_package,
            after=revert,
        )  # fmt: skip
        t.group("One package added", change_ours, change_zenml)
        t.ratio("one-package change / ZenML builder", change_ours, change_zenml, 0.3)

    def larger_set(self) -> None:
        """2: pandas, polars, pyarrow and xgboost added; the same three cold builds."""
        slug = f"{NAME}-larger"
        project = self.render("larger", slug, ml_integrations=LARGER_SET)
        self.nox(project, "-s", "dev")
        ours, zenml, pip = self.cold_builds(project, slug, "larger dependency set")
        self.timings.group(
            "Pipeline image with pandas, polars, pyarrow, xgboost; cold", ours, zenml, pip
        )
        self.timings.ratio("larger set, cold / ZenML builder", ours, zenml, 0.6)
        self.remove_images(slug)

    def server(self, project: Path) -> None:
        """5: `nox -s server -- --no-cache` vs pip-installed zenml[server] + the plugin wheel."""
        context = self.folder / "pip-server"
        self.run("uv", "build", "--wheel", "--quiet", "--out-dir", context / "wheels",
                 project / "plugins", cwd=project)  # fmt: skip
        groups = tomllib.loads((project / "pyproject.toml").read_text())["dependency-groups"]
        plugin = f"{NAME}-plugins"
        requirements = " ".join(f"'{r}'" for r in groups["server"] if r != plugin)
        (context / "Dockerfile").write_text(
            PIP_SERVER_DOCKERFILE.format(parent=BENCH_PARENT, requirements=requirements)
        )
        ours, pip = "server image, cold: nox -s server -- --no-cache", "server image, cold: pip"

        def clean_ours() -> None:
            self.remove_images(f"{NAME}-server")
            self.prune_cache_mounts()

        build_ours = self.wall(lambda: self.nox(project, "-s", "server", "--", "--no-cache"))
        self.rounds(
            [
                (ours, clean_ours, build_ours),
                (pip, lambda: self.remove_images(PIP_IMAGE),
                 self.wall(lambda: self.docker_build(context, f"{PIP_IMAGE}:server", True))),
            ]
        )  # fmt: skip
        self.timings.group("Server image, cold", ours, pip)
        self.timings.ratio("server image, cold / pip", ours, pip, 0.6)
        self.timings.wall(
            "server: nox -s server, nothing changed", lambda: self.nox(project, "-s", "server")
        )
        self.timings.wall(
            "server: nox -s server -- up, to healthy and connected",
            lambda: self.nox(project, "-s", "server", "--", "up", "--port", "8297"),
        )
        self.nox(project, "-s", "server", "--", "down")
        # `down` keeps the server's data volume on purpose; the benchmark's own is not needed.
        project_id = hashlib.sha256(str(project.resolve()).encode()).hexdigest()[:12]
        for volume in self.client.volumes.list():
            if volume.name.endswith(f"-{project_id}-data"):
                volume.remove(force=True)

    def first_run(self, project: Path, package: str) -> None:
        """6: a fresh copy of the project (lock committed) to its first pipeline run.

        zenlock: `nox -s dev` + `nox -s run`. The pip path: a venv, `pip install -r` of the
        lock's export of the same packages, the same run module. Both with warm download
        caches (pip's is warmed once, untimed, here) and a fresh ZenML store of their own.
        """
        # What `nox -s dev` installs (dev and server groups too: running on the local store
        # needs zenml[local]), minus the project and plugin packages themselves.
        requirements = self.folder / "requirements.txt"
        everything = [*EXPORT[:4], "--no-emit-project", f"--no-emit-package={NAME}-plugins"]
        requirements.write_text(self.run(*everything, "--no-hashes", "--quiet", cwd=project))
        warm = self.folder / "pip-warm-up"
        self.run("python3", "-m", "venv", warm, cwd=self.folder)
        self.run(warm / "bin" / "pip", "install", "--quiet", "-r", requirements, cwd=self.folder)
        shutil.rmtree(warm)

        round_ = [0]  # the current round: each contender renders a copy of its own

        def ours() -> None:
            copy = self.render(f"first-run-zenlock-{round_[0]}")
            shutil.copy(project / "uv.lock", copy / "uv.lock")
            self.nox(copy, "-s", "dev")
            self.nox(copy, "-s", "run")

        def pip_path() -> None:
            copy = self.render(f"first-run-pip-{round_[0]}")
            shutil.copy(requirements, copy / "requirements.txt")
            self.run("python3", "-m", "venv", ".venv", cwd=copy)
            self.run(".venv/bin/pip", "install", "--quiet", "-r", "requirements.txt", cwd=copy)
            env = {**self.env, "PYTHONPATH": "src", "ZENML_CONFIG_PATH": str(copy / ".zenml")}
            self.run(".venv/bin/python", "-m", f"{package}.run", cwd=copy, env=env)

        figure_ours = "zero to first run: render, nox -s dev, nox -s run"
        figure_pip = "zero to first run: render, venv, pip install -r, run"
        self.rounds(
            [
                (figure_ours, lambda: None, self.wall(ours)),
                (figure_pip, lambda: None, self.wall(pip_path)),
            ],
            before=lambda index: round_.__setitem__(0, index),
        )
        self.timings.group("Zero to first pipeline run", figure_ours, figure_pip)
        self.timings.ratio("zero-to-first-run / pip path", figure_ours, figure_pip, 0.35)

    def cleanup(self) -> None:
        for repository in (NAME, f"{NAME}-server", f"{NAME}-larger", ZENML_IMAGE, PIP_IMAGE):
            self.remove_images(repository)
        self.client.images.remove(BENCH_PARENT, force=True)


def compare(folder: Path, repeat: int, timings: Timings) -> None:
    bench = Bench(folder, repeat, timings)
    try:
        project, package = bench.setup()
        bench.pipeline_images(project)
        bench.server(project)
        bench.larger_set()
        bench.first_run(project, package)
    finally:
        bench.cleanup()
