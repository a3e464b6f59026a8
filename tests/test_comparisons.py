"""Fast tables: requirements compared by meaning, pipelines found by reading source, the
integration-group names, and the fix a failed activation names. Imported as shipped."""

import ast
import re
from pathlib import Path

import pytest
from conftest import REPO

from zenlock import ZenlockError, discovery, lock, registry, requirements


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("Jinja2", "jinja2"),
        ("JINJA2", "jinja2"),
        ("python_rapidjson<1.15", "python-rapidjson<1.15"),
        ("zope.interface", "Zope-Interface"),
        ("ruamel.yaml>=0.17", "ruamel_yaml>=0.17"),
        ("kubernetes>=21.7,<26", "kubernetes<26,>=21.7"),
        ("kubernetes >= 21.7 , < 26", "kubernetes>=21.7,<26"),
        ("numpy<3.0", "numpy<3"),
        ("s3fs>2022.3.0,!=2025.3.1", "s3fs!=2025.3.1,>2022.3.0"),
        ("zenml[server,local]", "zenml[Local,server]"),
        ('pywin32; sys_platform == "win32"', "pywin32;sys_platform=='win32'"),
        ("tenacity!=8.4.0", "Tenacity != 8.4.0"),
    ],
)
def test_spellings_of_one_requirement_are_the_same(first, second):
    assert requirements.key(first) == requirements.key(second)
    assert requirements.same([first, "boto3"], ["boto3", second])


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("jinja2", "jinja3"),
        ("numpy<3", "numpy<=3"),
        ("kubernetes>=21.7,<26", "kubernetes>=21.7"),
        ("zenml[server]", "zenml[server,local]"),
        ('pywin32; sys_platform == "win32"', "pywin32"),
        ('pywin32; sys_platform == "win32"', 'pywin32; sys_platform == "linux"'),
        ("pkg @ https://example.com/a.whl", "pkg"),
    ],
)
def test_different_requirements_differ(first, second):
    assert requirements.key(first) != requirements.key(second)
    assert not requirements.same([first], [second])


def test_a_list_differs_by_a_missing_or_an_extra_entry():
    assert not requirements.same(["a", "b"], ["a"])
    assert requirements.same([], [])


@pytest.mark.parametrize("text", ["", "not a requirement!", "pkg >=", "pkg[", "pkg; nope"])
def test_a_broken_requirement_is_named(text):
    with pytest.raises(ZenlockError, match="is not a PEP 508 requirement"):
        requirements.key(text)


@pytest.mark.parametrize(
    ("source", "names"),
    [
        ("from zenml import pipeline\n@pipeline\ndef training(): ...", ["training"]),
        ("from zenml import pipeline\n@pipeline()\ndef training(): ...", ["training"]),
        (
            "from zenml import pipeline\n@pipeline(name='e2e_training', enable_cache=False)\n"
            "def training(): ...",
            ["e2e_training"],
        ),
        ("import zenml\n@zenml.pipeline\ndef a(): ...", ["a"]),
        ("import zenml\n@zenml.pipeline(on_failure=None)\ndef a(): ...", ["a"]),
        ("from zenml import pipeline as zp\n@zp\ndef a(): ...", ["a"]),
        ("from zenml.pipelines import pipeline\n@pipeline\nasync def a(): ...", ["a"]),
        (
            "from zenml import pipeline, step\n@step\ndef s(): ...\n@pipeline\ndef a(): s()\n"
            "@pipeline\ndef b(): s()",
            ["a", "b"],
        ),
        # Reading the source runs nothing: code reading the active stack is not executed.
        (
            "from zenml import pipeline\nfrom zenml.client import Client\n"
            "tracker = Client().active_stack.experiment_tracker\n"
            "@pipeline\ndef a(): ...",
            ["a"],
        ),
        ("from zenml import step\n@step\ndef only_a_step(): ...", []),
        ("def helper(): ...\n@staticmethod\ndef other(): ...", []),
    ],
)
def test_pipelines_are_found_by_reading_their_source(source, names):
    assert discovery.pipelines_in(source) == names


def test_a_module_that_cannot_be_read_hides_only_its_own_pipelines(tmp_path):
    (tmp_path / "__init__.py").write_text("raise RuntimeError('never imported')\n")
    (tmp_path / "good.py").write_text("from zenml import pipeline\n@pipeline\ndef good(): ...\n")
    (tmp_path / "broken.py").write_text("from zenml import pipeline\n<<<<<<< HEAD\n")
    (tmp_path / "nested").mkdir()
    (tmp_path / "nested" / "deep.py").write_text("import zenml\n@zenml.pipeline\ndef deep(): ...\n")
    found, broken = discovery.discover(tmp_path, "pkg.pipelines")
    assert found == {"good": "pkg.pipelines.good", "deep": "pkg.pipelines.nested.deep"}
    assert list(broken) == ["pkg.pipelines.broken"]
    assert "SyntaxError" in broken["pkg.pipelines.broken"]


@pytest.mark.parametrize(
    ("group", "owner"),
    [
        ("integration-sklearn", ("pipelines", "sklearn")),
        ("server-integration-s3", ("server", "s3")),
        ("integration-great-expectations", ("pipelines", "great_expectations")),
        ("server-integration-great-expectations", ("server", "great_expectations")),
        ("dev", None),
        ("server", None),
    ],
)
def test_integration_groups_have_one_naming(group, owner, monkeypatch):
    snapshot = {"integrations": {"sklearn": {}, "s3": {}, "great_expectations": {}}}
    monkeypatch.setattr(registry, "snapshot", lambda root: snapshot)
    assert registry.integration_of_group(Path("."), group) == owner
    if owner:
        assert registry.group_name(*owner) == group


def test_only_the_registry_module_spells_an_integration_group():
    """One home for the naming: every other module asks `registry` for a group's name."""
    spelled = [
        path.name
        for path in (REPO / "src" / "zenlock").glob("*.py")
        if path.name != "registry.py" and re.search(r"[\"']integration-", path.read_text())
    ]
    assert not spelled


def test_no_command_imports_another_and_each_layer_only_those_below():
    """ground < tools < services < commands, read from the package's own imports."""
    layers = {
        "ground": {
            "pyproject", "settings", "project", "identity", "state", "inputs", "requirements",
            "moved", "scripts",
        },
        "tools": {
            "lock", "engine", "buildkit", "pushes", "oneoff", "registry", "activation", "uvbinary",
            "tarlayer", "ociimage", "venvshare", "baselayer", "bytecode", "assemble",
            "enginelayers", "ociregistry", "parents", "pylock", "referrers",
        },
        "services": {
            "imagespec", "serverspec", "database", "backups", "credentials", "stackfiles",
            "containers", "discovery", "builds", "helmvalues", "projectserver", "lifecycle",
            "serverdata", "remote", "zenmlenv", "checkreport", "assembler", "imagelayers",
        },
        "commands": {
            "images", "server", "check", "integrations", "stacks", "upgrade", "run", "execute",
            "testing", "zenmlcli",
        },
    }  # fmt: skip
    rank = {module: n for n, members in enumerate(layers.values()) for module in members}
    package = REPO / "src" / "zenlock"
    assert set(rank) | {"__init__", "__main__"} == {path.stem for path in package.glob("*.py")}
    for module, level in rank.items():
        tree = ast.parse((package / f"{module}.py").read_text())
        imported = {
            name
            for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and node.level == 1
            for name in ([node.module] if node.module else [a.name for a in node.names])
            if name in rank
        }
        above = {name for name in imported if rank[name] > level}
        same_command = {name for name in imported if rank[name] == level == 3}
        assert not above and not same_command, (module, above | same_command)


@pytest.mark.parametrize(
    ("version", "constraint"),
    [("3.1.1", "pandas<3"), ("0.7.23", "pandas<0.7"), ("2", "pandas<2"), ("0", "pandas<0.0")],
)
def test_a_failed_activation_names_the_package_its_version_and_a_constraint(version, constraint):
    found = {"integration": "evidently", "error": "ImportError: x", "package": "pandas"}
    message = registry.inactive_message({**found, "version": version})
    assert f"does not import with pandas {version} (locked)" in message
    assert f'constraint-dependencies = ["{constraint}"]' in message
    unknown = registry.inactive_message({**found, "package": None, "version": None})
    assert unknown == "The evidently integration does not import: ImportError: x."


TYPES = ["artifact_store", "experiment_tracker", "orchestrator"]
GOOD_COMPONENT = "{name: default, flavor: local, configuration: {}}"


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("stack_name: a\n", "needs `stack_name` and `components`"),
        ("- a\n- b\n", "needs `stack_name` and `components`"),
        ("stack_name: a\ncomponents: [1, 2]\n", "`components` must map component types"),
        ("stack_name: a\ncomponents: {}\n", "`components` must map component types"),
        (f"stack_name: [a]\ncomponents: {{orchestrator: [{GOOD_COMPONENT}]}}\n", "`stack_name`"),
        (f"stack_name: ''\ncomponents: {{orchestrator: [{GOOD_COMPONENT}]}}\n", "`stack_name`"),
        (
            f"stack_name: a\ncomponents: {{orchestrater: [{GOOD_COMPONENT}]}}\n",
            "`components.orchestrater` is not a component type",
        ),
        (
            "stack_name: a\ncomponents: {orchestrator: [{name: x}]}\n",
            "`components.orchestrator[0]` needs `flavor`",
        ),
        (
            "stack_name: a\ncomponents: {orchestrator: [{flavor: local}]}\n",
            "`components.orchestrator[0]` needs `name`",
        ),
        (
            "stack_name: a\ncomponents: {orchestrator: [plain]}\n",
            "`components.orchestrator[0]` must be a mapping",
        ),
        (
            "stack_name: a\ncomponents:\n  orchestrator: {name: x, flavor: l, configuration: 3}\n",
            "`components.orchestrator[0]`.configuration must be a mapping",
        ),
        ("stack_name: a\ncomponents: {orchestrator: [\n", "is not valid YAML"),
        ("stack_name: &n a\ncomponents: {orchestrator: [{name: *n, flavor: local}]}\n", "aliases"),
        # The "billion laughs" shape: refused at the first alias, before anything expands.
        ("a: &a [x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a]\n", "alias"),
        ("\xff\xfe not text", "is not valid YAML"),
    ],
)
def test_a_malformed_stack_file_is_one_line_naming_file_and_field(
    text, said, tmp_path, monkeypatch
):
    from zenlock import stackfiles

    monkeypatch.setattr(registry, "snapshot", lambda root: {"component_types": TYPES})
    path = tmp_path / "broken.yaml"
    path.write_bytes(text.encode("latin-1"))
    with pytest.raises(ZenlockError) as refused:
        stackfiles.read_stack(tmp_path, path)
    message = str(refused.value)
    assert said in message and "broken.yaml" in message
    assert "\n" not in message


def test_a_stack_file_too_large_is_refused_unread(tmp_path, monkeypatch):
    from zenlock import stackfiles

    path = tmp_path / "big.yaml"
    path.write_text("stack_name: a\n" + "#" * (stackfiles.MAX_BYTES + 1))
    with pytest.raises(ZenlockError, match="larger than 256 KiB"):
        stackfiles.read_stack(tmp_path, path)


def test_a_good_stack_file_reads(tmp_path, monkeypatch):
    from zenlock import stackfiles

    monkeypatch.setattr(registry, "snapshot", lambda root: {"component_types": TYPES})
    path = tmp_path / "ok.yaml"
    path.write_text(f"stack_name: ok\ncomponents:\n  orchestrator: [{GOOD_COMPONENT}]\n")
    assert stackfiles.read_stack(tmp_path, path)["stack_name"] == "ok"


@pytest.mark.parametrize(
    ("key", "credential"),
    [
        ("api_key", True),
        ("key", True),
        ("secret", True),
        ("auth_token", True),
        ("db_password", True),
        ("client_credentials", True),
        ("private_key", True),
        ("apikey", True),
        ("tracking_uri", False),
        ("ssh_key_path", False),
        ("kubernetes_context", False),
        ("keyword", False),
        ("path", False),
    ],
)
def test_fields_named_like_credentials_need_a_secret_reference(key, credential):
    from zenlock import stackfiles

    assert stackfiles.credential_like(key) is credential


# A lock's [[package]] entries, as tomllib reads uv.lock: zenml needs click and pydantic,
# pydantic needs itself back through a cycle, `fastapi[all]` needs uvicorn only with the extra,
# and two forks of numpy (one per Python) each need something else.
PACKAGES = {
    "zenml": [{"name": "zenml", "dependencies": [{"name": "click"}, {"name": "pydantic"}]}],
    "click": [{"name": "click"}],
    "pydantic": [{"name": "pydantic", "dependencies": [{"name": "pydantic-core"}]}],
    "pydantic-core": [{"name": "pydantic-core", "dependencies": [{"name": "pydantic"}]}],
    "fastapi": [
        {
            "name": "fastapi",
            "dependencies": [{"name": "starlette"}],
            "optional-dependencies": {"all": [{"name": "uvicorn", "extra": ["standard"]}]},
        }
    ],
    "starlette": [{"name": "starlette"}],
    "uvicorn": [
        {"name": "uvicorn", "optional-dependencies": {"standard": [{"name": "httptools"}]}}
    ],
    "httptools": [{"name": "httptools"}],
    "numpy": [
        {"name": "numpy", "dependencies": [{"name": "old-helper"}]},
        {"name": "numpy", "dependencies": [{"name": "new-helper"}]},
    ],
    "old-helper": [{"name": "old-helper"}],
    "new-helper": [{"name": "new-helper"}],
}


@pytest.mark.parametrize(
    ("roots", "closure"),
    [
        (["zenml"], {"zenml", "click", "pydantic", "pydantic-core"}),
        (["ZenML==0.98.0"], {"zenml", "click", "pydantic", "pydantic-core"}),
        (["fastapi"], {"fastapi", "starlette"}),
        (["fastapi[all]>=0.1"], {"fastapi", "starlette", "uvicorn", "httptools"}),
        (["numpy; python_version < '3.12'"], {"numpy", "old-helper", "new-helper"}),
        (["not-in-the-lock"], {"not-in-the-lock"}),
        ([], set()),
    ],
)
def test_a_dependency_closure_follows_extras_cycles_and_forks(roots, closure):
    assert lock.dependency_closure(roots, PACKAGES) == closure


def test_an_export_splits_into_entries_with_their_hash_lines():
    export = (
        "# a comment\n"
        "click==8.3.0 \\\n    --hash=sha256:aa \\\n    --hash=sha256:bb\n"
        "\n"
        "Pydantic_Core==2.41.0 ; python_version >= '3.11' \\\n    --hash=sha256:cc\n"
        "zope.interface==7.0\n"
    )
    entries = lock.requirement_entries(export)
    assert [name for name, _ in entries] == ["click", "pydantic-core", "zope-interface"]
    assert "".join(text for _, text in entries).count("--hash") == 3
    assert entries[0][1] == "click==8.3.0 \\\n    --hash=sha256:aa \\\n    --hash=sha256:bb\n"
