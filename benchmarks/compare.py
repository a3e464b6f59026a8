"""zenlock's image and first-run sessions side by side with ZenML's builder and plain pip.

Every comparison builds the same project's same locked pins on the same parent image, one
contender after the other and in alternating order per repetition, so that a busy machine or
a warming cache hurts each alike. See docs/benchmarks.md for what each figure means.
"""

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
import tomllib
from collections.abc import Callable
from pathlib import Path

import docker
import yaml
from packaging.utils import canonicalize_name
from report import Timings

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from conftest import (  # noqa: E402
    DOCKER_ANSWERS,
    PARENT_IMAGE,
    REGISTRY_BIN,
    background,
    free_port,
    inspect_image,
    locked_pins,
    project_env,
    render_project,
    untag,
)

HERE = Path(__file__).resolve().parent
# The benchmark's own names, so it removes its images without touching anyone else's.
NAME = "zenlock-bench"
BENCH_PARENT = f"{NAME}-parent:latest"
ZENML_IMAGE = f"{NAME}-zenml"
PIP_IMAGE = f"{NAME}-pip"
ARM64_PARENT = os.environ.get("ZENLOCK_ARM64_PARENT_IMAGE", "")
LARGER_SET = ["sklearn", "pandas", "polars", "xgboost"]  # polars brings pyarrow
IMPORT = "import zenml.client, sklearn"
FLOOR = "download + install floor: uv pip install, no cache, no image"
# Small, pure-Python, not in the default lock: one of them per round of "one package added".
ONE_MORE_PACKAGE = ("tqdm", "tabulate", "termcolor", "pyfiglet", "tomli-w")
EXPORT = [
    "uv", "export", "--frozen", "--format=requirements-txt", "--no-emit-project", "--no-hashes",
    "--no-header", "--quiet",
]  # fmt: skip
# What the other builders install besides the selection: their installers.
INSTALLERS = {"pip", "setuptools", "wheel", "uv"}


def image_selection(project: Path) -> list[str]:
    """uv export options of what the project's default pipeline image holds: [project] and the
    groups its record (configs/images.yaml, written by `nox -s images`) names."""
    record = yaml.safe_load((project / "configs" / "images.yaml").read_text())
    default = next(i for i in record["pipelines"]["images"] if "default" in i["pipelines"])
    declared = tomllib.loads((project / "pyproject.toml").read_text()).get("dependency-groups", {})
    tools = ["pipeline-image"] if "pipeline-image" in declared else []  # zenlock's lock.STEP_TOOLS
    return ["--no-default-groups", *(f"--group={group}" for group in [*tools, *default["groups"]])]


def default_tag(project: Path) -> str:
    """The tag of the default pipeline image that `nox -s images` last built or found."""
    record = yaml.safe_load((project / "configs" / "images.yaml").read_text())
    return next(i for i in record["pipelines"]["images"] if "default" in i["pipelines"])["tag"]


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
COPY requirements.txt /tmp/requirements.txt
COPY wheels/ /tmp/wheels/
RUN pip install --no-cache-dir -r /tmp/requirements.txt /tmp/wheels/*.whl
"""


REGISTRY_CONFIG = """\
version: 0.1
log: {{level: info}}
storage: {{filesystem: {{rootdirectory: {storage}/data}}}}
http: {{addr: {address}}}
"""


def blob_uploads(log: Path) -> int:
    """Blob uploads the registry completed (PUT …/blobs/uploads/…: 201), from its log."""
    return len(re.findall(r'"PUT /v2/\S+/blobs/uploads/\S+ HTTP/1.1" 201', log.read_text()))


class Bench:
    def __init__(self, folder: Path, repeat: int, timings: Timings, compared_only: bool) -> None:
        self.folder = folder
        self.repeat = repeat
        self.timings = timings
        # Only the side-by-side comparisons whose images are checked alike (what the suite
        # runs): no floor, arm64, container start, second machine or server start figures.
        self.everything = not compared_only
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

    def nox(self, project: Path, *args: str, **env: str) -> str:
        return self.run(sys.executable, "-m", "nox", *args, cwd=project,
                        env={**self.env, **env} if env else None)  # fmt: skip

    def empty_caches(self, name: str) -> dict[str, str]:
        """uv's cache and zenlock's data home, new and empty: nothing downloaded or read."""
        folder = self.folder / "caches" / name
        shutil.rmtree(folder, ignore_errors=True)
        return {"UV_CACHE_DIR": str(folder / "uv"), "XDG_DATA_HOME": str(folder / "data")}

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

    def same_set(self, figure: str, tag: str, project: Path, selection: list[str] | None = None,
                 extra: dict | None = None) -> None:  # fmt: skip
        """Prove `tag` holds exactly what `selection` (default: the project's default pipeline
        image's) takes from the lock, plus `extra` (name -> version), and the other builders'
        installers: a figure whose image differs is an error, not a number."""
        found = inspect_image(self.client, tag)
        selection = selection or image_selection(project)
        expected = {**locked_pins(project, found["environment"], *selection), **(extra or {})}
        installed = {canonicalize_name(n): v for n, v in found["installed"].items()}
        installed = {n: v for n, v in installed.items() if n in expected or n not in INSTALLERS}
        if installed != expected:
            differ = sorted(
                f"{name}: {installed.get(name, '-')} instead of {expected.get(name, '-')}"
                for name in installed.keys() | expected.keys()
                if installed.get(name) != expected.get(name)
            )
            raise SystemExit(f"{figure}: {tag} does not hold the selection: {', '.join(differ)}")
        self.timings.same_set(figure)

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

    def checked(self, figure: str, tag: Callable[[], str], project: Path,
                measure: Callable[[], float], **same_set) -> Callable[[], float]:  # fmt: skip
        """`measure`, then (untimed) the same-set check of the image it built."""

        def run() -> float:
            seconds = measure()
            self.same_set(figure, tag(), project, **same_set)
            return seconds

        return run

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
            *(
                f"--group={option.split('=', 1)[1]}"
                for option in image_selection(project)
                if option.startswith("--group=")
            ),
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
        requirements = self.run(*EXPORT, *image_selection(project), cwd=project)
        (context / "requirements.txt").write_text(requirements)
        (context / "Dockerfile").write_text(PIP_PIPELINE_DOCKERFILE.format(parent=BENCH_PARENT))
        return context

    def floor(self, context: Path) -> None:
        """The download and install alone: uv, no cache, into a fresh venv on this host (the
        image's Python and platform), no bytecode, no image."""
        target = self.folder / "floor-venv"
        shutil.rmtree(target, ignore_errors=True)
        self.run("uv", "venv", "--quiet", "--python", "3.11", target, cwd=context)
        python = target / "bin" / "python"
        self.run("uv", "pip", "install", "--quiet", "--no-cache", "--no-deps", "--python", python,
                 "-r", context / "requirements.txt", cwd=context)  # fmt: skip
        shutil.rmtree(target)

    def cold_builds(self, project: Path, slug: str, label: str) -> tuple[str, ...]:
        """`nox -s images -- --no-cache` assembled and with BuildKit, ZenML's builder and pip,
        each from nothing: no image, no uv cache (BuildKit's cache mounts emptied)."""
        figures = tuple(
            f"{label}, cold: {who}"
            for who in ("nox -s images -- --no-cache", "ZenML builder", "pip Dockerfile",
                        "nox -s images -- --no-cache --builder buildkit")
        )  # fmt: skip
        context = self.pip_context(project, slug)
        ours, zenml, pip, buildkit = figures
        floor = FLOOR if label == "pipeline image" else f"{label}, {FLOOR}"

        def clean_ours() -> None:
            self.remove_images(slug)
            self.prune_cache_mounts()

        build_ours = self.wall(
            lambda: self.nox(
                project, "-s", "images", "--", "--no-cache", **self.empty_caches("cold")
            )
        )
        build_buildkit = self.wall(
            lambda: self.nox(project, "-s", "images", "--", "--no-cache", "--builder", "buildkit")
        )
        build_pip = self.wall(lambda: self.docker_build(context, f"{PIP_IMAGE}:{slug}", True))
        self.rounds(
            [
                (ours, clean_ours,
                 self.checked(ours, lambda: default_tag(project), project, build_ours)),
                (buildkit, clean_ours,
                 self.checked(buildkit, lambda: default_tag(project), project, build_buildkit)),
                (zenml, lambda: self.remove_images(ZENML_IMAGE),
                 self.checked(zenml, lambda: f"{ZENML_IMAGE}:{slug}", project,
                              self.zenml(zenml, project, slug, "--no-cache"))),
                (pip, lambda: self.remove_images(PIP_IMAGE),
                 self.checked(pip, lambda: f"{PIP_IMAGE}:{slug}", project, build_pip)),
                *([(floor, lambda: None, self.wall(lambda: self.floor(context)))]
                  if self.everything else []),
            ]
        )  # fmt: skip
        self.nox(project, "-s", "images")  # the assembled image again, for what follows
        return figures

    def first_image(self, project: Path, cold_zenml: str) -> None:
        """A developer's first image: uv's cache on this machine warm (from `nox -s dev`),
        nothing in the engine."""
        figure = "first image (host uv cache warm, engine empty): nox -s images"
        build = self.wall(lambda: self.nox(project, "-s", "images"))
        checked = self.checked(figure, lambda: default_tag(project), project, build)
        self.rounds([(figure, lambda: self.remove_images(NAME), checked)])
        self.timings.group("A developer's first image", figure, f"{cold_zenml} (whole process)")
        self.timings.ratio("first image / ZenML cold, whole process", figure,
                           f"{cold_zenml} (whole process)", 0.35)  # fmt: skip

    def pushed(self, project: Path) -> None:
        """To a registry, cold, with no engine: the parent read from the registry, layers
        assembled and pushed (each round to a repository of its own: the registry holds none
        of its blobs), against ZenML's build and push; then a second machine (another folder,
        empty caches) pushing the unchanged lock."""
        if not REGISTRY_BIN:
            print("pushed: skipped (needs the CNCF registry, docker-registry)")
            return
        address = f"127.0.0.1:{free_port()}"
        storage = self.folder / "registry"
        storage.mkdir()
        (storage / "config.yml").write_text(REGISTRY_CONFIG.format(storage=storage,
                                                                   address=address))  # fmt: skip
        with (
            (storage / "log").open("wb") as log,
            background(REGISTRY_BIN, "serve", storage / "config.yml", log=log),
        ):
            time.sleep(1)
            parent = f"{address}/base/parent:bench"
            self.client.images.get(BENCH_PARENT).tag(parent)
            self.run("docker", "push", "-q", parent, cwd=self.folder)
            self.client.images.remove(parent)
            pyproject = project / "pyproject.toml"
            saved = pyproject.read_text()
            no_engine = {"DOCKER_HOST": f"unix://{self.folder}/no-engine.sock"}
            ours = "pushed to a registry, cold, no engine: nox -s images -- --push --no-cache"
            zenml = "pushed to a registry, cold: ZenML builder (build + push)"
            repository = [""]

            def to_repository(index: int) -> None:
                repository[0] = f"{address}/round-{index}"
                pyproject.write_text(saved.replace(f'parent = "{BENCH_PARENT}"',
                                                   f'parent = "{parent}"', 1).replace(
                    'registry = ""', f'registry = "{repository[0]}"', 1))  # fmt: skip

            def push_ours() -> None:
                self.nox(project, "-s", "images", "--", "--push", "--no-cache",
                         **no_engine, **self.empty_caches("pushed"))  # fmt: skip

            def pulled() -> str:
                digest = yaml.safe_load((project / "configs" / "images.yaml").read_text())[
                    "pipelines"]["images"][0]["digest"]  # fmt: skip
                self.run("docker", "pull", "-q", digest, cwd=self.folder)
                return digest

            def push_zenml() -> float:
                return self.zenml_build(project, "pushed", "--no-cache", "--registry",
                                        f"{repository[0]}-zenml")  # fmt: skip

            try:
                self.rounds(
                    [
                        (ours, lambda: None,
                         self.checked(ours, pulled, project, self.wall(push_ours))),
                        (zenml, lambda: self.remove_images(f"{repository[0]}-zenml/{ZENML_IMAGE}"),
                         self.checked(zenml, lambda: f"{repository[0]}-zenml/{ZENML_IMAGE}:pushed",
                                      project, push_zenml)),
                    ],
                    before=to_repository,
                )  # fmt: skip
                if self.everything:
                    self.second_machine(project, storage, no_engine)
            finally:
                pyproject.write_text(saved)
                self.nox(project, "-s", "images")  # the record of the local image again
                untag(self.client, f"{address}/")  # its registry's tags and pulled digests
        self.timings.group("Pushed to a registry, cold (no cache anywhere)", ours, zenml)
        self.timings.ratio("pushed cold, no engine / ZenML build + push", ours, zenml, 0.6)

    def second_machine(self, project: Path, storage: Path, no_engine: dict[str, str]) -> None:
        """Another folder with empty caches pushing the unchanged lock: no blob uploaded."""
        again = "second machine, lock unchanged: nox -s images -- --push"
        # Its own uv cache, which its `nox -s dev` fills; zenlock's caches empty.
        other = self.render("second-machine")
        shutil.copy(project / "uv.lock", other / "uv.lock")
        # The pyproject names the registry the last round pushed to.
        shutil.copy(project / "pyproject.toml", other / "pyproject.toml")
        second = self.empty_caches("second")
        self.nox(other, "-s", "dev", UV_CACHE_DIR=second["UV_CACHE_DIR"])
        uploads = blob_uploads(storage / "log")
        self.rounds([(again, lambda: None, self.wall(lambda: self.nox(
            other, "-s", "images", "--", "--push", **no_engine, **second,
            XDG_CACHE_HOME=second["XDG_DATA_HOME"] + "-cache")))])  # fmt: skip
        if blob_uploads(storage / "log") != uploads:
            raise SystemExit(f"{again}: blobs were uploaded")
        self.timings.group("A second machine, the lock unchanged (no blob uploaded)", again)

    def arm64(self, project: Path, amd64: str) -> None:
        """The same image for linux/arm64 on this amd64 machine, cold, assembled with no
        emulation, against amd64's."""
        if not ARM64_PARENT or not self.client.images.list(name=ARM64_PARENT):
            print("arm64: skipped (set ZENLOCK_ARM64_PARENT_IMAGE to an arm64 parent)")
            return
        pyproject = project / "pyproject.toml"
        saved = pyproject.read_text()
        table = f'[tool.zenlock.images.parents]\n"linux/arm64" = "{ARM64_PARENT}"\n\n'
        anchor = "[tool.zenlock.images.pipeline_groups]"
        pyproject.write_text(saved.replace(anchor, table + anchor))
        figure = "pipeline image arm64, cold: nox -s images -- --no-cache --platform linux/arm64"
        build = self.wall(lambda: self.nox(project, "-s", "images", "--", "--no-cache",
                                           "--platform", "linux/arm64",
                                           **self.empty_caches("arm64")))  # fmt: skip
        try:
            self.rounds([(figure, lambda: self.remove_images(NAME), build)])
        finally:
            pyproject.write_text(saved)
            self.nox(project, "-s", "images")
        self.timings.group("arm64 on this amd64 machine, cold, no emulation", figure, amd64)
        self.timings.ratio("arm64 cold / amd64 cold", figure, amd64, 1.3)

    def container_start(self, project: Path) -> None:
        """A step container's start and import, in each builder's image just built."""
        images = {
            "zenlock image": default_tag(project),
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
        self.timings.group("Step container start + import", *(figure for figure, _, _ in start))
        self.timings.ratio(
            "container start + import / ZenML-built image", start[0][0], start[1][0], 0.5
        )

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
        self.nox(project, "-s", "images")  # its record names what the image selects
        package = next((project / "src").iterdir()).name
        return project, package

    def pipeline_images(self, project: Path) -> None:
        """1, 7, 4, 3: cold, container start + import, no-op, release code change, one package."""
        t = self.timings
        ours, zenml, pip, buildkit = self.cold_builds(project, NAME, "pipeline image")
        t.group("Pipeline image, cold", ours, buildkit, zenml, pip, FLOOR)
        t.ratio("cold pipeline image, no cache anywhere / ZenML builder", ours, zenml, 1.0)
        t.ratio("cold pipeline image / download + install floor", ours, FLOOR, 1.3)
        t.ratio("cold pipeline image, BuildKit / ZenML builder", buildkit, zenml)
        t.ratio("cold pipeline image / pip Dockerfile", ours, pip)
        t.ratio("download + install floor / ZenML builder", FLOOR, zenml)
        self.first_image(project, zenml)
        if self.everything:
            self.arm64(project, ours)
        self.pushed(project)
        if self.everything:
            self.container_start(project)

        # No-op: nothing changed since each contender's last ordinary (cached) build.
        self.nox(project, "-s", "images")
        self.zenml_build(project, NAME)
        noop_ours, noop_zenml = "no-op: nox -s images", "no-op: ZenML builder"
        noop = self.wall(lambda: self.nox(project, "-s", "images"))
        self.rounds(
            [
                (noop_ours, lambda: None,
                 self.checked(noop_ours, lambda: default_tag(project), project, noop)),
                (noop_zenml, lambda: None,
                 self.checked(noop_zenml, lambda: f"{ZENML_IMAGE}:{NAME}", project,
                              self.zenml(noop_zenml, project, NAME))),
                ("nox -l", lambda: None, self.wall(lambda: self.nox(project, "-l"))),
            ]
        )  # fmt: skip
        t.group("Nothing changed", noop_ours, noop_zenml, "nox -l")
        t.ratio("no-op / ZenML, whole process", noop_ours, f"{noop_zenml} (whole process)", 0.1)
        t.ratio("no-op / ZenML builder call", noop_ours, noop_zenml)
        t.ratio("no-op nox -s images / nox -l", noop_ours, "nox -l", 1.5)

        # Release: code baked in; one edit of a step per round, both rebuild after it.
        self.nox(project, "-s", "images", "--", "--release")
        self.zenml_build(project, "release", "--include-code")
        step = next((project / "src").glob("*/steps/training.py"))
        original = step.read_text()
        release_ours = "release, code change: nox -s images -- --release"
        release_zenml = "release, code change: ZenML builder (code included)"
        release = self.wall(lambda: self.nox(project, "-s", "images", "--", "--release"))
        replaced = []  # ZenML's earlier release images: each rebuild leaves one untagged

        def change_code(index: int) -> None:
            replaced.append(self.client.images.get(f"{ZENML_IMAGE}:release").id)
            step.write_text(original + f"\n# code change {index}\n")

        self.rounds(
            [
                (release_ours, lambda: None,
                 self.checked(release_ours, lambda: default_tag(project), project, release)),
                (release_zenml, lambda: None,
                 self.checked(release_zenml, lambda: f"{ZENML_IMAGE}:release", project,
                              self.zenml(release_zenml, project, "release", "--include-code"))),
            ],
            before=change_code,
        )  # fmt: skip
        step.write_text(original)
        for image_id in replaced:
            if not self.client.images.get(image_id).tags:
                self.client.images.remove(image_id, force=True)
        t.group("Release image after a code change", release_ours, release_zenml)
        t.ratio("release code change / ZenML, whole process", release_ours,
                f"{release_zenml} (whole process)", 0.15)  # fmt: skip
        t.ratio("release code change / ZenML builder call", release_ours, release_zenml)

        self.one_package_added(project, NAME, "one package added", 0.2)

    def one_package_added(self, project: Path, slug: str, label: str, target: float) -> None:
        """One package more in [project].dependencies, locked, then each builder's ordinary
        (cached) build; reverted after each round."""
        pyproject, lock = project / "pyproject.toml", project / "uv.lock"
        saved = pyproject.read_text(), lock.read_bytes()
        self.nox(project, "-s", "images")
        self.zenml_build(project, slug)  # ZenML's cache holds the unchanged image's layers
        keep, keep_zenml = self.tags(slug), self.tags(ZENML_IMAGE)

        def add_package(round_: int) -> None:
            # Another package each round: BuildKit's build cache would replay an earlier one.
            package = ONE_MORE_PACKAGE[round_ % len(ONE_MORE_PACKAGE)]
            pyproject.write_text(
                saved[0].replace("dependencies = [", f'dependencies = [\n    "{package}",', 1)
            )
            self.nox(project, "-s", "lock")

        def revert(_: int) -> None:
            pyproject.write_text(saved[0])
            lock.write_bytes(saved[1])
            self.remove_images(slug, keep)
            self.remove_images(ZENML_IMAGE, keep_zenml)

        ours, zenml = f"{label}: nox -s images", f"{label}: ZenML builder"
        build_ours = self.wall(lambda: self.nox(project, "-s", "images"))
        self.rounds(
            [
                (ours, lambda: None,
                 self.checked(ours, lambda: default_tag(project), project, build_ours)),
                (zenml, lambda: None,
                 self.checked(zenml, lambda: f"{ZENML_IMAGE}:{slug}-change", project,
                              self.zenml(zenml, project, f"{slug}-change"))),
            ],
            before=add_package,
            after=revert,
        )  # fmt: skip
        self.timings.group(label.capitalize(), ours, zenml)
        self.timings.ratio(f"{label} / ZenML builder call", ours, zenml, target)
        self.timings.ratio(f"{label} / ZenML, whole process", ours, f"{zenml} (whole process)")

    def larger_set(self) -> None:
        """2: pandas, polars, pyarrow and xgboost added; the same three cold builds."""
        slug = f"{NAME}-larger"
        project = self.render("larger", slug, ml_integrations=LARGER_SET)
        self.nox(project, "-s", "dev")
        self.nox(project, "-s", "images")
        ours, zenml, pip, buildkit = self.cold_builds(project, slug, "larger dependency set")
        floor = f"larger dependency set, {FLOOR}"
        self.timings.group(
            "Pipeline image with pandas, polars, pyarrow, xgboost; cold", ours, buildkit, zenml,
            pip, floor,
        )  # fmt: skip
        self.timings.ratio("larger set, cold / ZenML builder", ours, zenml, 1.0)
        self.timings.ratio("larger set, cold / download + install floor", ours, floor, 1.3)
        self.one_package_added(project, slug, "larger set, one package added", 0.3)
        self.remove_images(slug)

    def server(self, project: Path) -> None:
        """5: `nox -s server -- --no-cache` vs pip-installed zenml[server] + the plugin wheel."""
        context = self.folder / "pip-server"
        self.run("uv", "build", "--wheel", "--quiet", "--out-dir", context / "wheels",
                 project / "plugins", cwd=project)  # fmt: skip
        # The server image's selection (its record names the groups), the plugin as a wheel.
        self.nox(project, "-s", "server")
        record = yaml.safe_load((project / "configs" / "images.yaml").read_text())["server"]
        plugin = f"{NAME}-plugins"
        selection = [*(f"--only-group={group}" for group in record["groups"]),
                     f"--no-emit-package={plugin}"]  # fmt: skip
        (context / "requirements.txt").write_text(self.run(*EXPORT, *selection, cwd=project))
        (context / "Dockerfile").write_text(PIP_SERVER_DOCKERFILE.format(parent=BENCH_PARENT))
        plugin_version = tomllib.loads((project / "plugins" / "pyproject.toml").read_text())
        same_set = {"selection": selection,
                    "extra": {plugin: plugin_version["project"]["version"]}}  # fmt: skip
        ours, pip = "server image, cold: nox -s server -- --no-cache", "server image, cold: pip"

        def server_tag() -> str:
            images = yaml.safe_load((project / "configs" / "images.yaml").read_text())
            return images["server"]["tag"]

        def clean_ours() -> None:
            self.remove_images(f"{NAME}-server")
            self.prune_cache_mounts()

        build_ours = self.wall(lambda: self.nox(project, "-s", "server", "--", "--no-cache"))
        build_pip = self.wall(lambda: self.docker_build(context, f"{PIP_IMAGE}:server", True))
        self.rounds(
            [
                (ours, clean_ours,
                 self.checked(ours, server_tag, project, build_ours, **same_set)),
                (pip, lambda: self.remove_images(PIP_IMAGE),
                 self.checked(pip, lambda: f"{PIP_IMAGE}:server", project, build_pip, **same_set)),
            ]
        )  # fmt: skip
        self.timings.group("Server image, cold", ours, pip)
        self.timings.ratio("server image, cold / pip", ours, pip, 0.6)
        if not self.everything:
            return
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
        # needs zenml[local]), minus the project and its plugins; zenlock (the run module
        # imports it) as a wheel built here, untimed: pip cannot build it from its path.
        requirements = self.folder / "requirements.txt"
        everything = [*EXPORT[:4], "--no-emit-project", f"--no-emit-package={NAME}-plugins",
                      "--no-emit-package=zenlock"]  # fmt: skip
        wheels = self.folder / "zenlock-wheel"
        self.run("uv", "build", "--wheel", "--quiet", "--out-dir", wheels, HERE.parent, cwd=HERE)
        (wheel,) = wheels.glob("*.whl")
        export = self.run(*everything, "--no-hashes", "--quiet", cwd=project)
        requirements.write_text(f"{export}{wheel}\n")
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


def compare(folder: Path, repeat: int, timings: Timings, larger_set: bool = True,
            compared_only: bool = False) -> None:  # fmt: skip
    bench = Bench(folder, repeat, timings, compared_only)
    try:
        project, package = bench.setup()
        bench.pipeline_images(project)
        bench.server(project)
        if larger_set:
            bench.larger_set()
        if bench.everything:
            bench.first_run(project, package)
    finally:
        bench.cleanup()
