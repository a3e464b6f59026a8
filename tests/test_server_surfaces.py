"""The server's newest surfaces by their grammar and by what they send: URLs and hosts (IPv6
in brackets), `connect` against fake servers that record every request (no credential before
/api/v1/info shows a ZenML server, never the project's own key), plain HTTP refused, and the
strength rules every deployment shares. Fast: no rendering, no Docker."""

import http.server
import json
import os
import runpy
import socket
import subprocess
import sys
import threading
import uuid
from contextlib import contextmanager
from pathlib import Path

import pytest
import yaml
from conftest import REPO

from zenlock import ZenlockError
from zenlock.credentials import weakness
from zenlock.helmvalues import SECRET_KEYS
from zenlock.inputs import http_url, is_loopback, server_url
from zenlock.serverspec import SECURE_DEFAULTS
from zenlock.state import write_env_file

# --- URLs and hosts by their grammar ------------------------------------------------------

LISTEN_URLS = {
    ("127.0.0.1", 8238): "http://127.0.0.1:8238",
    ("::1", 8712): "http://[::1]:8712",
    ("::", 1): "http://[::]:1",
    ("2001:db8::8a2e:370:7334", 65535): "http://[2001:db8::8a2e:370:7334]:65535",
    ("fe80::1%eth0", 80): "http://[fe80::1%25eth0]:80",
    ("localhost", 8080): "http://localhost:8080",
    ("db.example.com.", 8080): "http://db.example.com.:8080",
}


@pytest.mark.parametrize(("listen", "url"), LISTEN_URLS.items())
def test_a_url_is_made_from_host_and_port_with_brackets_for_ipv6(listen, url):
    assert http_url(*listen) == url


@pytest.mark.parametrize(
    "listen", [listen for listen in LISTEN_URLS if "%" not in listen[0]]
)  # a zone id is this machine's own: no server URL carries one
def test_every_url_made_from_a_host_is_a_server_url(listen):
    url = http_url(*listen)
    assert server_url(url, "url", allow_http=True) == (url, url)


LOOPBACK = ["127.0.0.1", "127.8.9.10", "::1", "[::1]", "localhost", "LocalHost", "localhost."]
NOT_LOOPBACK = ["10.0.0.7", "0.0.0.0", "::", "fd00::2", "example.com", "localhost.example.com"]


@pytest.mark.parametrize("host", LOOPBACK)
def test_loopback_hosts(host):
    assert is_loopback(host)


@pytest.mark.parametrize("host", NOT_LOOPBACK)
def test_hosts_other_machines_reach(host):
    assert not is_loopback(host)


GOOD_URLS = {
    "https://zenml.example.com": "https://zenml.example.com",
    "https://zenml.example.com/": "https://zenml.example.com",
    "https://zenml.example.com:8443/team/zenml/": "https://zenml.example.com:8443/team/zenml",
    "https://zenml.example.com/a%20b/~x_y-z.1/v:2": "https://zenml.example.com/a%20b/~x_y-z.1/v:2",
    "https://10.0.0.7": "https://10.0.0.7",
    "https://[2001:db8::1]:443/zenml": "https://[2001:db8::1]:443/zenml",
    "http://127.0.0.1:8080": "http://127.0.0.1:8080",
    "http://127.0.0.2:1/zenml": "http://127.0.0.2:1/zenml",
    "http://[::1]:8712": "http://[::1]:8712",
    "http://localhost:8237": "http://localhost:8237",
}
BAD_URLS = [
    "http://::1:8712",  # IPv6 without brackets: where does the port start?
    "http://[127.0.0.1]:80",  # brackets are for IPv6 only
    "http://[::1::2]:80", "http://[fe80::1%25eth0]:80", "http://[]:80",
    "https://user@zenml.example.com", "https://user:pw@zenml.example.com",
    "https://zenml.example.com/@evil.example", "https://zenml.example.com?next=/",
    "https://zenml.example.com/#top", "https://zenml.example.com/a b", "https://zenml.example.com/<x>",
    'https://zenml.example.com/"x"', "https://zenml.example.com/%zz", "https://zenml.example.com/%2",
    "https://zenml.example.com//x", "https://zenml.example.com/./x", "https://zenml.example.com/a/..",
    "https://zenml.example.com/a\\b", "https://zenml.example.com/\u00e9", "https://zenml.example.com:",
    "https://zenml.example.com:0", "https://zenml.example.com:99999", "https://zenml.example.com:8a",
    "HTTPS://zenml.example.com", "https//zenml.example.com", "https:/zenml.example.com",
    "ws://zenml.example.com", "https://zenml_example.com", "https://exa mple.com", "https:// x",
    " https://zenml.example.com", "https://zenml.example.com\n",
]  # fmt: skip
PLAIN_HTTP_ELSEWHERE = [
    "http://zenml.example.com", "http://10.0.0.7:8080", "http://[fd00::2]:8080",
    "http://0.0.0.0:8080", "http://localhost.example.com",
]  # fmt: skip


@pytest.mark.parametrize(("value", "url"), GOOD_URLS.items())
def test_server_urls_by_their_grammar(value, url):
    assert server_url(value, "--url")[0] == url


@pytest.mark.parametrize("value", BAD_URLS)
def test_bad_server_urls_are_one_line(value):
    with pytest.raises(ZenlockError) as refused:
        server_url(value, "--url", allow_http=True)
    message = str(refused.value)
    assert message.startswith("--url = ") and "is not a server URL" in message
    assert "\n" not in message.replace(repr(value), "")


@pytest.mark.parametrize("value", PLAIN_HTTP_ELSEWHERE)
def test_plain_http_to_another_machine_needs_allow_http(value):
    with pytest.raises(ZenlockError) as refused:
        server_url(value, "connect URL")
    message = str(refused.value)
    assert "plain HTTP to another machine" in message and "--allow-http" in message
    assert "\n" not in message
    assert server_url(value, "connect URL", allow_http=True)[0] == value


# --- connect against servers that record what they receive --------------------------------

OWN_KEY = "ZENKEY_own-project-key-" + "k" * 40
TYPED_PASSWORD = "the-admin-password-typed-once"
ZENML_INFO = {
    "id": str(uuid.uuid4()),
    "version": "0.98.0",
    "auth_scheme": "OAUTH2_PASSWORD_BEARER",
    "deployment_type": "docker",
    "database_type": "sqlite",
}


class Recorder(http.server.BaseHTTPRequestHandler):
    """Answers from `server.routes` (path -> (status, headers, body)); 404 elsewhere. Every
    request is kept in `server.requests`."""

    def answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode(errors="replace") if length else ""
        self.server.requests.append(
            {"method": self.command, "path": self.path, "headers": dict(self.headers), "body": body}
        )
        status, headers, content = self.server.routes.get(self.path, (404, {}, b"not found"))
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value.replace("{origin}", self.server.origin))
        self.send_header("Content-Length", str(len(content)))
        self.end_headers()
        self.wfile.write(content)

    do_GET = do_POST = do_PUT = do_DELETE = answer

    def log_message(self, *args) -> None:
        pass


@contextmanager
def recording_server(routes: dict, host: str = "127.0.0.1"):
    family = socket.AF_INET6 if ":" in host else socket.AF_INET

    class Server(http.server.ThreadingHTTPServer):
        address_family = family

    server = Server((host, 0), Recorder)
    server.routes, server.requests = routes, []
    server.origin = http_url(host, server.server_address[1])
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def json_answer(value) -> tuple:
    return 200, {"Content-Type": "application/json"}, json.dumps(value).encode()


HEALTH = {"/health": json_answer("OK")}
IMPOSTORS = {
    "health-only": ({**HEALTH}, "HTTP 404 at /api/v1/info"),
    "not-zenml-info": (
        {**HEALTH, "/api/v1/info": json_answer({"version": "2.1", "name": "some app"})},
        "is not ZenML's",
    ),
    "bad-id": (
        {**HEALTH, "/api/v1/info": json_answer({**ZENML_INFO, "id": "server-1"})},
        "is not ZenML's",
    ),
    "html-info": (
        {**HEALTH, "/api/v1/info": (200, {"Content-Type": "text/html"}, b"<html>hi</html>")},
        "is not ZenML's",
    ),
    "list-info": ({**HEALTH, "/api/v1/info": json_answer([ZENML_INFO])}, "is not ZenML's"),
    "redirect": (
        {
            **HEALTH,
            "/api/v1/info": (302, {"Location": "{origin}/real/api/v1/info"}, b""),
            "/real/api/v1/info": json_answer(ZENML_INFO),
        },
        "redirects to",
    ),
    "no-auth": (
        {**HEALTH, "/api/v1/info": json_answer({**ZENML_INFO, "auth_scheme": "NO_AUTH"})},
        "logs in by NO_AUTH",
    ),
    "external-auth": (
        {**HEALTH, "/api/v1/info": json_answer({**ZENML_INFO, "auth_scheme": "EXTERNAL"})},
        "logs in by EXTERNAL",
    ),
}


@pytest.fixture
def connected_project(tmp_path):
    """A project folder connected to its own server (http://127.0.0.1:8238) with its key."""
    project = tmp_path / "project"
    project.mkdir()
    (project / "pyproject.toml").write_text(
        '[project]\nname = "p"\n\n[tool.zenlock]\nschema = 1\n\n'
        '[tool.zenlock.server]\nparent = "python:3.11-slim-bookworm"\n'
    )
    state = project / ".zenml-server"
    write_env_file(state / "api-key", {"ZENML_STORE_API_KEY": OWN_KEY})
    own = {"ZENML_STORE_URL": "http://127.0.0.1:8238", "ZENML_STORE_API_KEY": OWN_KEY}
    write_env_file(state / "client.env", own)
    (state / "project-id").write_text("0123456789ab\n")
    return project


def zenlock_server(project: Path, *args: str, typed: str = TYPED_PASSWORD):
    """`zenlock server ARGS` in the project, without a terminal (getpass reads stdin)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZENML_")}
    return subprocess.run(
        [sys.executable, "-m", "zenlock", "server", *args],
        cwd=project, input=typed + "\n", capture_output=True, text=True, start_new_session=True,
        env={**env, "XDG_DATA_HOME": str(project.parent / "data")},
    )  # fmt: skip


def credentials_in(requests: list[dict]) -> list[str]:
    """Which credentials any request carried: an Authorization header, the typed password,
    the project's key, an API-key login."""
    found = []
    for request in requests:
        text = json.dumps(request)
        found += [f"Authorization in {request['path']}"] * ("authorization" in text.lower())
        found += [f"password in {request['path']}"] * (TYPED_PASSWORD in text)
        found += [f"own key in {request['path']}"] * (OWN_KEY in text)
        found += [f"api-key login in {request['path']}"] * ("zenml-api-key" in text)
    return found


@pytest.mark.parametrize(("routes", "why"), IMPOSTORS.values(), ids=IMPOSTORS)
def test_connect_sends_no_credential_to_what_is_no_zenml_server_with_logins(
    connected_project, routes, why
):
    state = connected_project / ".zenml-server"
    before = {path.name: path.read_bytes() for path in state.iterdir()}
    with recording_server(routes) as server:
        refused = zenlock_server(connected_project, "connect", server.origin)
    said = refused.stdout + refused.stderr
    assert refused.returncode == 1 and why in said, said
    assert said.count("\n") == 1 and said.startswith("error: ") and "Nothing was sent" in said
    assert "Password of" not in said  # never asked
    assert server.requests and credentials_in(server.requests) == []
    assert all(request["method"] == "GET" for request in server.requests)
    assert {path.name: path.read_bytes() for path in state.iterdir()} == before


def test_connect_never_sends_the_projects_own_key_to_another_server(connected_project):
    """A ZenML-like server that takes the typed password: it gets that password, once, at
    its login, and no key of this project (the own server's key stays with the own server)."""
    routes = {
        **HEALTH,
        "/api/v1/info": json_answer(ZENML_INFO),
        "/api/v1/login": json_answer({"access_token": "token-of-the-fake", "token_type": "bearer"}),
    }
    client_env = (connected_project / ".zenml-server" / "client.env").read_bytes()
    with recording_server(routes) as server:
        zenlock_server(connected_project, "connect", server.origin)
    logins = [r for r in server.requests if r["path"] == "/api/v1/login"]
    assert len(logins) >= 1 and TYPED_PASSWORD in logins[0]["body"]
    assert not [found for found in credentials_in(server.requests) if "own key" in found]
    assert not [found for found in credentials_in(server.requests) if "api-key login" in found]
    # No key was made here (the fake cannot): the connection is unchanged.
    assert (connected_project / ".zenml-server" / "client.env").read_bytes() == client_env


def other_address() -> str | None:
    """An address of this machine that is not loopback, if it has one."""
    for family, probe in ((socket.AF_INET, "192.0.2.1"), (socket.AF_INET6, "2001:db8::1")):
        with socket.socket(family, socket.SOCK_DGRAM) as udp:
            try:
                udp.connect((probe, 9))
            except OSError:
                continue
            address = udp.getsockname()[0]
            if not is_loopback(address) and not address.startswith("fe80"):
                return address
    return None


def test_plain_http_to_another_machine_is_refused_before_any_request(connected_project):
    address = other_address()
    if address is None:
        pytest.skip("this machine has no address but loopback")
    routes = {**HEALTH, "/api/v1/info": json_answer({**ZENML_INFO, "auth_scheme": "NO_AUTH"})}
    with recording_server(routes, host=address) as server:
        for args in (["connect", server.origin], ["helm", "--url", server.origin]):
            refused = zenlock_server(connected_project, *args)
            said = refused.stdout + refused.stderr
            assert refused.returncode == 1 and said.count("\n") == 1, said
            assert "plain HTTP to another machine" in said and "--allow-http" in said
        assert server.requests == []
        # Said on purpose, the URL is asked (and only asked: this one has no logins).
        allowed = zenlock_server(connected_project, "connect", server.origin, "--allow-http")
        assert "logs in by NO_AUTH" in allowed.stderr
        assert [r["path"] for r in server.requests] == ["/api/v1/info"]
        assert credentials_in(server.requests) == []


def test_a_url_of_bad_grammar_is_refused_before_any_request(connected_project):
    with recording_server(HEALTH) as server:
        port = server.server_address[1]
        for bad in (f"http://127.0.0.1:{port}/?x=1", f"http://u:p@127.0.0.1:{port}",
                    f"http://::1:{port}", f"http://127.0.0.1:{port}/#f"):  # fmt: skip
            refused = zenlock_server(connected_project, "connect", bad)
            assert "is not a server URL" in refused.stderr and refused.stderr.count("\n") == 1
        assert server.requests == []


# --- the strength rules every deployment applies -------------------------------------------

CHECK_SETTINGS = REPO / "template" / "deploy" / "check_settings.py"
PASSWORDS = {
    "": False, "admin": False, "ADMIN": False, "x": False, "changeme": False, "zenml": False,
    "short-pw-11": False, "aaaaaaaaaaaaaaaa": False, "abababababab": False, "abcdabcdabcd": False,
    "twelve-chars": True, "correct horse battery": True, "p@ss/w:rd#1?%x": True,
}  # fmt: skip
KEYS = {
    "": False, "x": False, "secret": False, "0" * 64: False, "a1" * 16: False,
    "0123456789abcdef0123456789abcde": False, "0123456789abcdef0123456789abcdef": True,
}  # fmt: skip


@pytest.mark.parametrize(("value", "strong"), PASSWORDS.items())
def test_password_rules(value, strong):
    assert (weakness(value) is None) == strong


@pytest.mark.parametrize(("value", "strong"), KEYS.items())
def test_key_rules(value, strong):
    assert (weakness(value, key=True) is None) == strong


def test_the_compose_check_applies_the_same_rules():
    """deploy/check_settings.py runs in the server image (no zenlock there): its rules are
    zenlock's, case by case."""
    check = runpy.run_path(str(CHECK_SETTINGS))
    for value in [*PASSWORDS, *KEYS]:
        for key in (False, True):
            assert check["weakness"](value, key=key) == weakness(value, key=key), (value, key)


# --- Helm: the secret's values, made strong and checked by the same rules ------------------


@pytest.fixture
def helm_secret(tmp_path):
    """The secret's values of a project in `tmp_path`, read (and made) as `helm` does."""
    from zenlock import helmvalues
    from zenlock.project import Project

    project = Project.at(tmp_path)
    return lambda: helmvalues.secret_values(project)


def test_helm_secret_values_are_made_strong_and_private(helm_secret, tmp_path):
    made = helm_secret()
    assert set(made) == set(SECRET_KEYS.values())
    assert weakness(made["admin-password"]) is None
    assert weakness(made["jwt-secret-key"], key=True) is None
    assert weakness(made["secrets-store-encryption-key"], key=True) is None
    assert (tmp_path / "deploy" / "helm-secret.env").stat().st_mode & 0o777 == 0o600
    assert helm_secret() == made  # kept: the secrets belong to the data


@pytest.mark.parametrize(
    ("line", "said"),
    [
        ("admin-password=admin", "admin-password in deploy/helm-secret.env is empty or a default"),
        ("jwt-secret-key=x", "jwt-secret-key in deploy/helm-secret.env is shorter than 32"),
        ("secrets-store-encryption-key=" + "ab" * 20, "has fewer than 5 different characters"),
        (
            "store-url=mysql://zenml:p@ss#1@db:3306/zenml",
            "store-url in deploy/helm-secret.env is not",
        ),
        ("store-url=mysql://zenml:p%40ss%231@db:3306/zenml", None),
        ("store-url=sqlite:////zenml/zenml.db", None),
    ],
)
def test_helm_secret_values_are_checked_by_the_rules_of_every_deployment(
    helm_secret, tmp_path, line, said
):
    made = helm_secret()
    key = line.split("=", 1)[0]
    lines = [f"{k}={v}" for k, v in made.items() if k != key] + [line]
    (tmp_path / "deploy" / "helm-secret.env").write_text("\n".join(lines) + "\n")
    if said is None:
        assert helm_secret()[key] == line.split("=", 1)[1]
        return
    with pytest.raises(ZenlockError) as refused:
        helm_secret()
    message = str(refused.value)
    assert said in message and "\n" not in message and "p@ss" not in message


# --- claim says what it takes from the original --------------------------------------------


def test_claim_says_the_original_becomes_a_copy_that_cannot_claim_back(tmp_path):
    """A copy whose original moved away unseen (state `unsure`): `claim` names what happens
    to the original, which then is a copy."""
    project = tmp_path / "copy"
    (project / ".zenml-server").mkdir(parents=True)
    (project / "pyproject.toml").write_text(
        '[tool.zenlock]\nschema = 1\n\n[tool.zenlock.server]\nparent = "python:3.11-slim"\n'
    )
    (project / ".zenml-server" / "project-id").write_text("0123456789ab\n")
    owner = tmp_path / "data" / "envtools" / "0123456789ab" / "root"
    owner.parent.mkdir(parents=True)
    owner.write_text(f"{tmp_path / 'gone'}\n1:2\n")  # the original, last seen elsewhere
    claimed = zenlock_server(project, "claim")
    assert claimed.returncode == 0, claimed.stderr
    assert "the original too" in claimed.stdout and "cannot claim this one back" in claimed.stdout
    assert owner.read_text().startswith(f"{project}\n")


def test_every_deployment_gets_the_servers_secure_defaults():
    """What `up` sets (serverspec.SECURE_DEFAULTS), deploy/compose.yaml sets too."""
    compose = yaml.safe_load((REPO / "template" / "deploy" / "compose.yaml").read_text())
    (server,) = [
        s for s in compose["services"].values() if "SERVER_PORT" in s.get("environment", {})
    ]
    assert SECURE_DEFAULTS.items() <= server["environment"].items()


@pytest.mark.parametrize(
    ("login", "said"),
    [
        (json_answer([{"access_token": "x"}]), "refused admin's password"),  # another shape
        (json_answer({"access_token": "token-of-the-fake"}), "Creating the client's API key on"),
    ],
)
def test_a_server_that_fails_after_its_info_is_one_line_and_claims_nothing(
    connected_project, login, said
):
    """Past the info check, a login of another shape or a key ZenML cannot make: one line,
    and the folder claims no id (a new project's first `connect`)."""
    state = connected_project / ".zenml-server"
    for name in ("project-id", "client.env", "api-key"):
        (state / name).unlink()
    routes = {**HEALTH, "/api/v1/info": json_answer(ZENML_INFO), "/api/v1/login": login}
    with recording_server(routes) as server:
        refused = zenlock_server(connected_project, "connect", server.origin)
    output = refused.stdout + refused.stderr  # getpass warns: there is no terminal here
    errors = [line for line in output.splitlines() if line.startswith("error: ")]
    assert refused.returncode == 1 and len(errors) == 1 and said in errors[0], output
    assert "Traceback" not in output
    assert not (state / "project-id").exists()


def test_a_url_with_a_password_is_refused_without_showing_it():
    with pytest.raises(ZenlockError) as refused:
        server_url("https://admin:hunter2@zenml.example.com", "connect URL")
    assert "hunter2" not in str(refused.value) and "not shown" in str(refused.value)
