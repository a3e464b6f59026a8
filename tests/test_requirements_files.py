"""A classic project's requirements.txt, read by its grammar and turned into ZenML integrations
(by ZenML's registry) and plain dependencies: `nox -s integrations -- add --from FILE`."""

from pathlib import Path

import pytest

from zenlock import ZenlockError, integrations, registry, requirements

# A part of ZenML 0.98's registry, as registry.snapshot() holds it.
SNAPSHOT = {
    "integrations": {
        "sklearn": {"requirements": ["scikit-learn"]},
        "pytorch": {"requirements": ["torch"]},
        "mlflow": {"requirements": ["mlflow>=2.1.1,<4", "mlserver>=1.3.3", "rapidjson<1.15"]},
        "s3": {"requirements": ["aws-profile-manager", "boto3>=1.21", "s3fs>2022.3.0"]},
        "aws": {"requirements": ["aws-profile-manager", "boto3>=1.21", "sagemaker>=2.237"]},
        "xgboost": {"requirements": ["xgboost>=1.0.0"]},
        "slack": {"requirements": ["slack-sdk==3.30.0"]},
        "pigeon": {"requirements": ["ipywidgets>=8.0.0"]},
        "spark": {"requirements": ["pyspark==3.2.1"]},
        "airflow": {"requirements": []},
    }
}  # fmt: skip


@pytest.fixture
def zenml_registry(monkeypatch):
    monkeypatch.setattr(registry, "snapshot", lambda root: SNAPSHOT)


@pytest.mark.parametrize(
    ("text", "read"),
    [
        ("mlflow>=2.1\n", ["mlflow>=2.1"]),
        ("# tools\n\nMLflow >= 2.1   # the tracker\n", ["MLflow >= 2.1"]),
        ("numpy\t# a tab before the comment\n", ["numpy"]),
        ("a==1 \\\n  ; os_name == 'nt'\n", ["a==1    ; os_name == 'nt'"]),  # a continuation
        ("x @ https://h/x-1.0-py3-none-any.whl#sha256=ab\nzenml[server]==0.98.0\n",
         ["x @ https://h/x-1.0-py3-none-any.whl#sha256=ab", "zenml[server]==0.98.0"]),
        # pip-compile --generate-hashes: the lock pins hashes of its own
        ("six==1.16 \\\n  --hash=sha256:aa \\\n  --hash=sha256:bb\n  # via x\n", ["six==1.16"]),
        ("tqdm \\", ["tqdm"]),  # a continuation at the very end
        ("", []),
    ],
)  # fmt: skip
def test_a_requirements_file_by_its_grammar(tmp_path, text, read):
    path = tmp_path / "requirements.txt"
    path.write_text(text)
    assert requirements.read_file(path) == read


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("mlflow\n-r other.txt\n", "requirements.txt:2: `-r` is a pip option"),
        ("--index-url https://h/simple\n", "requirements.txt:1: `--index-url` is a pip option"),
        ("-e ./lib\n", "requirements.txt:1: `-e` is a pip option"),
        ("mlflow >>= 2\n", "requirements.txt:1 is not a PEP 508 requirement ("),
        ("a==1 \\\n  --hash=sha256:aa\nd >>= 1\n", "requirements.txt:3 is not a PEP 508"),
        ("AWS_SECRET_ACCESS_KEY=s3cr3t-value\n", "requirements.txt:1 is not a PEP 508"),
        ("x @ https://user:s3cr3t-value@h/x.whl\n", "txt:1: its URL holds a user or password"),
        ("x @ git+https://s3cr3t-value@github.com/o/x\n", "txt:1: its URL holds a user"),
    ],
)  # fmt: skip
def test_what_is_no_requirement_is_one_line_naming_the_line(tmp_path, text, said):
    path = tmp_path / "requirements.txt"
    path.write_text(text)
    with pytest.raises(ZenlockError) as refused:
        requirements.read_file(path)
    message = str(refused.value)
    assert said in message and "\n" not in message
    assert "s3cr3t-value" not in message  # a line may hold a secret: never repeated


def test_a_missing_file_is_one_line(tmp_path):
    with pytest.raises(ZenlockError, match=r"^Cannot read .*nothing\.txt: "):
        requirements.read_file(tmp_path / "nothing.txt")


@pytest.mark.parametrize(
    ("package", "integration"),
    [
        ("mlflow", "mlflow"),  # named like it, and it needs it
        ("MLflow", "mlflow"),
        ("scikit-learn", "sklearn"),  # its only package
        ("scikit_learn", "sklearn"),
        ("torch", "pytorch"),  # ZenML's name for it
        ("pyspark", "spark"),
        ("xgboost", "xgboost"),
        ("boto3", None),  # needed by s3 and aws: stands for neither
        ("s3fs", None),  # one of s3's packages
        ("ipywidgets", None),  # pigeon's only package, and no one's name for it
        ("slack-sdk", None),
        ("airflow", None),  # an integration of that name that needs no package
        ("optuna", None),
    ],
)
def test_a_package_stands_for_an_integration_by_zenmls_registry(
    zenml_registry, package, integration
):
    assert registry.named_by(Path("."), package) == integration


def test_a_requirements_file_becomes_integrations_and_dependencies(
    zenml_registry, tmp_path, capsys
):
    path = tmp_path / "requirements.txt"
    path.write_text(
        "zenml[server]==0.97.0\nmlflow\nscikit-learn==1.5.2\noptuna>=3\nboto3\nxgboost\nmlflow\n"
        "torch ; sys_platform == 'linux'\npyspark==3.5.0\n"
    )
    names, dependencies = integrations.from_file(Path("."), path)
    assert names == ["mlflow", "sklearn", "xgboost"]
    # The user's own version of an integration's package is kept: the lock honours both. A
    # line for some platforms only, or a pin the integration's own excludes, stays a dependency.
    assert dependencies == [
        "scikit-learn==1.5.2", "optuna>=3", "boto3", "torch ; sys_platform == 'linux'",
        "pyspark==3.5.0",
    ]  # fmt: skip
    said = capsys.readouterr().out
    assert "left out zenml[server]==0.97.0" in said and "nox -s upgrade -- VERSION" in said
    assert "pyspark==3.5.0 stays a plain dependency: ZenML's spark wants pyspark==3.2.1" in said
