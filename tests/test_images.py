"""Pipeline images: exactly the lock, nothing else inside, content-hash tags, both code modes."""

import contextlib
import gzip
import hashlib
import io
import json
import os
import re
import secrets
import signal
import subprocess
import sys
import tarfile
from pathlib import Path

import docker
import pytest
import yaml
from conftest import (
    DOCKER_ANSWERS,
    PIPELINE_SELECTION,
    free_port,
    git_commit,
    inspect_image,
    locked_pins,
    nox,
    project_env,
    render_project,
    run,
    unavailable,
)
from packaging.utils import canonicalize_name

# What a default project's pipeline image holds: [project], pip (ZenML's record of a run's
# packages) and its ZenML integration (sklearn).

pytestmark = [pytest.mark.docker, pytest.mark.slow]

FAKE_CREDENTIAL = f"zenlock-fake-index-password-{secrets.token_hex(8)}"


def image_tags(output: str) -> list[str]:
    """The tags `nox -s images` reports as built or up to date, in order."""
    pattern = r"^  (\S+:(?:iterate|release)-[0-9a-f]{16})  \d+ MB  (?:built|assembled|up to date)$"
    return re.findall(pattern, output, re.MULTILINE)


def images_session(project: Path, *args: str, **env: str) -> tuple[str, list[str]]:
    result = nox("-s", "images", "--", *args, cwd=project, **env)
    return result.stdout + result.stderr, image_tags(result.stdout)


def saved_image_bytes(docker_client, tag: str) -> bytes:
    """Every file of every layer of the image, decompressed."""
    archive = b"".join(docker_client.images.get(tag).save())
    contents = []
    with tarfile.open(fileobj=io.BytesIO(archive)) as outer:
        for member in outer.getmembers():
            if member.isfile():
                data = outer.extractfile(member).read()
                contents.append(gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data)
    return b"".join(contents)


def extra_certificates(parent_bundle: str, host_bundle: str) -> list[str]:
    """Certificates of the host's CA bundle that the parent image does not ship (proxy CAs)."""
    blocks = re.compile(r"-----BEGIN CERTIFICATE-----\n(.*?)-----END CERTIFICATE-----", re.S)
    parent = set(blocks.findall(parent_bundle))
    return [cert for cert in blocks.findall(host_bundle) if cert not in parent]


# The image name of this module's project: its own, as other workers build images meanwhile.
IMAGES = "image-checks"


@pytest.fixture(scope="module")
def image_project(tmp_path_factory, docker_client):
    """A project with its default image built, a fake index credential in the build's env."""
    project = render_project(
        tmp_path_factory.mktemp("images") / "project", **DOCKER_ANSWERS, project_slug=IMAGES
    )
    nox("-s", "dev", cwd=project)
    git_commit(project, "rendered")
    # --no-cache: a real build (not an earlier one with the same tag) sees the credential.
    output, tags = images_session(project, "--no-cache", UV_INDEX_PRIVATE_PASSWORD=FAKE_CREDENTIAL)
    return project, output, tags[0]


def test_image_holds_exactly_the_locked_dependencies(image_project, docker_client):
    project, _, tag = image_project
    found = inspect_image(docker_client, tag)
    installed = {canonicalize_name(name): version for name, version in found["installed"].items()}
    assert installed == locked_pins(project, found["environment"], *PIPELINE_SELECTION)


def test_a_venv_from_the_images_pylock_holds_exactly_what_the_image_holds(
    image_project, docker_client, tmp_path
):
    """configs/sbom/pylock.<image>.toml, installed as a team without uv would (any PEP 751
    installer; uv's here), gives the image's own list of distributions, no more, no fewer."""
    project, _, tag = image_project
    (pylock,) = (project / "configs" / "sbom").glob(f"pylock.{tag.replace(':', '-')}.toml")
    venv = tmp_path / "from pylock"
    run("uv", "venv", "--quiet", "--python", "3.11", venv, cwd=tmp_path)
    run("uv", "pip", "install", "--quiet", "--python", venv / "bin" / "python", "-r", pylock,
        cwd=tmp_path)  # fmt: skip
    listed = run("uv", "pip", "list", "--format=json", "--python", venv / "bin" / "python",
                 cwd=tmp_path).stdout  # fmt: skip
    from_pylock = {canonicalize_name(d["name"]): d["version"] for d in json.loads(listed)}
    found = inspect_image(docker_client, tag)["installed"]
    assert from_pylock == {canonicalize_name(name): version for name, version in found.items()}


def test_image_runs_as_non_root_with_labels(image_project, docker_client):
    project, _, tag = image_project
    image = docker_client.images.get(tag)
    assert image.attrs["Config"]["User"] == "10001"
    assert inspect_image(docker_client, tag)["uid"] == 10001
    labels = image.labels
    lock = (project / "uv.lock").read_bytes()
    assert labels["envtools.zenml-version"] == "0.98.0"
    assert labels["envtools.lock-sha256"] == hashlib.sha256(lock).hexdigest()
    assert labels["envtools.kind"] == "iterate"
    assert re.fullmatch(r"[0-9a-f]{40}", labels["org.opencontainers.image.revision"])


def test_image_holds_no_build_leftovers(image_project, docker_client):
    _, _, tag = image_project
    found = docker_client.containers.run(
        tag,
        [
            "sh",
            "-c",
            "find / -xdev \\( -name .venv -o -name .git -o -name .env -o -name uv "
            "-o -name uv.lock -o -name build.env -o -name ca-bundle.crt -o -path /tmp/build "
            "-o -name requirements.txt \\) -not -type d -print; ls -A /app; "
            # BuildKit leaves the mount points of the cache and the secrets, empty; an
            # assembled image has neither.
            "for mount in /root/.cache/uv /run/secrets; do "
            '[ ! -e "$mount" ] || find "$mount" -mindepth 1 -print; done',
        ],
        remove=True,
        network_mode="host",
        user="root",
    ).decode()
    assert found.strip() == ""


def test_proxy_ca_reaches_the_build_but_not_the_image(image_project, docker_client):
    host_bundle = os.environ.get("SSL_CERT_FILE")
    if not host_bundle:
        pytest.skip("no SSL_CERT_FILE: this host needs no extra CA to reach the index")
    _, _, tag = image_project
    parent_bundle = docker_client.containers.run(
        DOCKER_ANSWERS["pipeline_parent_image"],
        ["cat", "/etc/ssl/certs/ca-certificates.crt"],
        remove=True,
        network_mode="host",
    ).decode()
    extra = extra_certificates(parent_bundle, Path(host_bundle).read_text())
    if not extra:
        pytest.skip("the parent image already trusts every CA of SSL_CERT_FILE")
    image_bytes = saved_image_bytes(docker_client, tag)
    for certificate in extra:
        body_line = certificate.splitlines()[5].encode()
        assert body_line not in image_bytes


def test_index_credential_appears_nowhere(image_project, docker_client):
    _, output, tag = image_project
    assert FAKE_CREDENTIAL not in output
    assert FAKE_CREDENTIAL.encode() not in saved_image_bytes(docker_client, tag)
    history = json.dumps(docker_client.api.history(tag))
    assert FAKE_CREDENTIAL not in history


def test_unchanged_inputs_build_nothing(image_project):
    project, _, tag = image_project
    output, tags = images_session(project)
    assert tags == [tag]
    assert "up to date" in output and "building" not in output


def test_iterate_mode_code_change_builds_nothing(image_project):
    project, _, tag = image_project
    step = next((project / "src").glob("*/steps/training.py"))
    original = step.read_text()
    try:
        step.write_text(original + f"\n# a code-only change {secrets.token_hex(4)}\n")
        output, tags = images_session(project)
    finally:
        step.write_text(original)
    assert tags == [tag]
    assert "building" not in output


def test_release_mode_code_change_rebuilds_only_the_code_layer(image_project, docker_client):
    project, _, dependencies = image_project
    _, (deps, first) = images_session(project, "--release")
    assert deps == dependencies
    step = next((project / "src").glob("*/steps/training.py"))
    original = step.read_text()
    try:
        step.write_text(original + f"\n# a code-only change {secrets.token_hex(4)}\n")
        output, (_, second) = images_session(project, "--release")
    finally:
        step.write_text(original)
        images_session(project)  # back to the iterate record for the other tests
    assert second != first and "assembling" in output
    layers = {
        t: docker_client.images.get(t).attrs["RootFS"]["Layers"]
        for t in (dependencies, first, second)
    }
    # The dependencies' layers, then data/'s (empty here), then the code's.
    assert layers[first][:-1] == layers[second][:-1]
    assert layers[first][:-2] == layers[dependencies]
    assert layers[first][-1] != layers[second][-1]


def test_failed_build_leaves_no_tag_and_no_record(image_project, docker_client):
    project, _, _ = image_project
    dockerfile = project / "docker" / "pipeline.Dockerfile"
    record = (project / "configs" / "images.yaml").read_text()
    before = {image.id for image in docker_client.images.list(name=IMAGES)}
    original = dockerfile.read_text()
    try:
        dockerfile.write_text(original.replace("WORKDIR /app", "RUN exit 3\nWORKDIR /app"))
        failed = nox("-s", "images", cwd=project, check=False)
        # The assembler is never asked to skip a step of yours: it refuses, in one line.
        refused = nox("-s", "images", "--", "--builder", "assemble", cwd=project, check=False)
    finally:
        dockerfile.write_text(original)
    assert failed.returncode != 0
    # The user's own step is honoured: the engine builds it, and says why.
    assert "built by the Docker engine: docker/pipeline.Dockerfile is not the template's" in (
        failed.stdout
    )
    assert "failed" in failed.stdout + failed.stderr
    output = refused.stdout + refused.stderr
    said = [line for line in output.splitlines() if line.startswith("error:")]
    assert refused.returncode != 0 and len(said) == 1, output
    assert "--builder assemble cannot make this image: docker/pipeline.Dockerfile" in said[0]
    assert {image.id for image in docker_client.images.list(name=IMAGES)} == before
    assert (project / "configs" / "images.yaml").read_text() == record


def test_an_interrupted_build_leaves_no_credential_anywhere(image_project, docker_client):
    """BuildKit mounts the credentials for the install step only: interrupted or not, no
    image on the engine holds them, and there is no build stage left to clean up."""
    project, _, _ = image_project
    before = {image.id for image in docker_client.images.list(all=True)}
    build = subprocess.Popen(
        [sys.executable, "-m", "nox", "-s", "images", "--", "--no-cache", "--builder", "buildkit"],
        cwd=project,
        env=project_env(UV_INDEX_PRIVATE_PASSWORD=FAKE_CREDENTIAL),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    for line in build.stdout:  # interrupt while uv installs with the credential mounted
        if "RUN --mount" in line:
            break
    os.killpg(build.pid, signal.SIGTERM)
    output = line + build.communicate(timeout=120)[0]
    new_images = [  # this project's, or untagged: other workers build theirs meanwhile
        image
        for image in docker_client.images.list(all=True)
        if image.id not in before and all(tag.startswith(f"{IMAGES}:") for tag in image.tags)
    ]
    assert FAKE_CREDENTIAL not in output
    for image in new_images:
        with contextlib.suppress(docker.errors.ImageNotFound):  # removed by another build
            assert FAKE_CREDENTIAL.encode() not in saved_image_bytes(docker_client, image.id)
            assert FAKE_CREDENTIAL not in json.dumps(docker_client.api.history(image.id))


@pytest.fixture(scope="module")
def local_server(image_project):
    """A local ZenML server started with the project's own config, stopped by the same config."""
    project, _, _ = image_project
    zenml = project / ".venv" / "bin" / "zenml"
    run(
        zenml,
        "login",
        "--local",
        "--port",
        str(free_port()),
        cwd=project,
        ZENML_CONFIG_PATH=str(project / ".zenml"),
        ZENML_AUTO_OPEN_DASHBOARD="false",
    )
    yield project
    run(zenml, "logout", "--local", cwd=project, ZENML_CONFIG_PATH=str(project / ".zenml"))


RUN_FACTS = """
from zenml.client import Client
run = Client().get_pipeline("training").last_run
accuracy = run.steps["evaluate_model"].outputs["test_accuracy"][0].load()
print(run.status.value, accuracy, run.snapshot.code_path, run.stack.name)
"""


@pytest.mark.server
@pytest.mark.parametrize("mode", ["iterate", "release"])
def test_pipeline_runs_in_our_image_on_the_local_docker_stack(local_server, mode):
    project = local_server
    _, tags = images_session(project, *(["--release"] if mode == "release" else []))
    tag = tags[-1]
    result = nox("-s", "run", "--", "--docker", cwd=project)
    output = result.stdout + result.stderr
    assert f"image {tag} ({mode} mode" in output
    assert output.count("in Docker") >= 3
    script = project / "build" / "run_facts.py"  # ZenML wants a main module with a file
    script.parent.mkdir(exist_ok=True)
    script.write_text(RUN_FACTS)
    facts = run(
        project / ".venv" / "bin" / "python",
        script,
        cwd=project,
        ZENML_CONFIG_PATH=str(project / ".zenml"),
    ).stdout.split()
    status, accuracy, code_path, stack = facts[-4:]
    assert (status, stack) == ("completed", "local-docker")
    assert 0.9 <= float(accuracy) <= 1.0
    if mode == "release":
        assert code_path == "None"  # ZenML uploaded no code: the steps ran the image's code
    else:
        assert code_path != "None"


@contextlib.contextmanager
def pipeline_groups(project: Path, groups: str, pipelines: str):
    """The project with these dependency groups and pipeline_groups lines added and locked;
    pyproject.toml, uv.lock and the images as they were afterwards."""
    pyproject, lock = project / "pyproject.toml", project / "uv.lock"
    original_pyproject, original_lock = pyproject.read_text(), lock.read_text()
    try:
        pyproject.write_text(
            original_pyproject.replace(
                "[dependency-groups]\n", f"[dependency-groups]\n{groups}"
            ).replace(
                "[tool.zenlock.images.pipeline_groups]\n",
                f"[tool.zenlock.images.pipeline_groups]\n{pipelines}",
            )
        )
        nox("-s", "lock", cwd=project)
        yield
    finally:
        pyproject.write_text(original_pyproject)
        lock.write_text(original_lock)
        images_session(project)


def test_a_pipeline_with_an_extra_group_gets_its_own_image(image_project, docker_client):
    project, _, default = image_project
    with pipeline_groups(project, 'serving = ["tqdm>=4"]\n', 'inference = ["serving"]\n'):
        _, (shared, serving) = images_session(project)
        record = yaml.safe_load((project / "configs" / "images.yaml").read_text())["pipelines"]
    assert shared == default and serving != default
    # Each image's Python, read from its venv (for its ZenML build), is the image's own.
    for image in record["images"]:
        found = inspect_image(docker_client, image["tag"])["environment"]["python_full_version"]
        assert image["python"] == found
    # Built for the engine's own platform, none being set.
    native = docker_client.version()
    assert {image["platform"] for image in record["images"]} == {f"linux/{native['Arch']}"}
    recorded = [
        {k: v for k, v in image.items() if k not in ("activated", "python", "platform")}
        for image in record["images"]
    ]
    assert recorded == [
        {"tag": default, "groups": ["integration-sklearn"], "pipelines": ["default"]},
        {
            "tag": serving,
            "groups": ["integration-sklearn", "serving"],
            "pipelines": ["inference"],
        },
    ]
    for image in record["images"]:  # sklearn activated in each image, by its own python
        assert image["activated"]["integrations"] == ["sklearn"]
        assert image["activated"]["image_id"] == docker_client.images.get(image["tag"]).id
    assert "tqdm" in inspect_image(docker_client, serving)["installed"]
    assert "tqdm" not in inspect_image(docker_client, default)["installed"]
    # The parent's layers are shared; the user layer too when Docker's build cache offers it.
    parent = docker_client.images.get(DOCKER_ANSWERS["pipeline_parent_image"])
    parent_layers = parent.attrs["RootFS"]["Layers"]
    for tag in (shared, serving):
        layers = docker_client.images.get(tag).attrs["RootFS"]["Layers"]
        assert layers[: len(parent_layers)] == parent_layers


def test_a_dependency_change_rebuilds_only_the_project_layer(
    image_project, docker_client, tmp_path
):
    """Two images one package apart, built one after the other: for the second, ZenML's
    closure and the integrations' packages are the first's layers, made once."""
    project, _, _ = image_project
    groups = 'with-tqdm = ["tqdm>=4"]\nwith-tabulate = ["tabulate"]\n'
    pipelines = 'inference = ["with-tqdm"]\ntraining = ["with-tabulate"]\n'
    with pipeline_groups(project, groups, pipelines):
        # An empty cache of shares; images left by an earlier run are made again.
        output, tags = images_session(project, XDG_CACHE_HOME=str(tmp_path / "first"))
        if output.count("  assembling ...") < 2:
            for tag in tags[1:]:
                docker_client.images.remove(tag, force=True)
            output, tags = images_session(project, XDG_CACHE_HOME=str(tmp_path / "second"))
    _, with_tqdm, with_tabulate = tags
    made = [line.strip() for line in output.splitlines() if "shares of the lock made" in line]
    assert made == ["3 of 3 shares of the lock made", "1 of 3 shares of the lock made, 2 from "
                    "this machine's cache"], output  # fmt: skip
    layers = [docker_client.images.get(tag).attrs["RootFS"]["Layers"] for tag in tags[1:]]
    parent = docker_client.images.get(DOCKER_ANSWERS["pipeline_parent_image"])
    below = len(parent.attrs["RootFS"]["Layers"]) + 3  # the user's, ZenML's, the integrations'
    assert layers[0][:below] == layers[1][:below] and layers[0][below] != layers[1][below]
    assert "tabulate" in inspect_image(docker_client, with_tabulate)["installed"]
    assert "tqdm" in inspect_image(docker_client, with_tqdm)["installed"]


# Run in an image as its user: which of the venv's modules a step's start imports lack a .pyc.
COMPILED_IMPORTS = """
import importlib.util, json, os, sys
import zenml.client, zenml.entrypoints.step_entrypoint_configuration, sklearn.base
from zenml.integrations.sklearn.materializers import sklearn_materializer
files = [
    module.__file__ for module in list(sys.modules.values())
    if (getattr(module, "__file__", None) or "").startswith("/opt/venv/")
    and module.__file__.endswith(".py")
]
missing = [file for file in files if not os.path.exists(importlib.util.cache_from_source(file))]
sources = pycs = 0
for folder, _, names in os.walk("/opt/venv"):
    sources += sum(name.endswith(".py") for name in names)
    pycs += sum(name.endswith(".pyc") for name in names)
print(json.dumps({"imported": len(files), "missing": missing, "sources": sources, "pycs": pycs}))
"""


def test_what_a_step_imports_is_compiled_and_not_all_of_site_packages(image_project, docker_client):
    """Bytecode where it pays: every module that a step's start imports from the venv has
    its .pyc in the image (the step's user could not write one), and far from every module."""
    _, _, tag = image_project
    found = json.loads(
        docker_client.containers.run(
            tag, ["python", "-c", COMPILED_IMPORTS], remove=True, network_mode="host",
            environment={"ZENML_CONFIG_PATH": "/tmp/zenml", "ZENML_ANALYTICS_OPT_IN": "false"},
        ).decode().strip().splitlines()[-1]
    )  # fmt: skip
    # An assembled image's imports are found by this machine's Python: where the image's
    # imports otherwise (Debian's ships no distutils, so setuptools' stands in), those few
    # compile at their first import.
    missing = [path for path in found["missing"] if "/setuptools/_distutils/" not in path]
    assert found["imported"] > 500 and missing == [] and len(found["missing"]) < 10, found
    assert found["pycs"] < found["sources"] / 2, found


# Image reads go over a Unix socket without the SDK; any other host is the SDK's alone.
@pytest.mark.parametrize("host", ["unix:///nonexistent.sock", "tcp://127.0.0.1:9"])
def test_images_without_docker_say_how_to_start_it(tmp_path, host):
    project = render_project(tmp_path / "project")
    nox("-s", "dev", cwd=project)
    refused = nox("-s", "images", cwd=project, check=False, DOCKER_HOST=host)
    assert refused.returncode != 0
    output = refused.stdout + refused.stderr
    assert "No Docker daemon is reachable" in output and "Start one" in output
    assert not (project / "configs" / "images.yaml").exists()


def test_image_on_another_python_holds_that_pythons_pins(tmp_path, docker_client):
    """One universal lock: a 3.13 parent gets the 3.13 pins, while the venv runs 3.11."""
    parent = os.environ.get("ZENLOCK_OTHER_PYTHON_PARENT_IMAGE")
    if not parent:
        unavailable("set ZENLOCK_OTHER_PYTHON_PARENT_IMAGE to a parent whose Python is not 3.11")
    answers = {**DOCKER_ANSWERS, "pipeline_parent_image": parent}
    project = render_project(tmp_path / "project", **answers)
    nox("-s", "dev", cwd=project)
    _, (tag,) = images_session(project)
    found = inspect_image(docker_client, tag)
    assert found["environment"]["python_version"] != "3.11"
    installed = {canonicalize_name(name): version for name, version in found["installed"].items()}
    assert installed == locked_pins(project, found["environment"], *PIPELINE_SELECTION)
    assert nox("-s", "check", "--", "--only", "venv", "images", cwd=project).returncode == 0


def test_bridge_network_on_an_engine_without_one_says_host(fresh_project):
    project = fresh_project(**{**DOCKER_ANSWERS, "docker_network": "bridge"})
    nox("-s", "dev", cwd=project)
    # --no-cache: the tag does not depend on the network, an earlier image would do.
    result = nox("-s", "images", "--", "--no-cache", "--builder", "buildkit", cwd=project,
                 check=False)  # fmt: skip
    if result.returncode == 0:
        pytest.skip("this engine has a bridge network")
    said = result.stdout + result.stderr
    assert "the build has no network" in said and 'Set network = "host"' in said


def test_a_missing_dockerfile_is_named_with_the_fix(image_project):
    project, _, _ = image_project
    dockerfile = project / "docker" / "pipeline.Dockerfile"
    original = dockerfile.read_text()
    dockerfile.unlink()
    try:
        refused = nox("-s", "images", cwd=project, check=False)
    finally:
        dockerfile.write_text(original)
    said = refused.stdout + refused.stderr
    assert refused.returncode != 0
    assert "docker/pipeline.Dockerfile is missing: restore it" in said
    assert "Traceback" not in said


def test_every_image_carries_its_sbom_and_check_flags_a_tampered_one(image_project, docker_client):
    project, _, tag = image_project
    export = json.loads(
        run(
            "uv", "export", "--format=cyclonedx1.5", "--preview-features=sbom-export", "--frozen",
            *PIPELINE_SELECTION, "--no-emit-project", cwd=project,
        ).stdout
    )  # fmt: skip
    # Read through the engine's archive API: a container's output stream can come back cut.
    container = docker_client.containers.create(tag, ["true"], entrypoint=[])
    try:
        stream, _ = container.get_archive("/opt/sbom.cdx.json")
        with tarfile.open(fileobj=io.BytesIO(b"".join(stream))) as archive:
            inside = archive.extractfile(archive.getmembers()[0]).read()
    finally:
        container.remove()
    beside = project / "configs" / "sbom" / (tag.replace(":", "-") + ".cdx.json")
    assert inside == beside.read_bytes()
    sbom = json.loads(inside)
    assert sbom["components"] == export["components"]
    labels = docker_client.images.get(tag).labels
    assert labels["envtools.sbom-sha256"] == hashlib.sha256(inside).hexdigest()
    for key in ("revision", "created", "version", "base.name", "base.digest"):
        assert labels[f"org.opencontainers.image.{key}"]

    # Someone rewrites the SBOM in an image under the recorded tag: check says so.
    record = yaml.safe_load((project / "configs" / "images.yaml").read_text())
    tag = record["pipelines"]["images"][0]["tag"]
    original = docker_client.images.get(tag)
    tampered, _ = docker_client.images.build(
        fileobj=io.BytesIO(
            f"FROM {tag}\nUSER root\nRUN echo '{{}}' > /opt/sbom.cdx.json\nUSER 10001\n".encode()
        ),
        network_mode="host",
        rm=True,
    )
    tampered.tag(tag)
    try:
        drift = nox("-s", "check", "--", "--only", "images", cwd=project, check=False)
        assert drift.returncode == 1
        assert "its SBOM (/opt/sbom.cdx.json) is missing or not the lock's" in drift.stdout
    finally:
        original.tag(tag)
        docker_client.images.remove(tampered.id, force=True)

    # The SBOM stays, but what is installed changes under it: check names the package.
    site_packages = "/opt/venv/lib/python3.11/site-packages"
    swapped, _ = docker_client.images.build(
        fileobj=io.BytesIO(
            f"FROM {tag}\nUSER root\nRUN sed -i 's/^Version: .*/Version: 0.0.1/' "
            f"{site_packages}/six-*.dist-info/METADATA\nUSER 10001\n".encode()
        ),
        network_mode="host",
        rm=True,
    )
    swapped.tag(tag)
    try:
        drift = nox("-s", "check", "--", "--only", "images", cwd=project, check=False)
        assert drift.returncode == 1
        listed = next(c["version"] for c in sbom["components"] if c["name"] == "six")
        assert f"differs from what is installed: six listed {listed}, found 0.0.1" in drift.stdout
    finally:
        original.tag(tag)
        docker_client.images.remove(swapped.id, force=True)


def test_no_op_builds_check_and_status_import_no_zenml(image_project):
    """Importing ZenML takes seconds: what the commands users type most need from its registry
    is in configs/zenml-registry.json, so with everything built they import none of it."""
    project, _, _ = image_project
    nox("-s", "images", cwd=project)
    assert (project / "configs" / "zenml-registry.json").is_file()
    python = project / ".venv" / "bin" / "python"
    for args in (["images"], ["check", "--only", "venv", "images", "stacks"], ["server", "status"]):
        done = run(python, "-X", "importtime", "-m", "zenlock", *args, cwd=project, check=False)
        imported = re.findall(r"\|\s+(\S+)\s*$", done.stderr, re.MULTILINE)
        assert "zenlock.registry" in imported, done.stderr[-2000:]
        assert not [name for name in imported if name.split(".")[0] == "zenml"], args
    # Nor does a no-op build import the docker SDK, whose import alone took longer than the
    # whole build: image reads go to the engine's socket directly.
    done = run(python, "-X", "importtime", "-m", "zenlock", "images", cwd=project)
    imported = re.findall(r"\|\s+(\S+)\s*$", done.stderr, re.MULTILINE)
    assert "zenlock.engine" in imported and "docker" not in imported
