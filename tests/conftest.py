"""Render the template with copier's API and drive the generated project for real."""

import atexit
import contextlib
import functools
import getpass
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import NoReturn

import copier
import docker
import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parents[1]
# Parent image of every image the tests build; CI builds a local one (no registry there).
PARENT_IMAGE = os.environ.get("ZENLOCK_PARENT_IMAGE", "python:3.11-slim-bookworm")
# Answers for projects whose images the tests build: host networking works on every Linux host.
DOCKER_ANSWERS = {
    "pipeline_parent_image": PARENT_IMAGE,
    "server_parent_image": PARENT_IMAGE,
    "docker_network": "host",
}
# A folder name with a space and a non-ASCII character: project paths must survive both.
SPACED_NAME = "my projé"
# Where generated projects keep their servers' artifacts (zenlock's data home) in this run.
DATA_HOME = Path(tempfile.mkdtemp(prefix="zenlock-data-"))
atexit.register(shutil.rmtree, DATA_HOME, ignore_errors=True)
# zenlock's wheel, built from the working tree when a test renders with the index source:
# every generated project's uv finds it there, as it would on a package index.
WHEELS = Path(tempfile.mkdtemp(prefix="zenlock-wheels-"))
atexit.register(shutil.rmtree, WHEELS, ignore_errors=True)
# Tools of this test environment (uv, nox) come first on the generated projects' PATH.
TOOLS_BIN = Path(sys.executable).parent

# One factor at a time: each set changes a few answers from the defaults.
ANSWER_SETS = {
    "defaults": {},
    "integrations-plugins": {
        "ml_integrations": ["sklearn", "pandas", "polars"],
        "server_plugins": ["secrets-aws", "connectors-kubernetes"],
    },
    "renamed-apache-noci": {
        "project_name": "Churn Forecast",
        "package_name": "churn_ai",
        "python_version": "3.11",
        "license": "Apache-2.0",
        "with_github_ci": False,
        "with_server_plugin": False,
        "container_registry": "ghcr.io/acme",
    },
}


def pytest_itemcollected(item: pytest.Item) -> None:
    """For the workers of `-n` (xdist's `--dist loadgroup`): tests that share a module's
    fixture (a rendered project, its images, its server), the served project or a synced
    answer set run on one worker, which makes it once. (Marked as collected: xdist reads the
    marks before any `pytest_collection_modifyitems` of a conftest runs.)"""
    fixtures = item._fixtureinfo.name2fixturedefs
    if "served_project" in item.fixturenames:
        item.add_marker(pytest.mark.xdist_group("served"))
    elif any(definitions[-1].scope == "module" for definitions in fixtures.values()):
        item.add_marker(pytest.mark.xdist_group(item.module.__name__))
    elif "synced_project" in item.fixturenames:
        item.add_marker(pytest.mark.xdist_group(f"synced-{item.callspec.params['answers']}"))


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The modules that start servers or build images first, so that no long module starts
    last while the other workers idle. Whole modules move: a module's tests keep their order
    (some build on the state the earlier ones leave in the module's project)."""
    tiers = ("early", "server", "docker", "slow")

    def tier(item: pytest.Item) -> int:
        marked = (n for n, marker in enumerate(tiers) if item.get_closest_marker(marker))
        return next(marked, len(tiers))

    module_tier: dict[str, int] = {}
    for item in items:
        module_tier[item.module.__name__] = min(
            tier(item), module_tier.get(item.module.__name__, 9)
        )
    items.sort(key=lambda item: module_tier[item.module.__name__])


@contextlib.contextmanager
def package_index(pages: dict[str, list[dict]], files: dict[str, bytes]) -> Iterator[str]:
    """A package index on 127.0.0.1 for the block, as uv reads one (PEP 691 JSON with PEP 700
    upload times): `pages` maps a project's name to its files' entries (`url` absolute, or
    /files/NAME for one of `files`). Yields its simple URL."""
    import http.server
    import threading

    class Index(http.server.BaseHTTPRequestHandler):
        def do_HEAD(self) -> None:  # noqa: N802 (http.server's names)
            self.do_GET(body=False)

        def do_GET(self, body: bool = True) -> None:  # noqa: N802
            name = self.path.removeprefix("/simple/").rstrip("/")
            if name in pages:
                content = json.dumps(
                    {"meta": {"api-version": "1.1"}, "name": name, "files": pages[name]}
                ).encode()
                kind = "application/vnd.pypi.simple.v1+json"
            elif self.path.startswith("/files/") and self.path[7:] in files:
                content, kind = files[self.path[7:]], "application/octet-stream"
            else:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(content)))
            self.end_headers()
            if body:
                self.wfile.write(content)

        def log_message(self, *args) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Index)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/simple/"
    finally:
        server.shutdown()
        server.server_close()


def use_index(pyproject: Path, package: str, url: str) -> None:
    """`package` from the index at `url` (and only it from there), in a generated project."""
    text = pyproject.read_text().replace(
        "[tool.uv.sources]\n", f'[tool.uv.sources]\n{package} = {{ index = "{package}" }}\n', 1
    )
    pyproject.write_text(f'{text}\n[[tool.uv.index]]\nname = "{package}"\nurl = "{url}"\n'
                         "explicit = true\n")  # fmt: skip


def project_env(**overrides: str) -> dict[str, str]:
    """The environment a new user's shell would give a generated project."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("VIRTUAL_ENV", "PYTHONDONTWRITEBYTECODE")
        and not key.startswith(("ZENML_", "NOX_", "UV_PROJECT"))
    }
    env.update(
        PATH=f"{TOOLS_BIN}{os.pathsep}{env.get('PATH', '')}",
        UV_PYTHON_DOWNLOADS="never",
        ZENML_ANALYTICS_OPT_IN="false",
        XDG_DATA_HOME=str(DATA_HOME),
        UV_FIND_LINKS=str(WHEELS),
    )
    env.update(overrides)  # a test may set any of the above, ZENML_ANALYTICS_OPT_IN too
    return env


def run(
    *args: str | Path, cwd: Path, check: bool = True, **env: str
) -> subprocess.CompletedProcess[str]:
    """Run a command in a generated project; a failure shows the command and its output."""
    result = subprocess.run(
        [str(arg) for arg in args],
        cwd=cwd,
        env=project_env(**env),
        capture_output=True,
        text=True,
    )
    if check and result.returncode != 0:
        answers = (
            (cwd / ".copier-answers.yml").read_text()
            if cwd.joinpath(".copier-answers.yml").exists()
            else ""
        )
        pytest.fail(
            f"`{' '.join(map(str, args))}` exited {result.returncode} in {cwd}\n"
            f"answers:\n{answers}\nstdout:\n{result.stdout[-6000:]}\nstderr:\n{result.stderr[-6000:]}",
            pytrace=False,
        )
    return result


def nox(*args: str, cwd: Path, check: bool = True, **env: str) -> subprocess.CompletedProcess[str]:
    """Run the generated project's noxfile with this environment's nox."""
    return run(sys.executable, "-m", "nox", *args, cwd=cwd, check=check, **env)


def git(*args: str, cwd: Path, **env: str) -> str:
    done = subprocess.run(
        ["git", *args], cwd=cwd, env={**os.environ, **env}, capture_output=True, text=True
    )
    if done.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)}: {done.stderr}")
    return done.stdout.strip()


@functools.cache
def template_repository() -> Path:
    """A git repository whose HEAD commit is this working tree, uncommitted changes included:
    what users render is a commit, and a render's default zenlock source is the template's
    repository at that commit. The commit is made with a private index and object folder, so
    this repository is left as it was; same tree, same commit (fixed author and dates)."""
    target = Path(tempfile.mkdtemp(prefix="zenlock-template-"))
    atexit.register(shutil.rmtree, target, ignore_errors=True)
    git("init", "-q", "-b", "main", str(target), cwd=target)
    objects = target / ".git" / "objects"
    (objects / "info" / "alternates").write_text(f"{REPO / '.git' / 'objects'}\n")
    who = {"NAME": "zenlock tests", "EMAIL": "tests@example.com", "DATE": "2000-01-01T00:00:00Z"}
    private = {
        "GIT_INDEX_FILE": str(target / ".git" / "working-tree-index"),
        "GIT_OBJECT_DIRECTORY": str(objects),
        "GIT_ALTERNATE_OBJECT_DIRECTORIES": str(REPO / ".git" / "objects"),
    }
    for role in ("AUTHOR", "COMMITTER"):
        private |= {f"GIT_{role}_{key}": value for key, value in who.items()}
    git("read-tree", "HEAD", cwd=REPO, **private)
    git("add", "-A", cwd=REPO, **private)  # what git would commit: .gitignore holds
    tree = git("write-tree", cwd=REPO, **private)
    commit = git("commit-tree", tree, "-p", "HEAD", "-m", "the working tree", cwd=REPO, **private)
    git("update-ref", "refs/heads/main", commit, cwd=target)
    git("reset", "-q", "--hard", cwd=target)
    return target


def zenlock_wheel() -> None:
    """zenlock built from this working tree into WHEELS, which every generated project's uv
    reads as find-links: what a package index would serve a project rendered at a release."""
    if not list(WHEELS.glob("zenlock-*.whl")):
        subprocess.run(
            [sys.executable, "-m", "uv", "build", "--wheel", "--quiet", "--out-dir", WHEELS, REPO],
            check=True,
            env={**os.environ, "UV_PYTHON_DOWNLOADS": "never"},
        )


def render_project(destination: Path, **answers) -> Path:
    """Render this working tree as users render a template: from a commit, with the default
    answers but those given. The project gets zenlock from the template's repository at that
    commit (`git`, the default before a release), or with `zenlock_source="index"` from a
    wheel of the working tree on find-links, as after a release. A test that needs an editable
    engine passes `zenlock_source="path"` (the path is this checkout) and says why."""
    if answers.get("zenlock_source") == "path":
        answers.setdefault("zenlock_path", str(REPO))
    if answers.get("zenlock_source") == "index":
        zenlock_wheel()
    copier.run_copy(
        str(template_repository()),
        destination,
        data=answers,
        defaults=True,
        vcs_ref="HEAD",
        quiet=True,
    )
    return destination


@pytest.fixture(scope="session")
def render(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Path]:
    """Render once per answer set and session; callers must not modify the result."""
    rendered: dict[str, Path] = {}

    def _render(**answers) -> Path:
        key = json.dumps(answers, sort_keys=True)
        if key not in rendered:
            rendered[key] = render_project(tmp_path_factory.mktemp("project"), **answers)
        return rendered[key]

    return _render


@pytest.fixture
def fresh_project(tmp_path: Path) -> Callable[..., Path]:
    """Render into this test's own folder, for tests that change the project."""
    return lambda **answers: render_project(tmp_path / "project", **answers)


@pytest.fixture(scope="session", params=list(ANSWER_SETS))
def answers(request: pytest.FixtureRequest) -> dict:
    return ANSWER_SETS[request.param]


@pytest.fixture(scope="session")
def project(render: Callable[..., Path], answers: dict) -> Path:
    return render(**answers)


@pytest.fixture(scope="session")
def synced_project(project: Path) -> Path:
    """The project after `nox -s dev`: uv.lock written, .venv synced from it."""
    nox("-s", "dev", cwd=project)
    return project


def unavailable(message: str) -> NoReturn:
    """Something a test needs is missing: a failure in CI (which provides it), a skip elsewhere."""
    if os.environ.get("CI"):
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


@contextlib.contextmanager
def background(
    *command: str | Path, env: dict[str, str] | None = None, log=None
) -> Iterator[subprocess.Popen]:
    """Run a server process for the block; stopped by its own process group, never by name."""
    process = subprocess.Popen(
        [str(part) for part in command],
        stdout=log or subprocess.DEVNULL,
        stderr=subprocess.STDOUT if log else subprocess.DEVNULL,
        start_new_session=True,
        env=env,
    )
    try:
        yield process
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


@pytest.fixture(scope="session")
def docker_client() -> docker.DockerClient:
    """The Docker engine; missing, it fails the run in CI and skips the test elsewhere."""
    try:
        client = docker.from_env()
        client.ping()
    except docker.errors.DockerException as error:
        unavailable(f"Docker engine not reachable: {error}")
    return client


def git_commit(project: Path, message: str) -> None:
    run("git", "init", "-q", cwd=project)
    run("git", "add", "-A", cwd=project)
    run(
        "git",
        "-c",
        "user.name=Test",
        "-c",
        "user.email=test@example.com",
        "commit",
        "-qm",
        message,
        cwd=project,
    )


# Read with the image's own python: no pip needed, and nothing installed for the check.
INSPECT = """
import importlib.metadata, json, os, platform, sys
print(json.dumps({
    "uid": os.getuid(),
    "installed": {d.metadata["Name"]: d.version for d in importlib.metadata.distributions()},
    "environment": {
        "implementation_name": sys.implementation.name,
        "os_name": os.name,
        "platform_machine": platform.machine(),
        "platform_python_implementation": platform.python_implementation(),
        "platform_system": platform.system(),
        "python_full_version": platform.python_version(),
        "python_version": ".".join(platform.python_version_tuple()[:2]),
        "sys_platform": sys.platform,
    },
}))
"""


def inspect_image(docker_client, tag: str) -> dict:
    output = docker_client.containers.run(
        tag, ["python", "-c", INSPECT], remove=True, network_mode="host"
    )
    return json.loads(output)


# What the default project's pipeline image selects from the lock.
PIPELINE_SELECTION = (
    "--no-default-groups",
    "--group=pipeline-image",
    "--group=integration-sklearn",
)


def locked_pins(project: Path, environment: dict, *selection: str) -> dict[str, str]:
    """The export's pins that apply to an interpreter with this marker environment."""
    export = run(
        "uv",
        "export",
        "--frozen",
        "--no-emit-project",
        "--no-hashes",
        "--no-header",
        "--format=requirements.txt",
        *(selection or ["--no-default-groups"]),
        cwd=project,
    ).stdout
    pins = {}
    for line in export.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        requirement = Requirement(line)
        if requirement.marker is None or requirement.marker.evaluate(environment):
            (specifier,) = requirement.specifier
            pins[canonicalize_name(requirement.name)] = specifier.version
    return pins


def read_env_file(path: Path) -> dict[str, str]:
    """KEY=VALUE lines, as a shell's `set -a; . FILE` would read them (values may hold spaces)."""
    return dict(line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)


def server_api(project: Path, path: str) -> dict:
    """GET `path` of the project's server API with the project's API key (as its client asks:
    no ZenML import, which costs seconds of CPU each time)."""
    connection = read_env_file(project / ".zenml-server" / "client.env")
    url, key = connection["ZENML_STORE_URL"], connection["ZENML_STORE_API_KEY"]
    form = urllib.parse.urlencode({"grant_type": "zenml-api-key", "password": key}).encode()
    with urllib.request.urlopen(f"{url}/api/v1/login", data=form) as response:
        token = json.load(response)["access_token"]
    request = urllib.request.Request(
        f"{url}/api/v1{path}", headers={"Authorization": f"Bearer {token}"}
    )
    with urllib.request.urlopen(request) as response:
        return json.load(response)


def run_count(project: Path) -> int:
    """The runs the project's server lists."""
    return server_api(project, "/runs?size=1")["total"]


def free_port() -> int:
    """A free port of this xdist worker's own range: two workers never pick the same one
    between the probe and the server's bind (the kernel's choice can repeat across them)."""
    worker = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw") or 0)
    first = 20000 + (worker % 8) * 1500  # below the ephemeral range
    for port in secrets.SystemRandom().sample(range(first, first + 1500), 200):
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port in {first}-{first + 1499}")


def server_containers(docker_client, project) -> list:
    """The containers `up` started for this project, found by its project label."""
    identity_file = project / ".zenml-server" / "project-id"
    if not identity_file.is_file():
        return []
    label = f"envtools.server={identity_file.read_text().strip()}"
    return docker_client.containers.list(all=True, filters={"label": label})


def remove_servers(docker_client, project) -> None:
    for container in server_containers(docker_client, project):
        mounts = container.attrs["Mounts"]
        container.remove(force=True)
        for volume in [mount["Name"] for mount in mounts if mount["Type"] == "volume"]:
            docker_client.volumes.get(volume).remove(force=True)


def newest_artifact_archive(project: Path, url: str) -> bytes:
    """The newest artifact's data as the dashboard downloads it: the admin logs in, gets a
    download token, and the server reads the artifact from its store."""
    admin = read_env_file(project / ".zenml-server" / "admin.env")
    form = urllib.parse.urlencode(
        {
            "username": admin["ZENML_DEFAULT_USER_NAME"],
            "password": admin["ZENML_DEFAULT_USER_PASSWORD"],
        }
    ).encode()
    with urllib.request.urlopen(f"{url}/api/v1/login", data=form) as response:
        token = json.load(response)["access_token"]

    def get(path: str, token: str | None = token) -> bytes:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        request = urllib.request.Request(f"{url}/api/v1{path}", headers=headers)
        with urllib.request.urlopen(request) as reply:
            return reply.read()

    newest = json.loads(get("/artifact_versions?sort_by=desc:created&size=1"))["items"][0]["id"]
    download = json.loads(get(f"/artifact_versions/{newest}/download-token"))
    return get(f"/artifact_versions/{newest}/data?token={download}", token=None)


class MariaDB:
    """A MariaDB server on 127.0.0.1 for the session; `database()` gives each test its own."""

    def __init__(self, folder: Path, port: int):
        self.socket, self.port = folder / "sock", port

    def sql(self, statement: str) -> str:
        return run("mariadb", f"--socket={self.socket}", "-N", "-e", statement, cwd=REPO).stdout

    def database(self, name: str) -> str:
        """A new database and a user with a random password; the URL the server env names."""
        password = secrets.token_urlsafe(18)
        self.sql(
            f"CREATE DATABASE `{name}`; CREATE USER '{name}'@'%' IDENTIFIED BY '{password}'; "
            f"GRANT ALL ON `{name}`.* TO '{name}'@'%';"
        )
        return f"mysql://{name}:{password}@127.0.0.1:{self.port}/{name}"


@contextlib.contextmanager
def mariadb_process(folder: Path, port: int) -> Iterator[MariaDB]:
    """Debian's mariadbd on `folder`'s data (made if new), as this user, stopped by pid."""
    server = shutil.which("mariadbd", path=f"{os.environ.get('PATH', '')}:/usr/sbin")
    install = shutil.which("mariadb-install-db")
    if not server or not install or not shutil.which("mariadb"):
        unavailable("MariaDB is not installed: apt-get install mariadb-server")
    user = f"--user={getpass.getuser()}"
    new = not (folder / "data").is_dir()
    if new:
        run(install, user, f"--datadir={folder / 'data'}", "--skip-test-db", cwd=REPO)
    process = subprocess.Popen(
        [server, user, f"--datadir={folder / 'data'}", "--bind-address=127.0.0.1",
         f"--port={port}", f"--socket={folder / 'sock'}", f"--pid-file={folder / 'pid'}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    database = MariaDB(folder, port)
    try:
        for _ in range(60):
            if (
                subprocess.run(
                    ["mariadb", f"--socket={database.socket}", "-e", "SELECT 1"],
                    capture_output=True,
                ).returncode
                == 0
            ):
                break
            time.sleep(0.5)
        if new:  # as mariadb-secure-installation does: no anonymous users (they shadow ours)
            database.sql("DELETE FROM mysql.global_priv WHERE User = ''; FLUSH PRIVILEGES;")
        yield database
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)


@pytest.fixture(scope="session")
def mariadb() -> Iterator[MariaDB]:
    """A MariaDB server for the session, in a folder of its own."""
    folder = Path(tempfile.mkdtemp(prefix="mariadb-"))  # short: a socket path has a limit
    try:
        with mariadb_process(folder, free_port()) as database:
            yield database
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def served_project(tmp_path_factory, docker_client):
    """A project whose server runs, with one training run made through it: made once and
    shared by every module that uses `served` (they run on one worker, one after another)."""
    project = render_project(tmp_path_factory.mktemp("safety") / "project", **DOCKER_ANSWERS)
    nox("-s", "dev", cwd=project)
    nox("-s", "server", cwd=project)
    port = free_port()
    nox("-s", "server", "--", "up", "--port", str(port), cwd=project)
    nox("-s", "run", cwd=project)
    yield project, f"http://127.0.0.1:{port}", port
    remove_servers(docker_client, project)


def keep_serving(served_project, docker_client) -> tuple[Path, str, int]:
    """The served project with its server running at its URL: started again only when a test
    before left it stopped (or elsewhere), so that a test that ends stopped and the next that
    starts by stopping cost no boot between them."""
    project, url, port = served_project
    running = [c for c in server_containers(docker_client, project) if c.status == "running"]
    if running and running[0].labels.get("envtools.server-url") == url:
        return served_project
    if running:  # at the other address a test gave it
        nox("-s", "server", "--", "down", cwd=project)
    nox("-s", "server", "--", "up", "--port", str(port), cwd=project)
    return served_project


@pytest.fixture
def served(served_project, docker_client):
    """The shared served project, its server running at each test's start. A test may stop
    the server and leave it stopped; it restores whatever else it changed."""
    return keep_serving(served_project, docker_client)


@pytest.fixture
def served_stopped(served_project, docker_client):
    """The shared served project with no server container: for tests that start from a
    stopped server (one left stopped by the test before costs nothing)."""
    if server_containers(docker_client, served_project[0]):
        nox("-s", "server", "--", "down", cwd=served_project[0])
    return served_project


def admin_login(url: str, username: str, password: str) -> int:
    form = urllib.parse.urlencode({"username": username, "password": password}).encode()
    try:
        with urllib.request.urlopen(f"{url}/api/v1/login", data=form) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def client_python(project, code: str) -> str:
    """`code` as the project's sessions run it: its ZenML config, its server, its API key."""
    script = project / "build" / f"probe_{secrets.token_hex(4)}.py"
    script.parent.mkdir(exist_ok=True)
    script.write_text(code)
    python = project / ".venv" / "bin" / "python"
    return run(python, "-m", "zenlock", "exec", python, script, cwd=project).stdout


def read_secret(project, name: str) -> str:
    code = f"from zenml.client import Client\nprint(Client().get_secret({name!r}).secret_values)\n"
    return client_python(project, code)


REGISTRY_BIN = shutil.which("docker-registry")
REGISTRY_PASSWORD = "zenlock-registry-Passw0rd-only-in-docker-config"


REGISTRY_LOGS: dict[str, Path] = {}  # address: the registry's access log


def blob_uploads(address: str) -> int:
    """Blob uploads the registry at `address` completed (PUT …/blobs/uploads/…: 201)."""
    log = REGISTRY_LOGS[address].read_text()
    return len(re.findall(r'"PUT /v2/\S+/blobs/uploads/\S+ HTTP/1.1" 201', log))


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    """A registry on 127.0.0.1 that wants a login; its address and a Docker config folder
    (its access log: `blob_uploads`)."""
    if not REGISTRY_BIN or not shutil.which("htpasswd"):
        unavailable("needs Debian's docker-registry and apache2-utils (htpasswd)")
    folder = tmp_path_factory.mktemp("registry")
    htpasswd = run("htpasswd", "-Bbn", "ci", REGISTRY_PASSWORD, cwd=folder).stdout
    (folder / "htpasswd").write_text(htpasswd)
    port = free_port()
    config = {
        "version": 0.1,
        "log": {"level": "info"},  # its access log: `blob_uploads`
        "storage": {"filesystem": {"rootdirectory": str(folder / "data")}},
        "http": {"addr": f"127.0.0.1:{port}"},
        "auth": {"htpasswd": {"realm": "zenlock", "path": str(folder / "htpasswd")}},
    }
    (folder / "config.yml").write_text(yaml.safe_dump(config))
    log = folder / "registry.log"
    with log.open("wb") as out, background(REGISTRY_BIN, "serve", folder / "config.yml", log=out):
        address = f"127.0.0.1:{port}"
        REGISTRY_LOGS[address] = log
        for _ in range(50):
            try:
                urllib.request.urlopen(f"http://{address}/v2/", timeout=1)
            except urllib.error.HTTPError:  # 401: up, and wants a login
                break
            except OSError:
                time.sleep(0.1)
        docker_config = folder / "docker-config"
        docker_config.mkdir()
        yield address, docker_config


def docker_login(address: str, docker_config, password: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["docker", "login", address, "--username", "ci", "--password-stdin"],
        input=password,
        env={**os.environ, "DOCKER_CONFIG": str(docker_config)},
        capture_output=True,
        text=True,
    )


def untag(docker_client, *prefixes: str) -> None:
    """Remove this test's references (tags and digests) that start with a prefix, never an image
    by its id: another test's identical image (same inputs, same id) may be in use."""
    for image in docker_client.images.list():
        for reference in image.tags + image.attrs.get("RepoDigests", []):
            if reference.startswith(prefixes):
                with contextlib.suppress(docker.errors.ImageNotFound):  # its last one went first
                    docker_client.images.remove(reference)
