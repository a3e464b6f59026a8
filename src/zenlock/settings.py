"""Settings of zenlock: `[tool.zenlock]` in pyproject.toml.

`[tool.zenlock.images]` says how this machine builds images (parent, registry, network, CA
bundle) and how pipelines use them; `[tool.zenlock.server]` holds the server's own settings
and may set its own name, parent and registry. SCHEMA holds every key zenlock reads there and
what its value must be; `tool_settings` checks the whole table against it (the CLI does, before
any command acts), so a value of the wrong type or a misspelt key is one line, not a traceback
or a setting silently ignored.
"""

import difflib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from . import ZenlockError
from .inputs import host_address, image_reference, platforms, port_number, repository
from .pyproject import find_root, tool_table, working_root  # noqa: F401  (runtime API)

MODES = ("iterate", "release")
NETWORKS = ("bridge", "host")
# The layouts of project files (pyproject settings, configs/images.yaml, .zenml-server/) this
# version reads. 1: the first, also of projects that still carry [tool.envtools].
SCHEMAS = (1,)


@dataclass(frozen=True)
class Value:
    """A setting's value: its TOML type as messages name it (`kind`), the types tomllib gives
    for it, a line that shows a right one, and its grammar (from inputs.py: `grammar(value,
    where)` raises ZenlockError)."""

    kind: str
    types: tuple[type, ...]
    example: str
    grammar: Callable[[object, str], object] | None = None
    items: type | None = None  # a list's: the type of each item


@dataclass(frozen=True)
class Table:
    """A table of known keys; `example` is a line of it, for the message of a non-table."""

    keys: dict[str, "Value | Table | Entries"]
    example: str


@dataclass(frozen=True)
class Entries:
    """A table whose keys are the user's (a platform, a pipeline), each value a `value`."""

    value: Value
    key_grammar: Callable[[str, str], object] | None = None
    key_name: str = "key"  # what a key is, in the grammar's message


def parent_image(value: str, where: str) -> str:
    if not value:
        raise ZenlockError(f"{where} is empty: name a parent image.")
    return image_reference(value, where)


def registry_name(value: str, where: str) -> str:
    """Where images are pushed, or "" (local only); a trailing / is dropped."""
    return repository(value.rstrip("/"), where) if value else value


def platform_list(value: object, where: str) -> tuple[str, ...]:
    """[] or "": the Docker engine's own platform."""
    return platforms(value, where) if value else ()


def one_of(choices: tuple) -> Callable[[object, str], object]:
    def choice(value: object, where: str) -> object:
        if value not in choices:
            raise ZenlockError(f"{where} = {value!r}: use one of {choices}.")
        return value

    return choice


def stack_name(value: str, where: str) -> str:
    if not value.strip():
        raise ZenlockError(f"{where} = {value!r}: name a stack of configs/stacks/.")
    return value


def known_schema(value: int, where: str) -> int:
    if value not in SCHEMAS:  # a newer one is refused before (tool_settings)
        raise ZenlockError(f"{where} = {value}: use {' or '.join(map(str, SCHEMAS))}.")
    return value


def whole_number(value: int, where: str) -> int:
    """A count or size: 0 or more (inputs.py has no such grammar yet)."""
    if value < 0:
        raise ZenlockError(f"{where} = {value}: write 0 or more.")
    return value


def one_platform(value: str, where: str) -> str:
    """A table key that names one platform (a `parents` line)."""
    found = platforms(value, where)
    if len(found) != 1:
        raise ZenlockError(f"{where} = {value!r} names {len(found)} platforms: write one per line.")
    return found[0]


def text(example: str, grammar: Callable | None = None) -> Value:
    return Value("a string", (str,), example, grammar)


# What every image build reads: [tool.zenlock.images], and [tool.zenlock.server] for its own.
BUILD = {
    "name": text('name = "churn-model"', repository),
    "registry": text('registry = "ghcr.io/acme" ("" = local only)', registry_name),
    "parent": text('parent = "python:3.11-slim-bookworm"', parent_image),
    "network": text('network = "bridge" (or "host")', one_of(NETWORKS)),
    "ca_bundle": text('ca_bundle = "/etc/ssl/certs/proxy-ca.pem" ("" = $SSL_CERT_FILE)'),
    "platforms": Value(
        "a list of strings",
        (list, str),  # or one comma-separated string, as --platform takes them
        'platforms = ["linux/amd64", "linux/arm64"] ([] = the Docker engine\'s own)',
        platform_list,
        items=str,
    ),
    "parents": Entries(
        text('"linux/arm64" = "python:3.11-slim-bookworm@sha256:…"', image_reference),
        key_grammar=one_platform,
        key_name="platform",
    ),
}
# [tool.zenlock]: every key zenlock reads, and what its value must be.
SCHEMA = Table(
    {
        "schema": Value("an integer", (int,), "schema = 1", known_schema),
        "images": Table(
            {
                **BUILD,
                "mode": text('mode = "iterate" (or "release")', one_of(MODES)),
                "pipeline_groups": Entries(
                    Value(
                        "a list of strings (names of [dependency-groups])",
                        (list,),
                        'inference = ["serving"]',
                        items=str,
                    )
                ),
            },
            example='parent = "python:3.11-slim-bookworm"',
        ),
        "stacks": Table(
            {"default": text('default = "local-docker"', stack_name)},
            example='default = "local-docker"',
        ),
        # Read by discovery.py: whether `default` names a pipeline needs the project's pipelines.
        "run": Table(
            {
                "default": text('default = "training" (a pipeline under pipelines/)'),
                "data_limit_mb": Value("an integer", (int,), "data_limit_mb = 20", whole_number),
            },
            example='default = "training"',
        ),
        "server": Table(
            {
                **BUILD,
                "host": text('host = "127.0.0.1"', host_address),
                "port": Value("an integer", (int,), "port = 8238", port_number),
                "env_file": text('env_file = "configs/server.env"'),
                "plugins": text('plugins = "plugins" ("" = none)'),
                "analytics": Value("true or false, without quotes", (bool,), "analytics = false"),
            },
            example="port = 8238",
        ),
    },
    example="schema = 1",
)

KINDS = {bool: "a boolean", int: "an integer", float: "a float", str: "a string"}
KINDS |= {list: "a list", dict: "a table"}


def kind_of(value: object) -> str:
    return KINDS.get(type(value), "a date or time")


def toml_key(key: str) -> str:
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else json.dumps(key, ensure_ascii=False)


def shown(value: object) -> str:
    """A value as TOML can write it (a string single-quoted, as inputs.py's messages show
    one), cut short."""
    if isinstance(value, bool):
        written = "true" if value else "false"
    elif isinstance(value, str):
        written = repr(value)
    elif isinstance(value, list):
        written = "[" + ", ".join(map(shown, value)) + "]"
    elif isinstance(value, dict):
        pairs = ", ".join(f"{toml_key(key)} = {shown(item)}" for key, item in value.items())
        written = "{ " + pairs + " }" if pairs else "{}"
    else:
        written = str(value)
    return written if len(written) <= 60 else written[:59] + "…"


def problems(value: object, spec: Value | Table | Entries, where: str, name: str) -> list[str]:
    """One line per part of `value` that `spec` refuses; `where` names the key in messages,
    `name` is the dotted table it would be (tool.zenlock.server)."""
    if isinstance(spec, Table | Entries) and not isinstance(value, dict):
        example = spec.example if isinstance(spec, Table) else spec.value.example
        return [
            f"{where} = {shown(value)} is {kind_of(value)}: write a table, [{name}], with "
            f"lines like {example}."
        ]
    if isinstance(spec, Table):
        found = []
        for key, item in value.items():
            key_where = f"[{name}] {toml_key(key)}"
            if key in spec.keys:
                found += problems(item, spec.keys[key], key_where, f"{name}.{toml_key(key)}")
            else:
                found.append(unknown(key, spec, key_where, name))
        return found
    if isinstance(spec, Entries):
        found = []
        for key, item in value.items():
            key_where = f"[{name}] {toml_key(key)}"
            if spec.key_grammar:
                try:
                    spec.key_grammar(key, f"[{name}] {spec.key_name}")
                except ZenlockError as error:
                    found.append(str(error))
                    continue
            found += problems(item, spec.value, key_where, name)
        return found
    if type(value) not in spec.types:
        return [
            f"{where} = {shown(value)} is {kind_of(value)}: write {spec.kind}, e.g. {spec.example}."
        ]
    wrong = [i for i in value if type(i) is not spec.items] if isinstance(value, list) else []
    if spec.items and wrong:
        return [
            f"{where} = {shown(value)} holds {kind_of(wrong[0])}: write {spec.kind}, "
            f"e.g. {spec.example}."
        ]
    try:
        if spec.grammar:
            spec.grammar(value, where)
    except ZenlockError as error:
        return [str(error)]
    return []


def unknown(key: str, spec: Table, where: str, name: str) -> str:
    """A key zenlock does not read would be ignored in silence (a misspelt `prot`): refused."""
    close = difflib.get_close_matches(key, spec.keys, n=1)
    guess = f"did you mean {close[0]}? " if close else ""
    return (
        f"{where} is no setting of zenlock: {guess}[{name}] knows {', '.join(sorted(spec.keys))}."
    )


def tool_settings(root: Path) -> dict:
    """[tool.zenlock], every value checked against SCHEMA: one line per error, all at once."""
    table = tool_table(root)
    schema = table.get("schema", 1) if isinstance(table, dict) else 1
    if type(schema) is int and schema > max(SCHEMAS):  # its other keys may be new: not judged
        raise ZenlockError(
            f"[tool.zenlock] schema = {schema}: this project was rendered by a newer template "
            f"than this zenlock knows (schemas {', '.join(map(str, SCHEMAS))}). Move zenlock "
            "forward: `uv lock --upgrade-package zenlock`, then `nox -s dev`."
        )
    found = problems(table, SCHEMA, "[tool] zenlock", "tool.zenlock")
    if found:
        raise ZenlockError("\n".join(found))
    return table


@dataclass(frozen=True)
class BuildSettings:
    """What every image build needs."""

    name: str
    registry: str
    parent: str
    network: str
    ca_bundle: str
    # The platforms to build for; () = the Docker engine's own. Each has its own parent image
    # (`parents`, else `parent`): a local tag holds one platform.
    platforms: tuple[str, ...] = ()
    parents: dict[str, str] = field(default_factory=dict)
    section: str = "images"  # its table in [tool.zenlock], for messages

    @property
    def repository(self) -> str:
        return f"{self.registry}/{self.name}" if self.registry else self.name

    def parent_for(self, platform: str) -> str:
        return self.parents.get(platform, self.parent)


@dataclass(frozen=True)
class PipelineSettings:
    build: BuildSettings
    mode: str
    pipeline_groups: dict[str, list[str]]


@dataclass(frozen=True)
class ServerSettings:
    build: BuildSettings
    host: str
    port: int
    env_file: str
    plugins: str
    analytics: bool  # ZenML's usage analytics from the server: an explicit choice


def build_settings(table: dict, images: dict, default_name: str, section: str) -> BuildSettings:
    """`table`'s own values first, then the machine-wide ones of [tool.zenlock.images]; both
    checked by `tool_settings`."""

    def value(key: str, default: object = "") -> object:
        return table.get(key, images.get(key, default))

    if not value("parent"):
        raise ZenlockError(
            f"[tool.zenlock.{section}] parent is missing: name a parent image, e.g. "
            'parent = "python:3.11-slim-bookworm".'
        )
    # A table with a parent of its own has its own parents too.
    parents = table.get("parents", {} if "parent" in table else images.get("parents", {}))
    where = f"[tool.zenlock.{section}]"
    return BuildSettings(
        # The default name (from the folder's) is checked here: SCHEMA checks written ones.
        name=repository(table.get("name", default_name), f"{where} name"),
        registry=value("registry").rstrip("/"),
        parent=value("parent"),
        network=value("network", "bridge"),
        ca_bundle=value("ca_bundle"),
        platforms=platform_list(value("platforms"), f"{where} platforms"),  # canonical names
        parents={one_platform(key, f"{where} parents"): image for key, image in parents.items()},
        section=section,
    )


def pipeline_settings(root: Path) -> PipelineSettings:
    images = tool_settings(root).get("images", {})
    return PipelineSettings(
        build=build_settings(images, images, root.name, "images"),
        mode=images.get("mode", "iterate"),
        pipeline_groups=images.get("pipeline_groups", {}),
    )


def server_settings(root: Path) -> ServerSettings:
    settings = tool_settings(root)
    images, table = settings.get("images", {}), settings.get("server", {})
    default_name = f"{images.get('name', root.name)}-server"
    return ServerSettings(
        build=build_settings(table, images, default_name, "server"),
        host=table.get("host", "127.0.0.1"),
        port=table.get("port", 8238),
        env_file=table.get("env_file", "configs/server.env"),
        plugins=table.get("plugins", ""),
        analytics=table.get("analytics", False),
    )


def default_stack(root: Path | None = None) -> str | None:
    """`[tool.zenlock.stacks] default` of `root` (default: the working directory's project):
    the stack plain `nox -s run` and the tests run on; None: ZenML's active stack."""
    return tool_settings(working_root(root)).get("stacks", {}).get("default")
