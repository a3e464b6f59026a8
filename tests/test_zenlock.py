"""The package zenlock's own unit tests: fast, no rendering."""

import json
import os
import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO

from zenlock import ZenlockError, buildkit, database, inputs, lock
from zenlock.check import sbom_differences, unmet, venv_report
from zenlock.images import image_sets
from zenlock.imagespec import ImageSpec, content_hash
from zenlock.inputs import (
    host_address,
    image_reference,
    kubernetes_name,
    port_number,
    server_url,
)
from zenlock.settings import (
    BuildSettings,
    PipelineSettings,
    pipeline_settings,
    server_settings,
)
from zenlock.state import read_env_file, write_env_file

PYPROJECT = """
[tool.zenlock.images]
name = "churn"
registry = "ghcr.io/acme/"
parent = "python:3.11-slim"
mode = "release"
network = "host"
[tool.zenlock.images.pipeline_groups]
inference = ["serving"]
[tool.zenlock.server]
parent = "python:3.12-slim"
"""


def write_pyproject(folder, text: str):
    (folder / "pyproject.toml").write_text(text)
    return folder


def test_content_hash_changes_with_any_input_and_only_then():
    same = content_hash("requirements", b"dockerfile")
    assert same == content_hash("requirements", b"dockerfile")
    assert same != content_hash("requirements", b"dockerfilf")
    assert content_hash("ab", "c") != content_hash("a", "bc")


def test_tag_is_a_pure_function_of_the_spec_and_its_base():
    # The project's own Dockerfiles go into the tag: the template's, as a project has them.
    dockerfile = REPO / "template" / "docker" / "pipeline.Dockerfile"
    spec = ImageSpec("iterate", "ghcr.io/acme/churn", dockerfile, "parent", ("reqs",))
    assert spec.tag("sha256:1") == spec.tag("sha256:1")
    assert spec.tag("sha256:1") != spec.tag("sha256:2")
    assert spec.tag("sha256:1").startswith("ghcr.io/acme/churn:iterate-")
    other_inputs = ImageSpec("iterate", spec.repository, spec.dockerfile, "parent", ("reqs2",))
    assert other_inputs.tag("sha256:1") != spec.tag("sha256:1")


def test_pipelines_with_the_same_extra_groups_share_an_image():
    build = BuildSettings("p", "", "python:3.11-slim", "bridge", "")
    settings = PipelineSettings(build, "iterate", {"a": ["x"], "b": ["x"], "c": []})
    assert image_sets(settings, []) == {(): ["default", "c"], ("x",): ["a", "b"]}
    with_mlflow = image_sets(settings, ["integration-mlflow"])
    assert with_mlflow == {
        ("integration-mlflow",): ["default", "c"],
        ("integration-mlflow", "x"): ["a", "b"],
    }


def test_server_settings_are_its_own_and_share_only_the_machine_wide_ones(tmp_path):
    project = write_pyproject(tmp_path, PYPROJECT)
    pipelines, server = pipeline_settings(project), server_settings(project)
    assert pipelines.build.repository == "ghcr.io/acme/churn"
    assert (pipelines.mode, pipelines.pipeline_groups) == ("release", {"inference": ["serving"]})
    assert server.build.repository == "ghcr.io/acme/churn-server"
    assert server.build.parent == "python:3.12-slim"
    assert server.build.network == "host"
    assert not hasattr(server, "mode") and not hasattr(server, "pipeline_groups")
    assert (server.host, server.port) == ("127.0.0.1", 8238)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (('mode = "release"', 'mode = "fast"'), "mode = 'fast': use one of ('iterate', 'release')"),
        (('network = "host"', 'network = "none"'), "network = 'none': use one of"),
        (('parent = "python:3.11-slim"', 'parent = ""'), "[tool.zenlock.images] parent is empty"),
        (('parent = "python:3.11-slim"', 'parent = "Bad Ref!!"'), "is not an image reference"),
    ],
    ids=["mode", "network", "parent", "parent-reference"],
)
def test_bad_settings_are_refused_with_the_choices(tmp_path, change, message):
    project = write_pyproject(tmp_path, PYPROJECT.replace(*change))
    with pytest.raises(ZenlockError) as refused:
        pipeline_settings(project)
    assert message in str(refused.value)


def test_env_files_round_trip_paths_with_spaces_and_stay_private(tmp_path):
    path = tmp_path / "state" / "client.env"
    values = {"ZENML_CONFIG_PATH": "/home/ana/my projé/.zenml-server/client", "KEY": "a=b"}
    write_env_file(path, values)
    assert read_env_file(path) == values
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    path.write_text("# comment\n\nA = 1\n")
    assert read_env_file(path) == {"A": "1"}


def test_one_export_selection_per_kind_of_environment(tmp_path):
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "p"\n')
    assert lock.selection(tmp_path, "venv") == []
    assert lock.selection(tmp_path, "server", ["server", "server-integration-s3"]) == [
        "--only-group=server",
        "--only-group=server-integration-s3",
        "--no-emit-project",
    ]
    for kind in ("iterate", "release"):
        assert lock.selection(tmp_path, kind, ["serving"]) == [
            "--no-default-groups",
            "--no-emit-project",
            "--group=serving",
        ]
    # A project that declares the step tools' group gets it in every pipeline image.
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "p"\n[dependency-groups]\npipeline-image = ["pip"]\n'
    )
    assert "--group=pipeline-image" in lock.selection(tmp_path, "iterate", ["serving"])
    with pytest.raises(ValueError):
        lock.selection(tmp_path, "deps")


def test_venv_drift_says_how_to_keep_or_remove_an_extra_package():
    report = venv_report({"zenml": "0.98.0"}, {"zenml": "0.98.0", "Six": "1.16.0"})
    assert report.status == "drift"
    assert report.differences == [{"package": "six", "locked": "-", "found": "1.16.0"}]
    assert "to keep six: add it to pyproject.toml, then nox -s lock dev" in report.fix
    assert "to remove it: nox -s dev" in report.fix
    changed = venv_report({"zenml": "0.98.0"}, {"zenml": "0.97.0"})
    assert changed.fix == "nox -s dev"


def test_builds_need_a_docker_cli_with_buildkit(tmp_path, monkeypatch):
    """A docker CLI of 23.0 or newer builds with BuildKit only through buildx: without it,
    one message says what to install (checked with such a CLI where this machine has one)."""
    without_buildx = [
        cli
        for cli in {shutil.which("docker", path=folder) for folder in os.get_exec_path()} - {None}
        if subprocess.run([cli, "buildx", "version"], capture_output=True).returncode != 0
        and int(re.search(r"(\d+)\.", subprocess.getoutput(f"{cli} --version")).group(1)) >= 23
    ]
    if not without_buildx:
        pytest.skip("no docker CLI of 23.0+ without buildx on this machine")
    monkeypatch.setenv("PATH", str(Path(without_buildx[0]).parent))
    with pytest.raises(ZenlockError, match="buildx plugin"):
        buildkit.build_cli()


@pytest.mark.parametrize("value", [0, 70000, -5, "abc", "", 8.5])
def test_a_port_is_a_number_from_1_to_65535(value):
    with pytest.raises(ZenlockError, match="is not a port: use a number from 1 to 65535"):
        port_number(value, "[tool.zenlock.server] port")
    assert port_number("8238", "--port") == 8238


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("linux/amd64", ("linux/amd64",)),
        ("linux/amd64,linux/arm64", ("linux/amd64", "linux/arm64")),
        (" linux/arm64 , linux/amd64", ("linux/arm64", "linux/amd64")),
        ("linux/arm64/v8", ("linux/arm64",)),
        (["linux/amd64", "linux/arm64/v8"], ("linux/amd64", "linux/arm64")),
    ],
)
def test_platforms_are_read_canonical_and_in_order(value, expected):
    assert inputs.platforms(value, "--platform") == expected


@pytest.mark.parametrize(
    "value",
    [
        "", "amd64", "linux", "linux/386", "windows/amd64", "linux/amd64,linux/amd64",
        "linux/arm64,linux/arm64/v8", "linux/amd64,", "linux/riscv64", [], 64,
    ],
)  # fmt: skip
def test_a_platform_outside_the_grammar_is_one_line_with_the_fix(value):
    with pytest.raises(ZenlockError) as refused:
        inputs.platforms(value, "[tool.zenlock.images] platforms")
    message = str(refused.value)
    assert message.startswith("[tool.zenlock.images] platforms = ") and "\n" not in message
    assert "linux/amd64,linux/arm64" in message


def test_server_port_and_analytics_come_from_its_table(tmp_path):
    text = PYPROJECT + 'port = "abc"\n'
    with pytest.raises(ZenlockError, match=r"\[tool.zenlock.server\] port = 'abc'"):
        server_settings(write_pyproject(tmp_path, text))
    assert server_settings(write_pyproject(tmp_path, PYPROJECT)).analytics is False
    text = PYPROJECT + "analytics = true\n"
    assert server_settings(write_pyproject(tmp_path, text)).analytics is True


VALID_REFERENCES = [
    "python",
    "python:3.11-slim-bookworm",
    "library/python:3.11",
    "docker.io/library/python:3.11",
    "ghcr.io/acme/x:1",
    "localhost/x",
    "localhost:5000/x/y:1",
    "127.0.0.1:5000/a/b@sha256:" + "0" * 64,
    "[::1]:5000/a:b",
    "registry.example.com:443/team/app@sha256:" + "ab" * 32,
    "a__b/c--d/e.f/g_h:TAG_1.0-rc",
    "Upper.Example.COM/lower/path",  # a domain may have capitals, the path may not
    "x:" + "t" * 128,
    "python:3.11@sha256:" + "f" * 64,
    "local/python:3.11-bookworm",
    "a/" * 60 + "z",
]
INVALID_REFERENCES = [
    "",
    "Bad_Ref!!",
    "UPPER/Case:tag",
    "local/Python",
    "python:",
    ":tag",
    "python::1",
    "-python",
    "python-",
    "a//b",
    "a/b/",
    "a___b",
    "a..b",
    "python:.bad",
    "python:-bad",
    "python:ta g",
    "python:" + "t" * 129,
    "python@sha256:short",
    "python@sha256:" + "0" * 31,
    "python@",
    "ghcr.io:port/x",
    "x/" * 128 + "z",  # over Docker's 255 characters
    "python\n",
    "python;rm -rf /",
]


@pytest.mark.parametrize("value", VALID_REFERENCES)
def test_image_references_that_docker_accepts(value):
    assert image_reference(value, "parent") == value


@pytest.mark.parametrize("value", INVALID_REFERENCES)
def test_image_references_that_docker_refuses_are_one_line_with_the_fix(value):
    with pytest.raises(ZenlockError) as refused:
        image_reference(value, "--parent-image")
    message = str(refused.value)
    assert message.startswith("--parent-image = ") and "[HOST[:PORT]/]NAME[:TAG]" in message
    assert "\n" not in message.replace(repr(value), "")


VALID_HOSTS = [
    "127.0.0.1", "127.0.0.2", "0.0.0.0", "10.0.0.7", "255.255.255.255",
    "::1", "::", "fe80::1", "2001:db8::8a2e:370:7334",
    "localhost", "LOCALHOST", "my-host", "db.example.com", "db.example.com.", "a" * 63,
    "x1", "1x.example",
]  # fmt: skip
INVALID_HOSTS = [
    "", " ", "999.1.1.1", "256.0.0.1", "1.2.3", "1.2.3.4.5", "01.2.3.4x.5",
    "-host", "host-", "a..b", ".host", "ho st", "host_name", "a" * 64, "b." * 127 + "c",
    "127.0.0.1:8080", "http://127.0.0.1", "[::1]", "::1::2", "host;rm", "höst",
]  # fmt: skip


@pytest.mark.parametrize("value", VALID_HOSTS)
def test_hosts_by_their_grammar(value):
    assert host_address(value, "host") == value


@pytest.mark.parametrize("value", INVALID_HOSTS)
def test_bad_hosts_are_one_line_naming_the_setting(value):
    with pytest.raises(ZenlockError) as refused:
        host_address(value, "[tool.zenlock.server] host")
    message = str(refused.value)
    assert message.startswith("[tool.zenlock.server] host = ") and "is not an address" in message
    assert "\n" not in message


SERVER_URLS = {
    "https://zenml.example.com": "https://zenml.example.com",
    "https://zenml.example.com/": "https://zenml.example.com",
    "http://127.0.0.1:8080/zenml": "http://127.0.0.1:8080",
    "https://[::1]:8443": "https://[::1]:8443",
    "https://ml.team.example.org/zenml/api": "https://ml.team.example.org",
}
BAD_SERVER_URLS = [
    "", "zenml.example.com", "ftp://zenml.example.com", "https://", "https://:443",
    "https://user:pw@zenml.example.com", "https://zenml.example.com?x=1", "https://a.com/#top",
    "https://zenml.example.com:0", "https://zenml.example.com:65536", "https://-bad.example",
    "https://999.1.1.1", "https://ho st.example", "https://höst.example", "https://[::1::2]",
]  # fmt: skip


@pytest.mark.parametrize(("value", "origin"), SERVER_URLS.items())
def test_server_urls_and_their_origins(value, origin):
    assert server_url(value, "--url") == (value.rstrip("/"), origin)


@pytest.mark.parametrize("value", BAD_SERVER_URLS)
def test_bad_server_urls_are_one_line_naming_the_option(value):
    with pytest.raises(ZenlockError) as refused:
        server_url(value, "--url")
    message = str(refused.value)
    assert message.startswith("--url = ") and "is not a server URL" in message
    assert "\n" not in message


@pytest.mark.parametrize("value", ["zenml", "my-project-server", "a.b-c.d", "x" * 63, "a1"])
def test_kubernetes_names(value):
    assert kubernetes_name(value, "--secret") == value


@pytest.mark.parametrize(
    "value", ["", "My-Server", "my_server", "-server", "server-", "a..b", "x" * 64, "sé", "a b"]
)
def test_bad_kubernetes_names_are_one_line(value):
    with pytest.raises(ZenlockError) as refused:
        kubernetes_name(value, "--secret")
    assert "is not a Kubernetes name" in str(refused.value) and "\n" not in str(refused.value)


def test_copier_validates_parents_and_registries_with_the_same_grammar():
    """copier.yml's validators use zenlock's patterns, not copies that drift."""
    questions = (REPO / "copier.yml").read_text()
    assert inputs.REFERENCE in questions and inputs.NAME in questions


def test_unmet_names_the_requirements_the_pins_do_not_satisfy():
    linux = {"sys_platform": "linux", "python_version": "3.11"}
    pins = {"mlflow": "3.1.0", "numpy": "3.1.0", "python-rapidjson": "1.14"}
    requirements = [
        "mlflow>=2.1.1,<4",
        "numpy<3.0",
        "Python_Rapidjson<1.15",
        "pandas>=2.0.0",
        "pywin32; sys_platform == 'win32'",
    ]
    assert unmet(requirements, pins, linux, lock_text="") == ["numpy<3.0", "pandas>=2.0.0"]


def test_a_database_url_is_shown_without_its_password_and_others_are_refused():
    url = "mysql://team:s3cret@db.example.com:3306/zenml"
    assert database.redacted(url) == "mysql://team@db.example.com:3306/zenml"
    assert database.store_url({"ZENML_STORE_URL": url}) == url
    assert database.store_url({}) is None  # SQLite in the data volume
    assert "s3cret" not in database.describe({"ZENML_STORE_URL": url}, "volume")
    with pytest.raises(ZenlockError, match="MySQL/MariaDB"):
        database.store_url({"ZENML_STORE_URL": "postgresql://team:s3cret@db/zenml"})


RESERVED = ["/", "?", "#", "[", "]", "@", "%", " "]  # and `:` in the user


@pytest.mark.parametrize("character", RESERVED)
def test_a_password_with_a_reserved_character_is_refused_without_showing_it(character):
    secret = f"Pa{character}ss-zk42"
    url = f"mysql://team:{secret}@db.example.com:3306/zenml"
    with pytest.raises(ZenlockError) as refused:
        database.store_url({"ZENML_STORE_URL": url})
    message = str(refused.value)
    assert "percent-encode" in message.lower() and "%2F" in message
    for part in (secret, "Pa", "ss-zk42", "db.example.com"):
        assert part not in message


@pytest.mark.parametrize("character", RESERVED)
def test_a_percent_encoded_password_is_accepted_and_never_shown(character):
    encoded = "Pa" + "".join(f"%{byte:02X}" for byte in character.encode()) + "ss-zk42"
    url = f"mysql://team:{encoded}@db.example.com:3306/zenml"
    assert database.store_url({"ZENML_STORE_URL": url}) == url
    assert database.redacted(url) == "mysql://team@db.example.com:3306/zenml"
    assert "zk42" not in database.describe({"ZENML_STORE_URL": url}, "volume")


@pytest.mark.parametrize(
    "url",
    [
        "mysql://team@127.0.0.1/zenml",
        "mysql://team:pw@[::1]:3307/zenml",
        "mysql://team:pw@db:3306/zenml?ssl_ca=/etc/ca.pem",
        "mysql://team:p:w@db/zenml",  # a `:` in the password: sqlalchemy splits at the first
    ],
)
def test_database_urls_that_are_fine(url):
    assert database.store_url({"ZENML_STORE_URL": url}) == url


@pytest.mark.parametrize(
    "url",
    [
        "mysql://",
        "mysql://team:pw@db:3306",
        "mysql://team:pw@db:99999/zenml",
        "mysql://team:pw@db:port/zenml",
        "mysql://:pw@db/zenml",
        "mysql://team:pw@/zenml",
        "mysql://team:pw@db/zen/ml",
    ],
)
def test_database_urls_that_are_not(url):
    with pytest.raises(ZenlockError, match="is not mysql://USER:PASSWORD@HOST:PORT/DATABASE"):
        database.store_url({"ZENML_STORE_URL": url})


def test_only_data_of_a_newer_release_is_too_new():
    assert database.newer("0.98.0", "0.97.0")
    assert not database.newer("0.97.0", "0.98.0") and not database.newer("0.98.0", "0.98.0")
    assert not database.newer(None, "0.98.0")  # no data yet
    assert not database.newer("4f8c1a2b3d4e", "0.98.0")  # a revision between releases


def test_a_backup_says_its_release_and_must_fit_the_database(tmp_path):
    dump = tmp_path / "mysql.json"
    parts = [  # as ZenML's dump-file engine writes them: indented, one object per part
        {"table": "alembic_version", "create_stmt": "CREATE TABLE alembic_version (…);"},
        {"table": "alembic_version", "data": [{"version_num": "0.97.0"}]},
    ]
    dump.write_text("".join(json.dumps(part, indent=4) + "\n" for part in parts))
    mysql = {"ZENML_STORE_URL": "mysql://u:p@db/zenml"}
    assert database.backup_of(dump, mysql) == "0.97.0"
    with pytest.raises(ZenlockError, match="is a backup of MySQL/MariaDB"):
        database.backup_of(dump, {})
    import sqlite3

    sqlite_backup = tmp_path / "sqlite.db"
    with sqlite3.connect(sqlite_backup) as connection:
        connection.execute("CREATE TABLE alembic_version (version_num VARCHAR(32))")
        connection.execute("INSERT INTO alembic_version VALUES ('0.98.0')")
    assert database.backup_of(sqlite_backup, {}) == "0.98.0"
    with pytest.raises(ZenlockError, match="is a backup of SQLite"):
        database.backup_of(sqlite_backup, mysql)


def test_an_sbom_is_compared_with_what_is_installed_where_its_markers_apply():
    linux = {"sys_platform": "linux", "python_version": "3.11"}
    components = [
        ["six", "1.17.0", None],
        ["pywin32", "312", "sys_platform == 'win32'"],
        ["numpy", "2.3.0", None],
    ]
    assert sbom_differences(components, {"six": "1.17.0", "numpy": "2.3.0"}, linux) == []
    assert sbom_differences(
        components, {"six": "0.0.1", "numpy": "2.3.0", "extra": "1"}, linux
    ) == [
        {"package": "extra", "locked": "-", "found": "1"},
        {"package": "six", "locked": "1.17.0", "found": "0.0.1"},
    ]


@pytest.mark.parametrize(
    "command", ["lock", "images", "server", "check", "integrations", "stacks", "upgrade", "run",
                "exec"],
)  # fmt: skip
def test_every_command_has_help_and_changes_nothing(tmp_path, command):
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "p"\n\n[tool.zenlock]\nschema = 1\n'
    )
    done = subprocess.run(
        [sys.executable, "-m", "zenlock", command, "--help"],
        cwd=tmp_path, capture_output=True, text=True,
        env={k: v for k, v in os.environ.items() if not k.startswith("ZENML_")},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "usage" in (done.stdout + done.stderr).lower()  # uv's own for lock
    assert sorted(path.name for path in tmp_path.iterdir()) == ["pyproject.toml"]


def test_a_schema_this_zenlock_does_not_know_is_refused_with_the_fix(tmp_path):
    (tmp_path / "pyproject.toml").write_text("[tool.zenlock]\nschema = 99\n")
    done = subprocess.run(
        [sys.executable, "-m", "zenlock", "check"], cwd=tmp_path, capture_output=True, text=True
    )
    assert done.returncode == 1
    assert "schema = 99" in done.stderr and "uv lock --upgrade-package zenlock" in done.stderr
    assert "Traceback" not in done.stderr


def test_an_older_project_is_read_from_tool_envtools_with_a_notice(tmp_path, capsys):
    from zenlock import settings

    (tmp_path / "pyproject.toml").write_text("[tool.envtools.server]\nport = 9000\n")
    assert settings.find_root(tmp_path) == tmp_path
    assert settings.tool_table(tmp_path) == {"server": {"port": 9000}}
    assert "[tool.envtools]" in capsys.readouterr().err
