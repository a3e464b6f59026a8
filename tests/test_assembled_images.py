"""Images assembled from a real lock without running a container: the same inputs give the
same digests from two folders; the image loads into Docker and runs ZenML as user 10001 with
exactly the requirement file's pins; a push uploads only the blobs the registry lacks; with no
engine the parent comes from its registry; arm64 layers are installed on this amd64 host with
no emulation, and both platforms are pushed under one index."""

import marshal
import sys
from pathlib import Path

import pytest
from conftest import (
    PARENT_IMAGE,
    REGISTRY_PASSWORD,
    blob_uploads,
    docker_login,
    inspect_image,
    run,
    unavailable,
    untag,
)
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from zenlock import ZenlockError, engine, enginelayers, ociimage, ociregistry, parents
from zenlock.assemble import Recipe, Share, build_layers

ARM64_PARENT = f"{PARENT_IMAGE}-arm64"
# What a step imports from the small set (images.py's STEP_MODULES and the project's package).
MODULES = (
    "zenml.client",
    "zenml.entrypoints.entrypoint",
    "zenml.entrypoints.step_entrypoint_configuration",
    "zenml.orchestrators.step_launcher",
    "zenml.orchestrators.step_runner",
    "sklearn",
)
SMALL_SET = '[project]\nname = "small"\nversion = "0"\nrequires-python = ">=3.11"\n' + (
    'dependencies = ["zenml==0.98.0", "scikit-learn"]\n'
)


pytestmark = [pytest.mark.docker, pytest.mark.slow]


# --- assembled from a real lock ----------------------------------------------------------


@pytest.fixture(scope="module")
def small_set(tmp_path_factory) -> Path:
    """The hash-pinned requirements `uv export` gives for zenml + scikit-learn."""
    project = tmp_path_factory.mktemp("small-set")
    (project / "pyproject.toml").write_text(SMALL_SET)
    uv = (sys.executable, "-m", "uv")
    run(*uv, "lock", "--quiet", cwd=project)
    exported = run(*uv, "export", "--frozen", "--no-emit-project", "--no-header",
                   "--no-annotate", cwd=project).stdout  # fmt: skip
    (project / "requirements.txt").write_text(exported)
    return project / "requirements.txt"


def pins(requirements: Path, environment: dict[str, str]) -> dict[str, str]:
    """The export's pins whose markers hold in `environment` (the image's, PEP 508)."""
    found = {}
    for line in requirements.read_text().splitlines():
        if line[:1].isalnum():
            requirement = Requirement(line.removesuffix("\\").strip())
            if requirement.marker is None or requirement.marker.evaluate(environment):
                found[canonicalize_name(requirement.name)] = str(requirement.specifier)[2:]
    return found


@pytest.fixture(scope="module")
def engine_client(docker_client):
    return engine.connect()


def assembled(client, requirements: Path, work: Path, platform="linux/amd64", parent=PARENT_IMAGE):
    """The image of `requirements` on `parent`, its layers written under `work`."""
    found = enginelayers.parent_in_engine(client, parent)
    files = parents.files_in_engine(client, parent, found, work.parent / "data-home")
    recipe = Recipe([Share(requirements.read_text(), MODULES)], files, platform=platform,
                    labels={"envtools.kind": "iterate"})  # fmt: skip
    work.mkdir()
    layers = build_layers(recipe, work, compress=True, cache=work / "cache", code="test").layers
    return ociimage.assemble(found, layers, recipe.settings)


@pytest.fixture(scope="module")
def image(engine_client, small_set, tmp_path_factory) -> ociimage.Image:
    return assembled(engine_client, small_set, tmp_path_factory.mktemp("first") / "work")


def test_two_folders_assemble_the_same_image(engine_client, small_set, image, tmp_path):
    again = assembled(engine_client, small_set, tmp_path / "work")
    assert [layer.digest for layer in again.layers] == [layer.digest for layer in image.layers]
    assert again.config == image.config
    assert again.digest == image.digest
    # What a step imports is compiled, named by its path in the image, valid whatever the time.
    (share,) = (tmp_path / "work" / "cache" / "shares").iterdir()
    site = share / "root" / "opt" / "venv" / "lib" / "python3.11" / "site-packages"
    compiled = (site / "zenml" / "__pycache__" / "client.cpython-311.pyc").read_bytes()
    assert int.from_bytes(compiled[4:8], "little") == 0b01  # hash-based, unchecked
    code = marshal.loads(compiled[16:])
    assert code.co_filename == "/opt/venv/lib/python3.11/site-packages/zenml/client.py"
    assert not (site / "zenml" / "cli" / "__pycache__").exists()  # a step does not import it


def test_the_loaded_image_runs_zenml_as_10001_with_exactly_the_pins(
    engine_client, docker_client, small_set, image
):
    tag = "zenlock-test-assembled:small"
    try:
        enginelayers.load(engine_client, image, tag)
        found = inspect_image(docker_client, tag)
        imported = docker_client.containers.run(
            tag, ["python", "-c", "import zenml, sklearn; print(zenml.__version__)"],
            remove=True, network_mode="host",
        )  # fmt: skip
        config = docker_client.images.get(tag).attrs["Config"]
    finally:
        untag(docker_client, tag)
    assert found["uid"] == 10001
    installed = {canonicalize_name(name): v for name, v in found["installed"].items()}
    assert installed == pins(small_set, found["environment"])
    assert imported.decode().strip() == "0.98.0"
    assert (config["User"], config["WorkingDir"]) == ("10001", "/app")
    assert config["Env"][0].startswith("PATH=/opt/venv/bin:")
    assert config["Labels"]["envtools.kind"] == "iterate"


@pytest.fixture(scope="module")
def logged_in(registry):
    """conftest's registry, this module's Docker config logged in to it."""
    address, docker_config = registry
    assert docker_login(address, docker_config, REGISTRY_PASSWORD).returncode == 0
    return address, docker_config


def runs_zenml(docker_client, reference: str, docker_config: Path, tmp_path: Path) -> list[str]:
    """Pull `reference` and run ZenML in it: its user id and ZenML's version."""
    repository = reference.split("@")[0]
    try:
        run("docker", "pull", "-q", reference, cwd=tmp_path, DOCKER_CONFIG=str(docker_config))
        output = docker_client.containers.run(
            reference, ["python", "-c", "import os, zenml; print(os.getuid(), zenml.__version__)"],
            remove=True, network_mode="host",
        )  # fmt: skip
    finally:
        untag(docker_client, repository)
    return output.decode().split()


def test_a_second_push_uploads_no_blob_and_the_pushed_image_pulls_and_runs(
    engine_client, docker_client, image, logged_in, tmp_path, monkeypatch
):
    address, docker_config = logged_in
    monkeypatch.setenv("DOCKER_CONFIG", str(docker_config))
    reference = f"{address}/assembled/small:1"

    def parent_layers(missing):
        return {layer.digest: layer.path for layer in
                enginelayers.saved_layers(engine_client, PARENT_IMAGE, tmp_path)}  # fmt: skip

    first = ociregistry.push(image, reference, parent_layers)
    uploads = blob_uploads(address)
    second = ociregistry.push(image, reference, parent_layers)
    assert len(first.uploaded) == len(image.layers) + 1  # and the config
    assert uploads >= len(first.uploaded)
    assert second.uploaded == []
    assert blob_uploads(address) == uploads
    assert first.digest == second.digest == image.digest
    served = ociregistry.manifest_of(reference)
    assert ociimage.canonical(served) == image.manifest

    pulled = f"{address}/assembled/small@{image.digest}"
    assert runs_zenml(docker_client, pulled, docker_config, tmp_path) == ["10001", "0.98.0"]


def test_with_no_engine_the_parent_comes_from_its_registry_and_gives_the_same_image(
    docker_client, small_set, image, logged_in, tmp_path, monkeypatch
):
    """No Docker engine reachable: the parent's manifest, config and /etc files are read
    from the registry, its layers mounted (not sent again); the image config (its id) is
    the one assembled on the engine's copy of the same parent."""
    address, docker_config = logged_in
    parent = f"{address}/parent/python:3.11"
    env = {"DOCKER_CONFIG": str(docker_config)}
    docker_client.images.get(PARENT_IMAGE).tag(parent)
    try:
        run("docker", "push", "-q", parent, cwd=tmp_path, **env)
    finally:
        untag(docker_client, parent)
    monkeypatch.setenv("DOCKER_CONFIG", str(docker_config))
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-engine.sock")
    found = ociregistry.parent_in_registry(parent, "linux/amd64")
    files = parents.files_in_registry(parent, found, tmp_path / "data-home")
    recipe = Recipe([Share(small_set.read_text(), MODULES)], files,
                    labels={"envtools.kind": "iterate"})  # fmt: skip
    (tmp_path / "work").mkdir()
    work = tmp_path / "work"
    layers = build_layers(recipe, work, compress=True, cache=work / "cache", code="test").layers
    built = ociimage.assemble(found, layers, recipe.settings)
    uploads = blob_uploads(address)
    pushed = ociregistry.push(built, f"{address}/assembled/no-engine:1", mount_from="parent/python")
    assert built.config == image.config
    assert pushed.uploaded == [layer.digest for layer in layers] + [built.config_digest]
    assert blob_uploads(address) == uploads + len(pushed.uploaded)
    monkeypatch.delenv("DOCKER_HOST")
    pulled = f"{address}/assembled/no-engine@{built.digest}"
    assert runs_zenml(docker_client, pulled, docker_config, tmp_path) == ["10001", "0.98.0"]


@pytest.mark.parametrize("login", ["wrong password", "none"])
def test_a_push_without_valid_credentials_is_one_line_that_names_the_login(
    image, logged_in, tmp_path, monkeypatch, login
):
    address, _ = logged_in
    docker_config = tmp_path / "docker-config"
    docker_config.mkdir()
    if login != "none":
        assert docker_login(address, docker_config, "not-the-password").returncode != 0
    monkeypatch.setenv("DOCKER_CONFIG", str(docker_config))
    uploads = blob_uploads(address)
    with pytest.raises(ZenlockError, match=rf"`docker login {address}`") as refused:
        ociregistry.push(image, f"{address}/assembled/refused:1")
    assert "\n" not in str(refused.value)
    assert blob_uploads(address) == uploads


def elf_machine(path: Path) -> int:
    return int.from_bytes(path.read_bytes()[18:20], "little")  # e_machine: 62 x86-64, 183 arm64


def test_arm64_is_assembled_here_without_emulation_and_both_platforms_share_an_index(
    engine_client, docker_client, small_set, image, logged_in, tmp_path, monkeypatch
):
    if not engine_client.image(ARM64_PARENT):
        unavailable(f"needs an arm64 parent, {ARM64_PARENT}")
    address, docker_config = logged_in
    monkeypatch.setenv("DOCKER_CONFIG", str(docker_config))
    arm64 = assembled(engine_client, small_set, tmp_path / "work", "linux/arm64", ARM64_PARENT)
    site = "opt/venv/lib/python3.11/site-packages"
    shares = tmp_path / "work" / "cache" / "shares"
    numpy = next(shares.glob(f"*/root/{site}/numpy/_core/_multiarray_umath.*.so"))
    assert elf_machine(numpy) == 183
    assert b'"architecture":"arm64"' in arm64.config

    def parent_layers(name):
        def provide(missing):
            folder = tmp_path / name.replace("/", "-").replace(":", "-")
            folder.mkdir(exist_ok=True)
            saved = enginelayers.saved_layers(engine_client, name, folder)
            return {layer.digest: layer.path for layer in saved}

        return provide

    images = {"linux/amd64": image, "linux/arm64": arm64}
    for platform, parent in (("linux/amd64", PARENT_IMAGE), ("linux/arm64", ARM64_PARENT)):
        tag = f"{address}/assembled/multi:{platform.split('/')[1]}"
        ociregistry.push(images[platform], tag, parent_layers(parent))
    index = ociimage.index({p: (i.digest, len(i.manifest)) for p, i in images.items()})
    ociregistry.push_index(
        index, [i.digest for i in images.values()], f"{address}/assembled/multi:1"
    )
    served = ociregistry.manifest_of(f"{address}/assembled/multi:1")
    assert {(m["platform"]["architecture"], m["digest"]) for m in served["manifests"]} == {
        ("amd64", image.digest),
        ("arm64", arm64.digest),
    }
