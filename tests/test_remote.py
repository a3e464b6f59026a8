"""Beyond the laptop, on one machine: push to a real registry (the CNCF distribution registry,
htpasswd auth) and run by digest; a remote-shaped stack with an S3 API (moto) for artifacts."""

import base64
import contextlib
import io
import json
import os
import shutil
import sqlite3
import stat
import subprocess
import tarfile
import time
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml
from conftest import (
    DOCKER_ANSWERS,
    PARENT_IMAGE,
    PIPELINE_SELECTION,
    admin_login,
    background,
    blob_uploads,
    client_python,
    docker_login,
    free_port,
    inspect_image,
    locked_pins,
    newest_artifact_archive,
    nox,
    read_env_file,
    remove_servers,
    render_project,
    run,
    server_api,
    unavailable,
    untag,
)
from conftest import (
    REGISTRY_PASSWORD as PASSWORD,
)
from packaging.utils import canonicalize_name

pytestmark = [pytest.mark.docker, pytest.mark.server, pytest.mark.slow]

# moto's S3 server lives in a venv of its own, not in any project's lock (CI makes it).
MOTO_SERVER = os.environ.get("ZENLOCK_MOTO_SERVER") or shutil.which("moto_server")
S3_KEY, S3_SECRET = "AKIAZENLOCKTEST", "zenlock-s3-secret-only-in-zenml-secrets"


@pytest.fixture(scope="module")
def s3_api():
    """An S3 API on 127.0.0.1 with a bucket `zenlock`; its endpoint URL."""
    if not MOTO_SERVER:
        unavailable("needs moto's S3 server: set ZENLOCK_MOTO_SERVER (see .ci/provision)")
    endpoint = f"http://127.0.0.1:{free_port()}"
    with background(MOTO_SERVER, "-H", "127.0.0.1", "-p", endpoint.rsplit(":", 1)[1]):
        for _ in range(100):
            try:
                urllib.request.urlopen(urllib.request.Request(f"{endpoint}/zenlock", method="PUT"))
                break
            except OSError:
                time.sleep(0.1)
        yield endpoint


def referred(address: str, digest: str, artifact_type: str) -> bytes:
    """The blob of `digest`'s referrer of `artifact_type`, read over the distribution API
    alone: the referrers tag schema's index, the artifact's manifest, its one layer."""
    repository, subject = digest.split("@")[0].split("/", 1)[1], digest.split("@")[1]
    token = base64.b64encode(f"ci:{PASSWORD}".encode()).decode()

    def get(path: str, accept: str = "*/*") -> bytes:
        request = urllib.request.Request(f"http://{address}/v2/{repository}/{path}",
                                         headers={"Authorization": f"Basic {token}",
                                                  "Accept": accept})  # fmt: skip
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.read()

    index = json.loads(get(f"manifests/{subject.replace(':', '-')}",
                           "application/vnd.oci.image.index.v1+json"))  # fmt: skip
    (entry,) = [m for m in index["manifests"] if m["artifactType"] == artifact_type]
    manifest = json.loads(get(f"manifests/{entry['digest']}",
                              "application/vnd.oci.image.manifest.v1+json"))  # fmt: skip
    assert manifest["subject"]["digest"] == subject
    (layer,) = manifest["layers"]
    return get(f"blobs/{layer['digest']}")


def test_push_run_by_digest_and_push_again_for_nothing(registry, tmp_path, docker_client):
    """With no Docker engine reachable, `images -- --push` assembles the pipeline image from
    the lock on a parent read from the registry and pushes it; a second folder with the same
    lock and empty caches makes the same digest and uploads no blob; the pushed image holds
    the lock's pins and runs the pipeline against the project's server."""
    address, docker_config = registry
    auth = {"DOCKER_CONFIG": str(docker_config)}
    no_engine = {"DOCKER_HOST": f"unix://{tmp_path}/no-engine.sock"}
    parent = f"{address}/base/python:3.11"
    assert docker_login(address, docker_config, PASSWORD).returncode == 0
    docker_client.images.get(PARENT_IMAGE).tag(parent)
    run("docker", "push", "-q", parent, cwd=tmp_path, **auth)
    untag(docker_client, f"{address}/base/")
    answers = {**DOCKER_ANSWERS, "container_registry": f"{address}/team"}
    answers["pipeline_parent_image"] = parent
    project = render_project(tmp_path / "project", **answers)
    nox("-s", "dev", cwd=project)
    record_file = project / "configs" / "images.yaml"
    outputs = []

    def empty_caches(name: str) -> dict[str, str]:
        return {"UV_CACHE_DIR": str(tmp_path / name / "uv"),
                "XDG_DATA_HOME": str(tmp_path / name / "data")}  # fmt: skip

    try:
        # Not logged in: the registry refuses, the message says how, nothing is recorded.
        logged_out = tmp_path / "logged-out"
        logged_out.mkdir()
        refused = nox("-s", "images", "--", "--push", cwd=project, check=False,
                      DOCKER_CONFIG=str(logged_out), **no_engine)  # fmt: skip
        said = refused.stdout + refused.stderr
        assert refused.returncode != 0
        assert "The registry refused" in said and f"docker login {address}" in said
        assert "Traceback" not in said
        assert not record_file.exists()

        pushed = nox("-s", "images", "--", "--push", cwd=project, **auth, **no_engine,
                     **empty_caches("first")).stdout  # fmt: skip
        assert "assembling" in pushed
        (image,) = yaml.safe_load(record_file.read_text())["pipelines"]["images"]
        digest = image["digest"]
        assert digest.startswith(f"{address}/team/zenml-project@sha256:")
        assert f"pushed as {digest}" in pushed
        uploads = blob_uploads(address)
        again = nox("-s", "images", "--", "--push", cwd=project, **auth, **no_engine).stdout
        assert "already in the registry" in again and "assembling" not in again

        # Another folder, the same answers and lock, empty caches: the same image, no upload.
        other = render_project(tmp_path / "other folder", **answers)
        shutil.copy(project / "uv.lock", other / "uv.lock")
        nox("-s", "dev", cwd=other)
        elsewhere = nox("-s", "images", "--", "--push", "--no-cache", cwd=other, **auth,
                        **no_engine, **empty_caches("second")).stdout  # fmt: skip
        (image_elsewhere,) = yaml.safe_load((other / "configs" / "images.yaml").read_text())[
            "pipelines"
        ]["images"]
        assert image_elsewhere["digest"] == digest, elsewhere
        assert blob_uploads(address) == uploads

        server_pushed = nox("-s", "server", "--", "--push", cwd=project, **auth).stdout
        server_digest = yaml.safe_load(record_file.read_text())["server"]["digest"]
        assert "@sha256:" in server_digest
        outputs += [pushed, again, elsewhere, server_pushed]

        # Each pushed image's SBOM and pylock.toml hang off its digest in the registry (this
        # one has no referrers API: the tag schema's index lists them); `check` reads them
        # there, by digest, with no engine and no pull.
        server_tag = yaml.safe_load(record_file.read_text())["server"]["tag"]
        for pushed_digest, tag in ((digest, image["tag"]), (server_digest, server_tag)):
            sbom = referred(address, pushed_digest, "application/vnd.cyclonedx+json")
            name = tag.rsplit("/", 1)[-1].replace(":", "-")
            assert sbom == (project / "configs" / "sbom" / f"{name}.cdx.json").read_bytes()
            pylock = referred(address, pushed_digest, "application/vnd.python.pylock.v1+toml")
            assert pylock == (project / "configs" / "sbom" / f"pylock.{name}.toml").read_bytes()
        checked = nox("-s", "check", "--", "--only", "registry", cwd=project, **auth,
                      **no_engine).stdout  # fmt: skip
        assert checked.count("ok  registry ") == 2 and "2 environments match" in checked, checked

        # What the registry serves holds exactly the lock's pins, as user 10001.
        run("docker", "pull", "-q", digest, cwd=tmp_path, **auth)
        found = inspect_image(docker_client, digest)
        installed = {canonicalize_name(n): version for n, version in found["installed"].items()}
        assert found["uid"] == 10001
        assert installed == locked_pins(project, found["environment"], *PIPELINE_SELECTION)
        pipelines = digest.split("@")[0]
        untag(docker_client, f"{pipelines}@", f"{pipelines}:")

        (project / "configs" / "stacks" / "registry-docker.yaml").write_text(
            "stack_name: registry-docker\ncomponents:\n"
            "  orchestrator:\n    - {name: local-docker, flavor: local_docker, configuration: {}}\n"
            "  image_builder:\n    - {name: local-docker, flavor: local, configuration: {}}\n"
            "  artifact_store:\n    - {name: default, flavor: local, configuration: {}}\n"
            "  container_registry:\n"
            f"    - {{name: team, flavor: default, configuration: {{uri: '{address}/team'}}}}\n"
        )
        nox("-s", "server", "--", "up", "--port", str(free_port()), cwd=project, **auth)
        # The steps must pull their image from the registry: no copy is left here.
        repository = image["tag"].rsplit(":", 1)[0]
        untag(docker_client, f"{repository}:", f"{repository}@")
        ran = nox("-s", "run", "--", "--stack", "registry-docker", cwd=project, **auth).stdout
        outputs.append(ran)
        assert f"image {digest}" in ran and ": completed" in ran
        assert docker_client.images.get(digest)  # pulled by digest
        # ZenML's record of the run's build names the image by the same digest.
        builds = client_python(project, BUILD_IMAGES)
        assert f"'{digest}'" in builds.split("IMAGES", 1)[1]

        nox("-s", "server", "--", "helm", "--url", HELM_URL + "/", cwd=project, **auth)
        outputs.append(helm_values_run_the_image(project, docker_client, auth))

        for text in [*outputs, record_file.read_text()]:
            assert PASSWORD not in text
    finally:
        remove_servers(docker_client, project)
        untag(docker_client, f"{address}/team/")


BUILD_IMAGES = """
from zenml.client import Client
print("IMAGES", [i.image for b in Client().list_builds(size=50).items for i in b.images.values()])
"""
HELM_URL = "https://zenml.example.com"


def helm_values_run_the_image(project, docker_client, auth) -> str:
    """The Helm values against the pushed server image: its reference pulls that digest, and
    the image, run as the values' user with exactly their environment (the secret's values
    filled in), starts healthy, takes the secret's admin password and answers CORS for the
    values' origin only. Returns the file."""
    text = (project / "deploy" / "helm-values.yaml").read_text()
    values = yaml.safe_load(text)
    zenml = values["zenml"]
    server = yaml.safe_load((project / "configs" / "images.yaml").read_text())["server"]
    reference = f"{zenml['image']['repository']}:{zenml['image']['tag']}"
    assert reference.endswith("@" + server["digest"].split("@")[1])
    pulled = subprocess.run(["docker", "pull", reference], env={**os.environ, **auth},
                            capture_output=True, text=True)  # fmt: skip
    assert pulled.returncode == 0, pulled.stderr
    image = docker_client.images.get(reference)
    assert image.id == docker_client.images.get(server["tag"]).id
    user = values["securityContext"]["runAsUser"]
    assert str(user) == image.attrs["Config"]["User"] == "10001"
    assert values["podSecurityContext"]["fsGroup"] == user
    assert zenml["serverURL"] == HELM_URL and zenml["auth"]["corsAllowOrigins"] == [HELM_URL]
    assert zenml["analyticsOptIn"] is False and zenml["debug"] is False

    admin = read_env_file(project / ".zenml-server" / "admin.env")
    for name, credential in admin.items():
        if name != "ZENML_DEFAULT_USER_NAME":  # a name, not a credential
            assert credential not in text, name
    password = f"helm-admin-{os.urandom(8).hex()}"
    filled = {
        "ZENML_STORE_URL": "sqlite:////zenml/helm-test.db",
        "ZENML_SECRETS_STORE_ENCRYPTION_KEY": os.urandom(32).hex(),
        "ZENML_SERVER_JWT_SECRET_KEY": os.urandom(32).hex(),
        "ZENML_DEFAULT_USER_PASSWORD": password,
    }
    assert {ref["name"] for ref in zenml["environmentSecretKeyRefs"]} == filled.keys()
    port = free_port()
    container = docker_client.containers.run(
        reference,
        detach=True,
        user=str(user),
        network_mode="host",
        environment={
            **zenml["environment"],
            **filled,
            "SERVER_HOST": "127.0.0.1",
            "SERVER_PORT": str(port),
        },  # fmt: skip
    )
    try:
        url = f"http://127.0.0.1:{port}"
        for _ in range(240):
            try:
                urllib.request.urlopen(f"{url}/health", timeout=2)
                break
            except OSError:
                time.sleep(0.5)
        else:
            pytest.fail(container.logs().decode()[-3000:])
        assert admin_login(url, "admin", password) == 200
        assert admin_login(url, "admin", "not-the-password") != 200

        def allowed_origin(origin: str) -> str | None:
            request = urllib.request.Request(f"{url}/api/v1/info", headers={"Origin": origin})
            with urllib.request.urlopen(request) as response:
                return response.headers.get("access-control-allow-origin")

        assert allowed_origin(HELM_URL) == HELM_URL
        assert allowed_origin("https://elsewhere.example.com") is None
    finally:
        container.remove(force=True)
    return text


REMOTE_STACK = """stack_name: remote
components:
  orchestrator:
    - {{name: local-docker, flavor: local_docker, configuration: {{}}}}
  image_builder:
    - {{name: local-docker, flavor: local, configuration: {{}}}}
  container_registry:
    - {{name: team, flavor: default, configuration: {{uri: '{registry}'}}}}
  artifact_store:
    - name: s3
      flavor: s3
      configuration:
        path: s3://zenlock/artifacts
        key: "{{{{s3.aws_access_key_id}}}}"
        secret: "{{{{s3.aws_secret_access_key}}}}"
        client_kwargs: {{endpoint_url: "{endpoint}", region_name: us-east-1}}
"""
CLIENT_SCRIPT = """
import sys
import boto3
from zenml.client import Client

if sys.argv[1] == "secret":
    Client().create_secret(
        "s3", values={"aws_access_key_id": sys.argv[2], "aws_secret_access_key": sys.argv[3]}
    )
elif sys.argv[1] == "metric":
    print("metric", Client().get_artifact_version("test_accuracy").load())
else:
    s3 = boto3.client(
        "s3", endpoint_url=sys.argv[2], aws_access_key_id=sys.argv[3],
        aws_secret_access_key=sys.argv[4], region_name="us-east-1",
    )
    found = s3.list_objects_v2(Bucket="zenlock", Prefix="artifacts/code_uploads/")
    print("uploads", len(found.get("Contents", [])))
"""


def remote_project(tmp_path, registry):
    """A project whose images go to the test registry (logged in), and `client(ARGS)`, which
    runs CLIENT_SCRIPT with the project's ZenML (its server, its API key)."""
    address, docker_config = registry
    project = render_project(
        tmp_path / "project", **DOCKER_ANSWERS, container_registry=f"{address}/team"
    )
    nox("-s", "dev", cwd=project)
    assert docker_login(address, docker_config, PASSWORD).returncode == 0
    script = project / "build" / "remote.py"
    script.parent.mkdir()
    script.write_text(CLIENT_SCRIPT)
    python = project / ".venv" / "bin" / "python"

    def client(*args: str) -> str:
        exec_args = ("-m", "zenlock", "exec", str(python), str(script), *args)
        return run(python, *exec_args, cwd=project, DOCKER_CONFIG=str(docker_config)).stdout

    return project, client


@pytest.fixture(scope="module")
def s3_served(registry, s3_api, tmp_path_factory, docker_client):
    """A remote project with the S3 integration in its lock and in its server, the server up
    and the S3 key among its secrets: made once for the remote-shaped stack and Airflow (the
    module's tests run on one worker, in order; each adds what else it needs)."""
    address, _ = registry
    project, client = remote_project(tmp_path_factory.mktemp("s3-served"), registry)
    try:
        nox("-s", "integrations", "--", "add", "s3", "--server", cwd=project)
        nox("-s", "server", cwd=project)
        port = free_port()
        nox("-s", "server", "--", "up", "--port", str(port), cwd=project)
        client("secret", S3_KEY, S3_SECRET)
        yield project, client, port
    finally:
        remove_servers(docker_client, project)
        untag(docker_client, f"{address}/team/")


def test_a_remote_shaped_stack_runs_in_both_modes(registry, s3_api, s3_served, tmp_path):
    """S3 artifacts, images from the registry, local Docker steps, the project's server."""
    address, docker_config = registry
    auth = {"DOCKER_CONFIG": str(docker_config)}
    project, client, url_port = s3_served

    def uploads() -> int:
        said = client("uploads", s3_api, S3_KEY, S3_SECRET)
        return int(said.split("uploads ")[1].split()[0])

    (project / "configs" / "stacks" / "remote.yaml").write_text(
        REMOTE_STACK.format(registry=f"{address}/team", endpoint=s3_api)
    )
    assert "ok  stack remote" in nox("-s", "check", "--", "--only", "stacks", cwd=project).stdout

    nox("-s", "images", "--", "--push", cwd=project, **auth)
    iterate = nox("-s", "run", "--", "--stack", "remote", cwd=project, **auth).stdout
    assert ": completed" in iterate and "@sha256:" in iterate
    assert "-> test_accuracy: s3://zenlock/artifacts/" in iterate
    assert 0.9 <= float(client("metric").split("metric ")[1].split()[0]) <= 1.0
    code_uploads = uploads()
    assert code_uploads >= 1  # iterate: ZenML shipped the code through the bucket
    archive = newest_artifact_archive(project, f"http://127.0.0.1:{url_port}")
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as files:
        assert files.getnames()  # the server read an S3 artifact (the dashboard can)

    nox("-s", "images", "--", "--release", "--push", cwd=project, **auth)
    release = nox("-s", "run", "--", "--stack", "remote", cwd=project, **auth).stdout
    assert ": completed" in release and "release mode" in release
    assert uploads() == code_uploads  # release: the code is in the image, nothing uploaded
    stack_file = (project / "configs" / "stacks" / "remote.yaml").read_text()
    assert S3_SECRET not in stack_file and S3_SECRET not in iterate + release

    # The Kubernetes example, with its placeholders: parity first, then the real server.
    stacks = project / "configs" / "stacks"
    shutil.copy(stacks / "examples" / "kubernetes.yaml", stacks / "kubernetes.yaml")
    drift = nox("-s", "check", "--", "--only", "stacks", cwd=project, check=False).stdout
    assert "nox -s integrations -- add kubernetes" in drift
    nox("-s", "integrations", "--", "add", "kubernetes", cwd=project)
    checked = nox("-s", "check", "--", "--only", "stacks", cwd=project).stdout
    assert "ok  stack kubernetes" in checked
    applied = nox("-s", "stacks", "--", "apply", "kubernetes", cwd=project).stdout
    assert "Stack kubernetes: registered" in applied
    # ZenML's own importer takes the same file (under another stack name).
    imported = tmp_path / "kubernetes-imported.yaml"
    imported.write_text(
        (stacks / "kubernetes.yaml")
        .read_text()
        .replace("stack_name: kubernetes", "stack_name: kubernetes-imported")
    )
    python, zenml_cli = (project / ".venv" / "bin" / name for name in ("python", "zenml"))
    run(python, "-m", "zenlock", "exec", zenml_cli, "stack", "import", imported, cwd=project)
    listed = run(python, "-m", "zenlock", "exec", zenml_cli, "stack", "list", cwd=project)
    assert "kubernetes-imported" in listed.stdout


# Apache Airflow lives in a venv of its own, from its own lock (.ci/airflow), never a project's.
AIRFLOW = os.environ.get("ZENLOCK_AIRFLOW") or shutil.which("airflow")


def latest_run(project) -> dict:
    """The project server's newest run."""
    return server_api(project, "/runs?size=1&sort_by=desc:created")["items"][0]


def dag_token(dag_file: Path) -> str:
    """The server token ZenML wrote into a DAG archive (every task's environment has it)."""
    config = json.loads(zipfile.ZipFile(dag_file).read("config.json"))
    (token,) = {task["environment"]["ZENML_STORE_API_TOKEN"] for task in config["tasks"]}
    return token


def claims(token: str) -> dict:
    """A JWT's claims, read without its key (what anyone holding the token can read)."""
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def with_token(url: str, token: str, path: str, method: str = "GET", body=None):
    """(HTTP status, answer) of the server's API asked with `token`, as a task would ask."""
    request = urllib.request.Request(
        f"{url}/api/v1{path}",
        data=json.dumps(body).encode() if body is not None else None,
        method=method,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as reply:
            return reply.status, json.load(reply)
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def test_airflow_runs_the_pipeline_from_our_image_by_digest(
    registry, s3_api, s3_served, tmp_path, docker_client
):
    """A real Airflow 2 scheduler takes ZenML's DAG and runs each step with its Docker operator
    in our pipeline image, pulled by digest from the registry; S3 artifacts; the project's
    server records the run. The server token in the DAG: what it can do, where Airflow keeps
    it, and when the server stops taking it (docs/stacks.md)."""
    if not AIRFLOW:
        unavailable("needs Apache Airflow: set ZENLOCK_AIRFLOW (see .ci/provision)")
    address, docker_config = registry
    auth = {"DOCKER_CONFIG": str(docker_config)}
    project, client, _ = s3_served
    home = tmp_path / "airflow"
    dags = home / "dags"
    dags.mkdir(parents=True)
    airflow_env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("ZENML_", "VIRTUAL_ENV"))},
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__SCHEDULER__DAG_DIR_LIST_INTERVAL": "5",
        "AIRFLOW__SCHEDULER__MIN_FILE_PROCESS_INTERVAL": "5",
        "DOCKER_CONFIG": str(docker_config),  # the workers' login to the registry
        # Airflow's executor starts `airflow tasks run` by name.
        "PATH": f"{Path(AIRFLOW).parent}{os.pathsep}{os.environ['PATH']}",
    }
    try:
        nox("-s", "integrations", "--", "add", "airflow", cwd=project)
        # The shipped example with its CHANGE-ME values filled in, as its header says.
        stacks = project / "configs" / "stacks"
        stack = yaml.safe_load((stacks / "examples" / "airflow.yaml").read_text())
        components = stack["components"]
        orchestrator = components["orchestrator"][0]["configuration"]
        orchestrator["dag_output_dir"] = str(dags)
        orchestrator["operator_args"]["network_mode"] = "host"  # the server is on 127.0.0.1
        components["container_registry"][0]["configuration"]["uri"] = f"{address}/team"
        store = components["artifact_store"][0]["configuration"]
        store["path"] = "s3://zenlock/airflow"
        store["client_kwargs"] = {"endpoint_url": s3_api, "region_name": "us-east-1"}
        (stacks / "airflow.yaml").write_text(yaml.safe_dump(stack, sort_keys=False))
        checked = nox("-s", "check", "--", "--only", "stacks", cwd=project).stdout
        assert "ok  stack airflow" in checked

        nox("-s", "images", "--", "--push", cwd=project, **auth)
        record = yaml.safe_load((project / "configs" / "images.yaml").read_text())
        (pipeline_image,) = record["pipelines"]["images"]
        connection = read_env_file(project / ".zenml-server" / "client.env")
        url = connection["ZENML_STORE_URL"]

        # A DAG that will never run holds a token without expiry: deleting its run ends it.
        nox("-s", "run", "--", "--stack", "airflow", cwd=project, **auth)
        (abandoned,) = dags.glob("*.zip")
        # For you and Airflow's group only, whatever the shell's umask (here 0o022).
        assert stat.S_IMODE(abandoned.stat().st_mode) == 0o640
        token = dag_token(abandoned)
        assert "exp" not in claims(token) and with_token(url, token, "/current-user")[0] == 200
        python, zenml_cli = (project / ".venv" / "bin" / name for name in ("python", "zenml"))
        run_id = claims(token)["pipeline_run_id"]
        run(python, "-m", "zenlock", "exec", zenml_cli, "pipeline", "runs", "delete", run_id,
            "--yes", cwd=project)  # fmt: skip
        assert with_token(url, token, "/current-user")[0] == 401
        abandoned.unlink()

        submitted = nox("-s", "run", "--", "--stack", "airflow", cwd=project, **auth).stdout
        assert pipeline_image["digest"] in submitted
        (dag_file,) = dags.glob("*.zip")
        assert stat.S_IMODE(dag_file.stat().st_mode) == 0o640
        dag_id = dag_file.stem
        dag_config = zipfile.ZipFile(dag_file).read("config.json").decode()
        project_key = connection["ZENML_STORE_API_KEY"]
        assert S3_SECRET not in dag_config and project_key not in dag_config  # the run's token only
        # What that token does while its run is unfinished: what the project's service account
        # does. It reads the server's secrets; it mints no API key (it is no admin).
        token = dag_token(dag_file)
        run_id = claims(token)["pipeline_run_id"]
        account = with_token(url, token, "/current-user")[1]
        assert account["body"]["is_service_account"] and not account["body"]["is_admin"]
        found = with_token(url, token, "/secrets?name=s3")[1]["items"]
        secret = with_token(url, token, f"/secrets/{found[0]['id']}")[1]
        assert secret["body"]["values"]["aws_secret_access_key"] == S3_SECRET
        api_keys = f"/service_accounts/{account['id']}/api_keys"
        assert with_token(url, token, api_keys, "POST", {"name": "outlives-the-run"})[0] == 403
        # ZenML gives a token of the run an expiry on request, and its holder trades that for
        # a token of the same run without one: an expiry binds no one who holds the token.
        status, expiring = with_token(url, token, "/api_token?token_type=generic&expires_in=300")
        assert status == 200 and claims(expiring)["pipeline_run_id"] == run_id
        assert "exp" in claims(expiring)
        status, lasting = with_token(
            url, expiring, f"/api_token?token_type=workload&pipeline_run_id={run_id}"
        )
        assert status == 200 and claims(lasting)["pipeline_run_id"] == run_id
        assert "exp" not in claims(lasting)
        # Gone from this engine: Airflow's Docker operator pulls it by digest, with its login.
        repository = pipeline_image["digest"].split("@")[0]
        untag(docker_client, f"{repository}:", f"{repository}@")

        subprocess.run([AIRFLOW, "db", "migrate"], cwd=home, env=airflow_env, check=True,
                       capture_output=True)  # fmt: skip
        with (
            (tmp_path / "scheduler.log").open("w") as log,
            background(AIRFLOW, "scheduler", env=airflow_env, log=log) as scheduler,
        ):
            deadline = time.monotonic() + 600
            status, dag_runs = "initializing", []
            while time.monotonic() < deadline and (
                status not in ("completed", "failed") or dag_runs == ["running"]
            ):
                assert scheduler.poll() is None, (tmp_path / "scheduler.log").read_text()[-4000:]
                time.sleep(5)
                status = latest_run(project)["body"]["status"]
                listed = subprocess.run(
                    [AIRFLOW, "dags", "list-runs", "-d", dag_id, "-o", "json"],
                    cwd=home, env=airflow_env, capture_output=True, text=True, check=True,
                ).stdout  # fmt: skip
                # Its JSON is the last line (Airflow logs to stdout before it).
                dag_runs = [found["state"] for found in json.loads(listed.splitlines()[-1])]
        assert status == "completed", submitted + (tmp_path / "scheduler.log").read_text()[-4000:]
        assert dag_runs == ["success"]  # and Airflow saw it so
        ended = server_api(project, f"/runs/{run_id}")["metadata"]["end_time"]
        ended = datetime.fromisoformat(ended).replace(tzinfo=UTC).timestamp()
        soon_after = (time.time() - ended, with_token(url, token, "/current-user")[0])
        # auto_remove: success (the example's) left no step container behind.
        assert not docker_client.containers.list(
            all=True, filters={"ancestor": pipeline_image["activated"]["image_id"]}
        )
        assert 0.9 <= float(client("metric").split("metric ")[1].split()[0]) <= 1.0
        # Each step ran in our image by its digest, pulled from the registry.
        pulled = docker_client.images.get(pipeline_image["digest"])
        assert pulled.id == pipeline_image["activated"]["image_id"]

        # Where Airflow keeps the token: in its metadata database's serialized DAG (each task's
        # environment); masked in the rendered fields, absent from the task logs.
        with contextlib.closing(sqlite3.connect(home / "airflow.db")) as database:
            serialized = database.execute("SELECT group_concat(data) FROM serialized_dag")
            rendered = database.execute(
                "SELECT group_concat(rendered_fields) FROM rendered_task_instance_fields"
            )
            assert token in serialized.fetchone()[0]
            assert token not in rendered.fetchone()[0]
        assert token.encode() not in b"".join(path.read_bytes() for path in home.rglob("*.log"))
        # The server takes the run's tokens for 60 s after the run ended, then refuses them
        # (zenlock's leeway; ZenML's own is an hour).
        probes = [soon_after]
        while probes[-1][1] == 200 and time.time() < ended + 120:
            time.sleep(1)
            probes.append((time.time() - ended, with_token(url, token, "/current-user")[0]))
        assert soon_after[1] == 200 and soon_after[0] < 60, probes
        refused_after, status = probes[-1]
        assert status == 401 and 60 <= refused_after <= 65, probes
        assert with_token(url, lasting, "/current-user")[0] == 401
    finally:  # the server and the images go with s3_served
        for image in docker_client.images.list(filters={"reference": f"{address}/team/*"}):
            for step in docker_client.containers.list(all=True, filters={"ancestor": image.id}):
                step.remove(force=True)
