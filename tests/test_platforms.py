"""Images for amd64 and arm64 from one lock, the arm64 one built and run under emulation
(qemu-user-static, registered with the F flag): one image per platform, each from its own
parent with that platform's wheels and uv, pushed with a manifest list; `check` per platform."""

import base64
import contextlib
import json
import os
import urllib.request
from pathlib import Path

import pytest
import yaml
from conftest import (
    DOCKER_ANSWERS,
    REGISTRY_PASSWORD,
    docker_login,
    nox,
    render_project,
    unavailable,
    untag,
)

pytestmark = [pytest.mark.docker, pytest.mark.slow]

# An arm64 parent (CI builds one with `.ci/parent-image bookworm TAG arm64`).
ARM64_PARENT = os.environ.get("ZENLOCK_ARM64_PARENT_IMAGE", "")
BINFMT = Path("/proc/sys/fs/binfmt_misc/qemu-aarch64")
ELF_MACHINES = {62: "x86_64", 183: "aarch64"}  # e_machine, at byte 18 of an ELF header


def elf_machine(path: Path) -> str:
    header = path.read_bytes()[:20]
    assert header[:4] == b"\x7fELF"
    return ELF_MACHINES.get(int.from_bytes(header[18:20], "little"), "other")


@contextlib.contextmanager
def emulation_off():
    """qemu-aarch64 unregistered for the block (this module alone runs arm64 programs)."""
    try:
        BINFMT.write_text("0")
    except OSError:
        pytest.skip("switching emulation off needs root (binfmt_misc)")
    try:
        yield
    finally:
        BINFMT.write_text("1")


def give_arm64_parent(pyproject: Path, section: str, before: str) -> None:
    """[tool.zenlock.SECTION.parents] with the arm64 parent, written before the table `before`."""
    table = f'[tool.zenlock.{section}.parents]\n"linux/arm64" = "{ARM64_PARENT}"\n\n'
    pyproject.write_text(pyproject.read_text().replace(before, table + before, 1))


def manifest(address: str, repository: str, reference: str) -> dict:
    """What the registry serves for `reference`, a manifest list if it is one."""
    request = urllib.request.Request(
        f"http://{address}/v2/{repository}/manifests/{reference}",
        headers={
            "Accept": "application/vnd.docker.distribution.manifest.list.v2+json, "
            "application/vnd.oci.image.index.v1+json",
            "Authorization": "Basic "
            + base64.b64encode(f"ci:{REGISTRY_PASSWORD}".encode()).decode(),
        },
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)


@pytest.fixture(scope="module")
def emulation():
    if not ARM64_PARENT:
        unavailable("needs an arm64 parent: set ZENLOCK_ARM64_PARENT_IMAGE (see .ci/provision)")
    if not BINFMT.is_file() or "F" not in BINFMT.read_text().split("flags:")[1].split()[0]:
        unavailable("needs qemu-aarch64 registered with the F flag: run .ci/emulation aarch64")


def test_amd64_and_arm64_images_from_one_lock(emulation, registry, tmp_path, docker_client):
    address, docker_config = registry
    auth = {"DOCKER_CONFIG": str(docker_config)}
    project = render_project(
        tmp_path / "my projé", **DOCKER_ANSWERS, container_registry=f"{address}/multi"
    )
    repository = f"{address}/multi/zenml-project"
    nox("-s", "dev", cwd=project)
    record_file = project / "configs" / "images.yaml"
    both = ["--platform", "linux/amd64,linux/arm64"]
    try:
        # One parent for both: it is amd64, so arm64 is refused before anything is built.
        refused = nox("-s", "images", "--", *both, cwd=project, check=False, **auth)
        said = (refused.stdout + refused.stderr).strip().splitlines()
        assert refused.returncode != 0
        message = next(line for line in said if "not linux/arm64" in line)
        assert "[tool.zenlock.images.parents]" in message and "Traceback" not in refused.stderr
        assert not record_file.exists()
        assert not [image for image in docker_client.images.list(repository)]

        pyproject = project / "pyproject.toml"
        give_arm64_parent(pyproject, "images", before="[tool.zenlock.images.pipeline_groups]")
        assert docker_login(address, docker_config, REGISTRY_PASSWORD).returncode == 0
        # Assembled with emulation switched off: no arm64 program runs to build it.
        with emulation_off():
            built = nox("-s", "images", "--", *both, "--release", "--push", cwd=project, **auth)
        built = built.stdout
        # Each platform's dependencies image, then its release image on it.
        assert built.count("assembling") == 4 and "built by the Docker engine" not in built
        (image,) = yaml.safe_load(record_file.read_text())["pipelines"]["images"]
        variants = {variant["platform"]: variant for variant in image["platforms"]}
        assert sorted(variants) == ["linux/amd64", "linux/arm64"]
        amd64, arm64 = variants["linux/amd64"], variants["linux/arm64"]
        assert image["tag"] == amd64["tag"] != arm64["tag"]  # this engine runs amd64
        assert f"pushed as {image['digest']} (2 platforms)" in built

        # The registry's manifest list names each platform's pushed image by its digest.
        listed = manifest(address, "multi/zenml-project", image["digest"].split("@")[1])
        assert {
            f"{entry['platform']['os']}/{entry['platform']['architecture']}": entry["digest"]
            for entry in listed["manifests"]
        } == {platform: v["digest"].split("@")[1] for platform, v in variants.items()}

        # The arm64 image runs (emulated): an aarch64 Python that imports ZenML and the
        # project's packages, with the wheels of its platform.
        program = (
            "import platform, zenml, zenml_project, sklearn.utils._openmp_helpers as native;"
            "print(platform.machine(), zenml.__version__, native.__file__)"
        )
        for platform, machine in (("linux/arm64", "aarch64"), ("linux/amd64", "x86_64")):
            output = docker_client.containers.run(
                variants[platform]["tag"],
                ["python", "-c", program],
                remove=True,
                network_mode="host",
                environment={"ZENML_CONFIG_PATH": "/tmp/zenml"},
            ).decode()
            assert output.split()[0] == machine
            assert machine in output.split()[2]  # a compiled module of that platform's wheel

        # check reads each platform's image with its own python: both equal the lock there.
        checked = nox("-s", "check", "--", "--only", "images", cwd=project)
        for platform, variant in variants.items():
            assert f"ok  image {variant['tag']} ({platform})" in checked.stdout

        # Again: nothing to build, nothing to push.
        again = nox("-s", "images", "--", *both, "--release", "--push", cwd=project, **auth).stdout
        assert "assembling" not in again and again.count("already in the registry") == 3

        # The server's image too, from its own parents table (its parent is its own).
        give_arm64_parent(pyproject, "server", before="[tool.zenlock.stacks]")
        nox("-s", "server", "--", "build", *both, cwd=project)
        record_text = record_file.read_text()
        server = yaml.safe_load(record_text)["server"]
        assert [v["platform"] for v in server["platforms"]] == ["linux/amd64", "linux/arm64"]
        assert "&id" not in record_text  # the record is plain YAML, no anchors
        checked = nox("-s", "check", "--", "--only", "server", cwd=project).stdout
        for variant in server["platforms"]:
            assert f"ok  server image {variant['tag']} ({variant['platform']})" in checked
    finally:
        untag(docker_client, f"{address}/multi/")  # the server's images too
