"""copier.yml: defaults render, derived names are valid, bad answers are refused cleanly."""

import os
import shutil
import sys

import pytest
import yaml
from conftest import REPO, render_project, run

sys.path.insert(0, str(REPO / "scripts"))
sys.path.insert(0, str(REPO / "docs" / "hooks"))
import reference  # noqa: E402
import reserved_names  # noqa: E402

PYTHON_CHOICES = reference.questions()["python_version"]["choices"]


def test_defaults_render_a_project_named_after_the_defaults(render):
    project = render()
    answers = yaml.safe_load((project / ".copier-answers.yml").read_text())
    assert answers["project_slug"] == "zenml-project"
    assert (project / "src" / answers["package_name"] / "run.py").is_file()
    assert answers["zenml_version"] == "0.98.0"
    assert answers["python_version"] == "3.11"


@pytest.mark.parametrize(
    ("project_name", "slug", "package"),
    [
        ("Churn Model", "churn-model", "churn_model"),
        ("Test", "test", "test_project"),  # "test" is a standard-library module
        ("123 Data!", "123-data", "p_123_data"),
        ("ZenML", "zenml", "zenml_project"),
    ],
)
def test_derived_names_are_valid_by_construction(tmp_path, project_name, slug, package):
    project = render_project(tmp_path / "p", project_name=project_name)
    answers = yaml.safe_load((project / ".copier-answers.yml").read_text())
    assert (answers["project_slug"], answers["package_name"]) == (slug, package)
    assert (project / "src" / package / "__init__.py").is_file()


BAD_ANSWERS = [
    ({"project_name": "--- 42 ---"}, "project_name", "at least one letter"),
    ({"project_slug": "My Project"}, "project_slug", "not a valid project slug"),
    ({"package_name": "class"}, "package_name", "Python keyword"),
    ({"package_name": "json"}, "package_name", "standard-library module"),
    ({"package_name": "zenml"}, "package_name", "Choose another name"),
    ({"package_name": "9lives"}, "package_name", "not starting with a digit"),
    ({"package_name": "my-package"}, "package_name", "not a valid package name"),
    ({"author_email": "jane.doe"}, "author_email", "name@example.com"),
    ({"author_name": "  "}, "author_name", "must not be empty"),
    ({"python_version": "3.9"}, "python_version", "3.9"),
    ({"zenml_version": "latest"}, "zenml_version", "MAJOR.MINOR.PATCH"),
    ({"zenml_version": "0.98"}, "zenml_version", "MAJOR.MINOR.PATCH"),
    ({"zenml_version": "0.60.0"}, "zenml_version", "0.90.0 or newer"),
    ({"ml_integrations": ["pandas"]}, "ml_integrations", 'keep "sklearn"'),
    ({"pipeline_parent_image": "Python 3.11"}, "pipeline_parent_image", "NAME[:TAG]"),
    ({"server_parent_image": "python:3.11 slim"}, "server_parent_image", "NAME[:TAG]"),
    ({"container_registry": "https://ghcr.io/acme"}, "container_registry", "HOST[:PORT]"),
]


@pytest.mark.parametrize(
    ("answers", "field", "fix"), BAD_ANSWERS, ids=[f"{f}={a[f]!r}" for a, f, _ in BAD_ANSWERS]
)
def test_bad_answer_is_refused_with_the_fix_and_renders_nothing(tmp_path, answers, field, fix):
    destination = tmp_path / "project"
    with pytest.raises(ValueError) as refused:
        render_project(destination, **answers)
    message = str(refused.value)
    assert field in message
    assert fix in message
    assert not destination.exists() or not any(destination.iterdir())


def test_reserved_names_cover_this_python():
    listed = set(
        yaml.safe_load((REPO / "questions" / "reserved_names.yml").read_text())["reserved_names"][
            "default"
        ]
    )
    current = set(yaml.safe_load(reserved_names.render())["reserved_names"]["default"])
    missing = current - listed
    assert not missing, f"run `python scripts/reserved_names.py`: missing {sorted(missing)}"


@pytest.mark.slow
@pytest.mark.parametrize("version", PYTHON_CHOICES)
def test_every_offered_python_resolves_and_runs_zenlock(render, version):
    """Every environment's requirements resolve for that Python; where it exists here,
    zenlock runs on it."""
    project = render(python_version=version)
    run(
        "uv",
        "pip",
        "compile",
        "--universal",
        f"--python-version={version}",
        "--group=dev",
        "--group=server",
        "pyproject.toml",
        "--output-file",
        os.devnull,
        cwd=project,
    )
    interpreter = shutil.which(f"python{version}")
    usable = interpreter and run(interpreter, "--version", cwd=project, check=False).returncode == 0
    if not usable:
        pytest.skip(f"no Python {version} on this machine to run zenlock with")
    ran = run("uv", "run", "--no-project", "--python", interpreter, "--with-editable", REPO,
              "zenlock", "--version", cwd=project)  # fmt: skip
    assert ran.stdout.startswith("zenlock ")
