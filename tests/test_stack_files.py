"""Stack files read in-process: credentials found at any depth, nesting bounded. Fast: no
rendering, no ZenML."""

import pytest

from zenlock import ZenlockError, registry, stackfiles

# (configuration, ZenML's sensitive top-level keys) -> (path, key) of each credential found.
CREDENTIALS = [
    ({"path": "/tmp/x", "tracking_uri": "http://h"}, set(), []),
    ({"password": "hunter2"}, set(), [("password", "password")]),
    ({"authentication": "x"}, {"authentication"}, [("authentication", "authentication")]),
    ({"key": "{{s3.key}}"}, set(), [("key", "key")]),  # found; a top-level reference is fine
    ({"password": ""}, set(), []),
    ({"password": None}, set(), []),
    (
        {"run_args": {"environment": {"DB_PASSWORD": "x", "LOG_LEVEL": "info"}}},
        set(),
        [("run_args.environment.DB_PASSWORD", "DB_PASSWORD")],
    ),
    # Docker's list form of the environment, and `--flag=value` arguments.
    (
        {"run_args": {"environment": ["LOG_LEVEL=info", "API_TOKEN=abc"]}},
        set(),
        [("run_args.environment[1]", "API_TOKEN")],
    ),
    ({"args": ["--db-password=x", "--verbose"]}, set(), [("args[0]", "--db-password")]),
    ({"args": ["token", "secret"]}, set(), []),  # words, not keys
    ({"args": ["API_TOKEN="]}, set(), []),  # empty
    (
        {"pod_settings": {"containers": [{"env": [{"name": "x", "secret": "s"}]}]}},
        set(),
        [("pod_settings.containers[0].env[0].secret", "secret")],
    ),
    # A sensitive name counts at the top only; a nested `authentication` is a word.
    ({"options": {"authentication": "basic"}}, {"authentication"}, []),
    (
        {"a": {"b": {"c": {"d": {"e": {"f": {"private_key": "k"}}}}}}},
        set(),
        [("a.b.c.d.e.f.private_key", "private_key")],
    ),
    ({1: {True: "x", "ssh_key_path": "/k"}}, set(), []),  # keys YAML reads as numbers
    (
        {"client_kwargs": {"aws_secret_access_key": "x"}, "secret": "{{s.k}}"},
        set(),
        [("secret", "secret"), ("client_kwargs.aws_secret_access_key", "aws_secret_access_key")],
    ),
]


@pytest.mark.parametrize(("configuration", "sensitive", "found"), CREDENTIALS)
def test_credentials_are_found_at_any_depth(configuration, sensitive, found):
    listed = stackfiles.credentials_in(configuration, sensitive)
    assert [(path, key) for path, key, _ in listed] == found


def test_a_wide_configuration_is_walked_quickly():
    wide = {"items": [f"NAME_{n}=value" for n in range(200_000)] + ["DB_PASSWORD=x"]}
    assert stackfiles.credentials_in(wide, set())[0][:2] == ("items[200000]", "DB_PASSWORD")


COMPONENT = "{name: default, flavor: local, configuration: {}}"


def nested(levels: int, opener: str = "[", closer: str = "]") -> str:
    return f"stack_name: a\ncomponents: {opener * levels}{closer * levels}\n"


@pytest.mark.parametrize(
    "text",
    [
        nested(60_000),  # what a RecursionError traceback of 1,053 lines came from
        nested(60_000, "[", ""),  # never closed
        nested(stackfiles.MAX_DEPTH),
        "stack_name: a\ncomponents:\n" + "".join(f"{' ' * n}k{n}:\n" for n in range(2, 140)),
        "x: " + "{a: " * 5000 + "1" + "}" * 5000 + "\n",
    ],
)
def test_a_stack_file_nested_too_deep_is_one_line_naming_it(text, tmp_path):
    path = tmp_path / "deep.yaml"
    path.write_text(text)
    with pytest.raises(ZenlockError) as refused:
        stackfiles.read_stack(tmp_path, path)
    message = str(refused.value)
    assert "deep.yaml" in message and f"deeper than {stackfiles.MAX_DEPTH} levels" in message
    assert "\n" not in message and len(message) < 200


def test_a_stack_file_as_deep_as_allowed_reads(tmp_path, monkeypatch):
    monkeypatch.setattr(registry, "snapshot", lambda root: {"component_types": ["orchestrator"]})
    # The top mapping and `components`' mapping are two levels; the rest nests in configuration.
    inner = "{" + "a: {" * (stackfiles.MAX_DEPTH - 5) + "}" * (stackfiles.MAX_DEPTH - 4)
    path = tmp_path / "ok.yaml"
    path.write_text(
        "stack_name: ok\ncomponents:\n  orchestrator:\n"
        f"    - {{name: default, flavor: local, configuration: {inner}}}\n"
    )
    definition = stackfiles.read_stack(tmp_path, path)
    assert definition["components"]["orchestrator"][0]["name"] == "default"
