"""[tool.zenlock] by its types: every setting is checked against one schema (settings.SCHEMA)
before any command acts; each error is one line that names the key, the type it must have and
the fix. Fast: pyproject.toml files in tmp_path, zenlock's loaders called in-process."""

import os
import re
import subprocess
import sys

import pytest
from conftest import ANSWER_SETS, REPO

from zenlock import ZenlockError, settings
from zenlock.settings import (
    SCHEMA,
    Entries,
    Table,
    default_stack,
    pipeline_settings,
    server_settings,
    tool_settings,
)

# A project's settings before a case changes them: table -> its lines.
BASE = {
    "tool.zenlock": ["schema = 1"],
    "tool.zenlock.images": ['name = "churn"', 'parent = "python:3.11-slim"'],
    "tool.zenlock.server": [],
    "tool.zenlock.stacks": [],
    "tool.zenlock.run": [],
}
DIGEST = "sha256:" + "0" * 64


def write_project(folder, table: str, line: str):
    """BASE with `line` in `table` (replacing that key's line, if BASE has one)."""
    tables = {name: list(lines) for name, lines in BASE.items()}
    key = line.split("=")[0].strip()
    tables[table] = [kept for kept in tables[table] if kept.split("=")[0].strip() != key]
    tables[table].append(line)
    if table == "tool.zenlock" and key in ("images", "server", "stacks", "run"):
        tables.pop(f"tool.zenlock.{key}")  # the case writes it as a value of its own
    text = '[project]\nname = "p"\n\n' + "".join(
        f"[{name}]\n" + "".join(f"{entry}\n" for entry in lines) + "\n"
        for name, lines in tables.items()
    )
    (folder / "pyproject.toml").write_text(text)
    return folder


LOADERS = {
    "pipelines": pipeline_settings,
    "server": server_settings,
    "stack": default_stack,
    "tool": tool_settings,  # [tool.zenlock.run]: its reader (discovery.py) is not ours to test
}
# (table, line, loader, what of its result, the value read)
VALID = [
    ("tool.zenlock", "schema = 1", "pipelines", "mode", "iterate"),
    ("tool.zenlock.images", 'name = "churn-model"', "server", "build.name", "churn-model-server"),
    ("tool.zenlock.images", f'parent = "ghcr.io/acme/base:1@{DIGEST}"', "server", "build.parent",
     f"ghcr.io/acme/base:1@{DIGEST}"),
    ("tool.zenlock.images", "platforms = []", "pipelines", "build.platforms", ()),
    (
        "tool.zenlock.images",
        'platforms = ["linux/arm64/v8", "linux/amd64"]',
        "pipelines",
        "build.platforms",
        ("linux/arm64", "linux/amd64"),
    ),
    (
        "tool.zenlock.images",
        'platforms = "linux/amd64,linux/arm64"',
        "server",
        "build.platforms",
        ("linux/amd64", "linux/arm64"),
    ),
    (
        "tool.zenlock.images",
        'registry = "127.0.0.1:5000/team/"',
        "pipelines",
        "build.repository",
        "127.0.0.1:5000/team/churn",
    ),
    ("tool.zenlock.images", 'registry = ""', "pipelines", "build.repository", "churn"),
    ("tool.zenlock.images", 'mode = "release"', "pipelines", "mode", "release"),
    ("tool.zenlock.images", 'network = "host"', "server", "build.network", "host"),
    ("tool.zenlock.images", 'ca_bundle = "/etc/ssl/x.pem"', "pipelines", "build.ca_bundle",
     "/etc/ssl/x.pem"),
    (
        "tool.zenlock.images",
        f'parents = {{ "linux/arm64/v8" = "python:3.11-slim@{DIGEST}" }}',
        "pipelines",
        "build.parents",
        {"linux/arm64": f"python:3.11-slim@{DIGEST}"},
    ),
    (
        "tool.zenlock.images",
        'pipeline_groups = { inference = ["serving"], batch = [] }',
        "pipelines",
        "pipeline_groups",
        {"inference": ["serving"], "batch": []},
    ),
    ("tool.zenlock.server", 'name = "api"', "server", "build.name", "api"),
    ("tool.zenlock.server", 'parent = "python:3.12-slim"', "server", "build.parent",
     "python:3.12-slim"),
    ("tool.zenlock.server", 'registry = "ghcr.io/acme"', "server", "build.repository",
     "ghcr.io/acme/churn-server"),
    ("tool.zenlock.server", 'network = "host"', "server", "build.network", "host"),
    ("tool.zenlock.server", 'ca_bundle = ""', "server", "build.ca_bundle", ""),
    ("tool.zenlock.server", 'platforms = ["linux/amd64"]', "server", "build.platforms",
     ("linux/amd64",)),
    (
        "tool.zenlock.server",
        f'parents = {{ "linux/amd64" = "python:3.11-slim@{DIGEST}" }}',
        "server",
        "build.parents",
        {"linux/amd64": f"python:3.11-slim@{DIGEST}"},
    ),
    ("tool.zenlock.server", 'host = "::1"', "server", "host", "::1"),
    ("tool.zenlock.server", "port = 9000", "server", "port", 9000),
    ("tool.zenlock.server", 'env_file = "configs/other.env"', "server", "env_file",
     "configs/other.env"),
    ("tool.zenlock.server", 'plugins = ""', "server", "plugins", ""),
    ("tool.zenlock.server", "analytics = true", "server", "analytics", True),
    ("tool.zenlock.server", "analytics = false", "server", "analytics", False),
    ("tool.zenlock.stacks", 'default = "e2e"', "stack", None, "e2e"),
    ("tool.zenlock.run", 'default = "rows"', "tool", "run.default", "rows"),
    ("tool.zenlock.run", "data_limit_mb = 0", "tool", "run.data_limit_mb", 0),
]  # fmt: skip


@pytest.mark.parametrize(("table", "line", "loader", "field", "expected"), VALID)
def test_settings_of_their_type_are_read(tmp_path, table, line, loader, field, expected):
    project = write_project(tmp_path, table, line)
    tool_settings(project)  # what the CLI runs before any command
    read = LOADERS[loader](project)
    for part in field.split(".") if field else ():
        read = read[part] if isinstance(read, dict) else getattr(read, part)
    assert read == expected


# (table, line, the key as the message names it, what the message says of its type and fix)
INVALID = [
    ("tool.zenlock", 'schema = "1"', "[tool.zenlock] schema", "write an integer, e.g. schema = 1"),
    ("tool.zenlock", "schema = true", "[tool.zenlock] schema", "write an integer"),
    ("tool.zenlock", "schema = 0", "[tool.zenlock] schema", "use 1"),
    ("tool.zenlock", 'images = "x"', "[tool.zenlock] images",
     "write a table, [tool.zenlock.images]"),
    ("tool.zenlock", 'stacks = "x"', "[tool.zenlock] stacks",
     "write a table, [tool.zenlock.stacks], with lines like default = "),
    ("tool.zenlock", "server = []", "[tool.zenlock] server", "write a table"),
    ("tool.zenlock", "imgaes = {}", "[tool.zenlock] imgaes", "did you mean images?"),
    ("tool.zenlock.images", "name = 5", "[tool.zenlock.images] name", "write a string"),
    ("tool.zenlock.images", 'name = "Churn Model"', "[tool.zenlock.images] name",
     "is not an image name"),
    ("tool.zenlock.images", "registry = false", "[tool.zenlock.images] registry",
     "write a string"),
    ("tool.zenlock.images", 'registry = "https://ghcr.io"', "[tool.zenlock.images] registry",
     "is not an image name"),
    ("tool.zenlock.images", 'parent = ""', "[tool.zenlock.images] parent",
     "is empty: name a parent image"),
    ("tool.zenlock.images", 'parent = "Bad Ref!!"', "[tool.zenlock.images] parent",
     "is not an image reference"),
    ("tool.zenlock.images", 'parent = ["python"]', "[tool.zenlock.images] parent",
     "is a list: write a string"),
    ("tool.zenlock.images", 'mode = "fast"', "[tool.zenlock.images] mode",
     "use one of ('iterate', 'release')"),
    ("tool.zenlock.images", "mode = 1", "[tool.zenlock.images] mode", "write a string"),
    ("tool.zenlock.images", 'network = "none"', "[tool.zenlock.images] network",
     "use one of ('bridge', 'host')"),
    ("tool.zenlock.images", "ca_bundle = false", "[tool.zenlock.images] ca_bundle",
     "write a string"),
    ("tool.zenlock.images", "platforms = [1, 2]", "[tool.zenlock.images] platforms",
     "holds an integer: write a list of strings"),
    ("tool.zenlock.images", "platforms = true", "[tool.zenlock.images] platforms",
     "write a list of strings"),
    ("tool.zenlock.images", 'platforms = ["linux/s390x"]', "[tool.zenlock.images] platforms",
     "is not a list of platforms"),
    ("tool.zenlock.images", 'parents = "python:3.11"', "[tool.zenlock.images] parents",
     "write a table, [tool.zenlock.images.parents]"),
    ("tool.zenlock.images", 'parents = { "linux/arm" = "python:3.11" }',
     "[tool.zenlock.images.parents] platform", "is not a list of platforms"),
    ("tool.zenlock.images", 'parents = { "linux/amd64,linux/arm64" = "python:3.11" }',
     "[tool.zenlock.images.parents] platform", "names 2 platforms: write one per line"),
    ("tool.zenlock.images", 'parents = { "linux/arm64" = 5 }',
     '[tool.zenlock.images.parents] "linux/arm64"', "write a string"),
    ("tool.zenlock.images", 'pipeline_groups = ["serving"]',
     "[tool.zenlock.images] pipeline_groups",
     "write a table, [tool.zenlock.images.pipeline_groups]"),
    ("tool.zenlock.images", 'pipeline_groups = { training = "serving" }',
     "[tool.zenlock.images.pipeline_groups] training", "write a list of strings"),
    ("tool.zenlock.images", "pipeline_groups = { training = [1] }",
     "[tool.zenlock.images.pipeline_groups] training", "holds an integer"),
    ("tool.zenlock.images", 'host = "127.0.0.1"', "[tool.zenlock.images] host",
     "is no setting of zenlock"),  # the server's, not the images'
    ("tool.zenlock.server", "name = 1", "[tool.zenlock.server] name", "write a string"),
    ("tool.zenlock.server", "parent = 3.11", "[tool.zenlock.server] parent",
     "is a float: write a string"),
    ("tool.zenlock.server", "registry = 1", "[tool.zenlock.server] registry", "write a string"),
    ("tool.zenlock.server", 'network = "none"', "[tool.zenlock.server] network", "use one of"),
    ("tool.zenlock.server", "ca_bundle = []", "[tool.zenlock.server] ca_bundle",
     "write a string"),
    ("tool.zenlock.server", 'platforms = ["linux/amd64", "linux/amd64"]',
     "[tool.zenlock.server] platforms", "at most once"),
    ("tool.zenlock.server", 'parents = { "linux/arm64" = "Bad Ref" }',
     '[tool.zenlock.server.parents] "linux/arm64"', "is not an image reference"),
    ("tool.zenlock.server", 'host = "999.1.1.1"', "[tool.zenlock.server] host",
     "is not an address"),
    ("tool.zenlock.server", "host = 127", "[tool.zenlock.server] host", "write a string"),
    ("tool.zenlock.server", 'port = "8238"', "[tool.zenlock.server] port",
     "write an integer, e.g. port = 8238"),
    ("tool.zenlock.server", "port = 8238.0", "[tool.zenlock.server] port", "write an integer"),
    ("tool.zenlock.server", "port = 0", "[tool.zenlock.server] port",
     "use a number from 1 to 65535"),
    ("tool.zenlock.server", "env_file = 5", "[tool.zenlock.server] env_file",
     'write a string, e.g. env_file = "configs/server.env"'),
    ("tool.zenlock.server", "plugins = true", "[tool.zenlock.server] plugins",
     "is a boolean: write a string"),
    ("tool.zenlock.server", 'analytics = "true"', "[tool.zenlock.server] analytics",
     "is a string: write true or false, without quotes"),
    ("tool.zenlock.server", "analytics = 1", "[tool.zenlock.server] analytics",
     "write true or false"),
    ("tool.zenlock.server", "prot = 9000", "[tool.zenlock.server] prot", "did you mean port?"),
    ("tool.zenlock.server", 'mode = "release"', "[tool.zenlock.server] mode",
     "is no setting of zenlock"),  # the images', not the server's
    ("tool.zenlock", 'run = "training"', "[tool.zenlock] run",
     "write a table, [tool.zenlock.run], with lines like default = "),
    ("tool.zenlock.run", "default = 3", "[tool.zenlock.run] default", "write a string"),
    ("tool.zenlock.run", 'data_limit_mb = "20"', "[tool.zenlock.run] data_limit_mb",
     "write an integer, e.g. data_limit_mb = 20"),
    ("tool.zenlock.run", "data_limit_mb = -1", "[tool.zenlock.run] data_limit_mb",
     "write 0 or more"),
    ("tool.zenlock.run", "data_limit_mb = 2.5", "[tool.zenlock.run] data_limit_mb",
     "is a float: write an integer"),
    ("tool.zenlock.stacks", 'default = ""', "[tool.zenlock.stacks] default",
     "name a stack of configs/stacks/"),
    ("tool.zenlock.stacks", "default = 1", "[tool.zenlock.stacks] default", "write a string"),
    ("tool.zenlock.stacks", 'defualt = "e2e"', "[tool.zenlock.stacks] defualt",
     "did you mean default?"),
]  # fmt: skip


@pytest.mark.parametrize(("table", "line", "where", "says"), INVALID)
def test_a_setting_of_the_wrong_type_is_one_line_naming_key_type_and_fix(
    tmp_path, table, line, where, says
):
    project = write_project(tmp_path, table, line)
    with pytest.raises(ZenlockError) as refused:
        tool_settings(project)
    message = str(refused.value)
    assert "\n" not in message and message.startswith(f"{where} ") and says in message, message
    # Every loader reads the settings through the same check: none acts on a bad value.
    for load in LOADERS.values():
        with pytest.raises(ZenlockError) as again:
            load(project)
        assert str(again.value) == message


def schema_keys(spec=SCHEMA, name="tool.zenlock") -> set[tuple[str, str]]:
    """(table, key) of every setting the schema knows; an Entries table counts as one."""
    found = set()
    for key, item in spec.keys.items():
        found.add((name, key))
        if isinstance(item, Table):
            found |= schema_keys(item, f"{name}.{key}")
    return found


def test_the_tables_cover_every_setting_of_the_schema():
    def covered(cases) -> set[tuple[str, str]]:
        return {(table, line.split("=")[0].strip()) for table, line, *_ in cases}

    keys = schema_keys()
    assert keys - covered(INVALID) == set()
    tables = {("tool.zenlock", name) for name in ("images", "server", "stacks", "run")}
    assert keys - covered(VALID) == tables  # each of their keys has a valid case


def test_every_error_is_said_at_once_one_line_each(tmp_path):
    (tmp_path / "pyproject.toml").write_text(
        '[tool.zenlock]\nschema = 1\nstacks = "x"\n'
        '[tool.zenlock.images]\nparent = "python:3.11"\nplatforms = [1, 2]\n'
        'pipeline_groups.training = "serving"\n'
        '[tool.zenlock.server]\nenv_file = 5\nplugins = true\nanalytics = "true"\n'
    )
    with pytest.raises(ZenlockError) as refused:
        tool_settings(tmp_path)
    lines = str(refused.value).splitlines()
    assert [line.split(" = ")[0] for line in lines] == [
        "[tool.zenlock] stacks",
        "[tool.zenlock.images] platforms",
        "[tool.zenlock.images.pipeline_groups] training",
        "[tool.zenlock.server] env_file",
        "[tool.zenlock.server] plugins",
        "[tool.zenlock.server] analytics",
    ]


def test_a_newer_schema_is_said_alone_its_new_keys_unjudged(tmp_path):
    (tmp_path / "pyproject.toml").write_text(
        "[tool.zenlock]\nschema = 2\n[tool.zenlock.server]\nport = 8238\nreplicas = 3\n"
    )
    with pytest.raises(ZenlockError) as refused:
        tool_settings(tmp_path)
    message = str(refused.value)
    assert message.startswith("[tool.zenlock] schema = 2: this project was rendered by a newer")
    assert "uv lock --upgrade-package zenlock" in message and "\n" not in message


def test_an_older_projects_tool_envtools_is_held_to_the_same_schema(tmp_path, monkeypatch):
    monkeypatch.setattr(settings.tool_table, "noticed", True, raising=False)  # said once a process
    (tmp_path / "pyproject.toml").write_text('[tool.envtools.server]\nport = "9000"\n')
    with pytest.raises(ZenlockError, match=r"^\[tool.zenlock.server\] port = '9000' is a string"):
        server_settings(tmp_path)


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("[tool]\nzenlock = 5\n", "[tool] zenlock = 5 is an integer: write a table, [tool.zen"),
        ("[tool.zenlock]\nschema = \n", "pyproject.toml is not valid TOML (Invalid value"),
    ],
    ids=["not-a-table", "not-toml"],
)  # fmt: skip
def test_a_tool_zenlock_that_is_no_table_is_one_line(tmp_path, text, says):
    (tmp_path / "pyproject.toml").write_text(text)
    with pytest.raises(ZenlockError) as refused:
        tool_settings(tmp_path)
    assert says in str(refused.value) and "\n" not in str(refused.value)


def test_the_reference_page_documents_the_schema():
    """docs/reference.md's settings table: one row per setting, with the schema's type."""
    page = (REPO / "docs" / "reference.md").read_text()
    rows = re.findall(r"^\| `\[([\w.]+)\]` \| `(\w+)` \| ([^|]+) \|", page, re.MULTILINE)
    documented = {(table, key): kind.strip() for table, key, kind in rows}
    assert set(documented) == schema_keys()

    def kinds(spec=SCHEMA, name="tool.zenlock"):
        for key, item in spec.keys.items():
            if isinstance(item, Table):
                yield (name, key), "a table"
                yield from kinds(item, f"{name}.{key}")
            else:
                yield (name, key), "a table" if isinstance(item, Entries) else item.kind

    for key, kind in kinds():
        assert documented[key].startswith(kind), (key, documented[key])


@pytest.mark.parametrize("answers", list(ANSWER_SETS), ids=list(ANSWER_SETS))
def test_the_templates_own_settings_fit_the_schema(render, answers):
    project = render(**ANSWER_SETS[answers])
    tool_settings(project)
    assert server_settings(project).port == 8238


def test_the_cli_refuses_bad_settings_before_any_command_acts(tmp_path):
    """As the project's sessions run it: one line per error, no traceback, nothing written."""
    write_project(tmp_path, "tool.zenlock.server", 'analytics = "true"')
    for command in ("lock", "images", "server", "check"):
        done = subprocess.run(
            [sys.executable, "-m", "zenlock", command],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            env={k: v for k, v in os.environ.items() if not k.startswith("ZENML_")},
        )
        assert done.returncode == 1, done.stderr
        assert done.stderr == (
            "error: [tool.zenlock.server] analytics = 'true' is a string: write true or false, "
            "without quotes, e.g. analytics = false.\n"
        )
        assert sorted(path.name for path in tmp_path.iterdir()) == ["pyproject.toml"]
