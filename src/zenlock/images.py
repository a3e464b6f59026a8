"""Pipeline images from uv.lock: `nox -s images [-- --release --push --parent-image IMG
--platform linux/amd64,linux/arm64]`.

Pipelines that need the same extra dependency groups share an image. The record
(configs/images.yaml) says which pipeline runs in which image; `run` hands it to ZenML.
"""

import argparse
import hashlib
import json
import posixpath
import shutil
import tempfile
from dataclasses import replace
from pathlib import Path

from . import ZenlockError, discovery, engine, lock, pushes, pylock, referrers, registry, scripts
from .assembler import Assembler, engine_reason
from .imagelayers import layer_files, shares
from .imagespec import Builder, ImageSpec, activated, locked_spec, python_version, tree_contents
from .inputs import image_reference, platforms
from .project import Project
from .settings import PipelineSettings

BUILDERS = ("auto", "assemble", "buildkit")
# zenlock's scripts that install each layer of the venv, in the build context's zenlock/.
INSTALLER = ("install-layer.sh", "precompile.py")


def image_sets(
    settings: PipelineSettings, integrations: list[str]
) -> dict[tuple[str, ...], list[str]]:
    """Pipelines grouped by the dependency groups their image holds: every image has the
    ZenML integrations' groups, a pipeline's own extra groups (pipeline_groups) add to them."""
    sets: dict[tuple[str, ...], list[str]] = {tuple(integrations): ["default"]}
    for pipeline, groups in sorted(settings.pipeline_groups.items()):
        sets.setdefault(tuple(sorted({*integrations, *groups})), []).append(pipeline)
    return sets


def dependencies_spec(
    project: Project,
    settings: PipelineSettings,
    groups: tuple[str, ...],
    platform: str,
    requirements: str,
) -> ImageSpec:
    """`platform`'s parent plus the apt packages of the integrations, the locked [project]
    dependencies and `groups` (`requirements`, their export): the iterate image."""
    selection = lock.selection(project.root, "iterate", groups)
    apt_packages = "".join(
        f"{package}\n" for package in registry.apt_packages_in(project.root, groups)
    )
    installer = {name: scripts.text(name) for name in INSTALLER}
    installer["activation.py"] = registry.ACTIVATION.read_text()

    def add_files(context: Path) -> None:
        (context / "apt-packages.txt").write_text(apt_packages)
        (context / "zenlock").mkdir()
        for name, content in installer.items():
            (context / "zenlock" / name).write_text(content)
        for name, content in layer_files(project, groups, requirements).items():
            (context / "layers" / name).parent.mkdir(parents=True, exist_ok=True)
            (context / "layers" / name).write_text(content)

    return locked_spec(
        project.root,
        "iterate",
        settings.build,
        platform,
        project.dockerfiles / "pipeline.Dockerfile",
        requirements,
        apt_packages,
        *installer.values(),
        sbom=lock.sbom(project.root, selection, cache=project.cache_home),
        add_files=add_files,
    )


def release_spec(
    project: Project, settings: PipelineSettings, dependencies: str, platform: str
) -> ImageSpec:
    """The dependencies image plus the project's data/ and its code, each in a layer of its own."""
    data = discovery.data_files(project.root)  # each the real file: links in data/ become content

    def write_context(context: Path) -> None:
        shutil.copytree(
            project.source, context / "src", ignore=shutil.ignore_patterns("__pycache__", "*.pyc")
        )
        (context / discovery.DATA).mkdir()  # COPY wants it, empty or not
        for name, path in data.items():
            (context / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, context / name)

    return ImageSpec(
        "release",
        settings.build.repository,
        project.dockerfiles / "release.Dockerfile",
        base=dependencies,
        inputs=(
            *tree_contents(project.source),
            *(part for name, path in data.items() for part in (name, file_hash(path))),
        ),
        base_arg="DEPENDENCIES_IMAGE",
        platform=platform,
        write_context=write_context,
    )


def file_hash(path: Path) -> str:
    """A data file's sha256, read in chunks: data/ may be larger than memory."""
    with path.open("rb") as file:
        return hashlib.file_digest(file, "sha256").hexdigest()


def refuse_a_release_without_data(dockerfiles: Path, data: dict[str, Path]) -> None:
    """A release image whose Dockerfile (older than data/) copies no data/ would run steps
    that cannot find their files: stop before building it."""
    dockerfile = dockerfiles / "release.Dockerfile"
    if data and not (dockerfile.is_file() and copies_data(dockerfile.read_text())):
        raise ZenlockError(
            "data/ holds files that docker/release.Dockerfile does not copy: add "
            "`COPY data/ /app/data/` above its `COPY src/ /app/` (as the template's has)."
        )


def copies_data(dockerfile: str) -> bool:
    """Whether a Dockerfile copies the build context's data/ folder: a COPY or ADD, not from
    another stage (`--from=`), with `data` or `data/` among its sources (shell or JSON form),
    to any destination. `COPY metadata.json` or `COPY data/rows.csv` is not it."""
    for line in dockerfile.replace("\\\n", " ").splitlines():  # continued lines joined
        instruction, rest = (line.split(None, 1) + ["", ""])[:2]
        if instruction.upper() not in ("COPY", "ADD"):
            continue
        flags = []
        while rest.startswith("--"):
            flag, rest = (rest.split(None, 1) + [""])[:2]
            flags.append(flag)
        if any(flag.startswith("--from") for flag in flags):
            continue
        try:
            words = json.loads(rest) if rest.startswith("[") else rest.split()
        except ValueError:
            continue
        sources = words[:-1] if isinstance(words, list) else []
        if any(
            isinstance(path, str) and posixpath.normpath(path) == discovery.DATA for path in sources
        ):
            return True
    return False


def release_folders(project: Project, context: Path) -> list[Path]:
    """The release's layers as folders of `context`: /app/data, then the code in /app."""
    data, code = context / "data-layer", context / "code-layer"
    (data / "app" / discovery.DATA).mkdir(parents=True)
    for name, path in discovery.data_files(project.root).items():
        (data / "app" / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, data / "app" / name)
    shutil.copytree(
        project.source, code / "app", ignore=shutil.ignore_patterns("__pycache__", "*.pyc")
    )
    for folder in (data, code):  # a layer's /app replaces the one below: keep it writable
        (folder / "app").chmod(0o1777)
    return [data, code]


def build_images(
    project: Project,
    settings: PipelineSettings,
    *,
    no_cache: bool = False,
    push: bool = False,
    builder_choice: str = "auto",
) -> list[dict]:
    """Build (or find) every pipeline image for each platform, push it if asked, and record it."""
    if settings.mode == "release":  # data/'s links and the Dockerfile, before any build
        refuse_a_release_without_data(project.dockerfiles, discovery.data_files(project.root))
    client = engine.reachable() if builder_choice != "buildkit" else engine.connect()
    if client is None and not push:
        raise ZenlockError(
            f"{engine.UNREACHABLE.format(error='no engine')}\n"
            "Or push the images straight to the registry with no engine: `nox -s images -- --push`."
        )
    builder = Builder(project, settings.build, no_cache=no_cache, client=client)
    with tempfile.TemporaryDirectory(prefix="zenlock-images-") as scratch:
        assembler = Assembler(project, settings.build, client, builder.labels,
                              no_cache=no_cache, push=push, scratch=Path(scratch))  # fmt: skip
        return record_images(project, settings, builder, assembler, push, builder_choice)


def record_images(
    project: Project,
    settings: PipelineSettings,
    builder: Builder,
    assembler: Assembler,
    push: bool,
    builder_choice: str,
) -> list[dict]:
    """Every pipeline image for each platform (see build_images), and the record of them."""
    platforms = builder.platforms()
    print(
        f"Pipeline images ({settings.mode} mode, {', '.join(platforms)}, parent "
        f"{', '.join(dict.fromkeys(map(settings.build.parent_for, platforms)))}):",
        flush=True,
    )
    images = []
    recorded = {
        variant["tag"]: variant
        for image in project.read_record().get("pipelines", {}).get("images", [])
        for variant in [*image.get("platforms", []), image]  # its own record last
    }
    integrations = registry.integration_groups(project.root, "pipelines")
    for groups, pipelines in image_sets(settings, integrations).items():
        variants = [
            build_variant(builder, assembler, settings, groups, platform, recorded, push,
                          builder_choice)
            for platform in platforms
        ]  # fmt: skip
        previous = recorded.get(variants[0]["tag"], {})
        assembled = all([variant.pop("assembled", False) for variant in variants])
        image = builder.combined(
            variants, push, previous, assembler.push_index if assembled else None
        )
        images.append({**image, "groups": list(groups), "pipelines": pipelines})
    registry.save(project.root)
    project.update_record(
        pipelines={
            "mode": settings.mode,
            "network": settings.build.network,
            "lock_sha256": lock.lock_hash(project.lock),
            "images": images,
        }
    )
    return images


def build_variant(
    builder: Builder,
    assembler: Assembler,
    settings: PipelineSettings,
    groups: tuple[str, ...],
    platform: str,
    recorded: dict[str, dict],
    push: bool,
    choice: str,
) -> dict:
    """The image of `groups` for `platform`, built or found, checked and pushed if asked."""
    project = builder.project
    release = settings.mode == "release"
    selection = lock.selection(project.root, "iterate", groups)
    requirements = lock.export(project.root, selection, cache=project.cache_home)
    spec = dependencies_spec(project, settings, groups, platform, requirements)
    reason = engine_reason(project, groups, release, requirements)
    if reason and choice == "assemble":
        raise ZenlockError(
            f"--builder assemble cannot make this image: {reason}. Leave --builder out (the "
            "Docker engine builds it)."
        )
    if choice == "buildkit" or reason:
        if reason:
            print(f"  built by the Docker engine: {reason}", flush=True)
        if builder.client is None:
            raise ZenlockError(
                f"{engine.UNREACHABLE.format(error='none here')}\nIt builds this image because "
                f"{reason}."
            )
        return built_variant(builder, settings, spec, groups, selection, recorded, push)
    with tempfile.TemporaryDirectory(prefix="zenlock-release-") as context:
        on_top = None
        if release:
            on_top = (release_spec(project, settings, "", platform),
                      release_folders(project, Path(context)))  # fmt: skip
        made = assembler.ensure(spec, lambda: shares(project, groups, requirements), on_top)
    image = {"platform": platform, "tag": made.tag, "assembled": True, "python": made.python}
    previous = recorded.get(made.tag, {})
    names = registry.integrations_in(project.root, groups)
    record = {"image_id": made.image_id, "integrations": names}
    failed = [result for result in made.activation or [] if not result["ok"]]
    if failed:
        raise ZenlockError(
            f"Image {made.tag} is assembled, but its integrations do not import there:\n"
            + "\n".join(registry.inactive_message(result) for result in failed)
        )
    local = builder.client is not None and engine.image_id(builder.client, made.tag)
    if made.activation is None and previous.get("activated") != record and local:
        # Not activated by this run (found, or no interpreter of its version here): in it.
        record = activated(project.root, builder.client, made.tag, settings.build.network,
                           groups, None)  # fmt: skip
    # Else activated when it was made: its report is in the image (`check` reads it).
    image["activated"] = record
    digest = made.digest or (previous.get("digest") if previous.get("tag") == made.tag else None)
    if digest:
        image["digest"] = digest
    written = pylock.write_for(project, made.tag, selection, platform, made.python)
    if push:  # scanners find them by the image's digest, with no pull
        referrers.attach_records(made.digest, spec.sbom, written)
    return image


def built_variant(
    builder: Builder,
    settings: PipelineSettings,
    spec: ImageSpec,
    groups: tuple[str, ...],
    selection: list[str],
    recorded: dict[str, dict],
    push: bool,
) -> dict:
    """The image of `spec` (and its release) built by BuildKit, checked and pushed if asked."""
    project = builder.project
    tag = builder.ensure(spec)
    if settings.mode == "release":
        tag = builder.ensure(release_spec(project, settings, tag, spec.platform))
    image = {"platform": spec.platform, "tag": tag}
    # Its integrations activate in it (a step would fail otherwise): once per image id.
    previous = recorded.get(tag, {})
    image["activated"] = activated(
        project.root, builder.client, tag, settings.build.network, groups, previous.get("activated")
    )
    # The image's Python, for its ZenML build (builds.py): read once per image id.
    same = previous.get("activated") == image["activated"] and previous.get("python")
    image["python"] = same or python_version(builder.client, tag)
    # Runs on a stack with a container registry use the digest: what runs cannot change.
    digest = pushes.push(builder.client, tag) if push else pushes.digest_in(builder.client, tag)
    if digest:
        image["digest"] = digest
    if image["python"]:
        written = pylock.write_for(project, tag, selection, spec.platform, image["python"])
        if push:  # scanners find them by the image's digest, with no pull
            referrers.attach_records(digest, spec.sbom, written)
    return image


def main(project: Project, argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="nox -s images --", description=__doc__)
    parser.add_argument("--release", action="store_true", help="bake the code into the images")
    parser.add_argument("--push", action="store_true", help="push to the configured registry")
    parser.add_argument("--parent-image", help="parent image for this build only")
    parser.add_argument("--no-cache", action="store_true", help="rebuild even when up to date")
    parser.add_argument(
        "--platform", help="build for these platforms, e.g. linux/amd64,linux/arm64"
    )
    parser.add_argument(
        "--builder",
        choices=BUILDERS,
        default="auto",
        help="assemble from the lock (no engine needed), or BuildKit; auto: assemble unless "
        "the image needs the engine (your own Dockerfile, apt packages), which it says",
    )
    args = parser.parse_args(argv)
    settings = project.pipeline
    if args.parent_image:
        parent = image_reference(args.parent_image, "--parent-image")
        settings = replace(settings, build=replace(settings.build, parent=parent))
    if args.platform:
        chosen = platforms(args.platform, "--platform")
        settings = replace(settings, build=replace(settings.build, platforms=chosen))
    if args.release:
        settings = replace(settings, mode="release")
    if args.push and not settings.build.registry:
        raise ZenlockError("--push needs a registry: set [tool.zenlock.images] registry.")
    build_images(
        project, settings, no_cache=args.no_cache, push=args.push, builder_choice=args.builder
    )
