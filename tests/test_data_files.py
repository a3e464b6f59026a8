"""What a step reads travels with it: a file under data/, read by a relative path, reaches the
step locally, in iterate mode (in ZenML's code archive) and in release mode (in the image); a
pipeline without configs/NAME.yaml runs with ZenML's defaults, still in our image;
`[tool.zenlock.run] default` names the pipeline a plain run runs."""

import json
import re
from pathlib import Path

import pytest
import yaml
from conftest import DOCKER_ANSWERS, free_port, git_commit, nox, render_project, run

from zenlock import ZenlockError, discovery
from zenlock import images as image_builds

# A pipeline the way a user adds one: a module under pipelines/, no configs/rows.yaml. Its step
# reads project files by paths relative to its working directory, and says where it ran.
ROWS_PIPELINE = '''"""Reads the project's data files by relative paths."""

import os
from pathlib import Path
from typing import Annotated

from zenml import pipeline, step


@step
def read_rows() -> tuple[
    Annotated[str, "rows"], Annotated[str, "workdir"], Annotated[list[str], "listed"]
]:
    rows = Path("data/rows.csv").read_text() + Path("data/nested/notes.txt").read_text()
    rows += Path("data/corpus/words.txt").read_text()  # through a link to a project folder
    return rows, os.getcwd(), sorted(os.listdir())


@pipeline
def rows() -> None:
    read_rows()
'''
ROWS = "id,label\n1,cat\n2,dog\n"
NOTES = "kept in git, beside an ignored file\n"
WORDS = "in corpus/, read as data/corpus/words.txt\n"
READ = ROWS + NOTES + WORDS

# The newest run of `rows`: what the step read, where it worked, and what the run recorded.
RUN_FACTS = """
import json
from zenml.client import Client
run = Client().get_pipeline("rows").last_run
step = run.steps["read_rows"]
build = run.snapshot.build
print(json.dumps({
    "status": run.status.value,
    "rows": step.outputs["rows"][0].load(),
    "workdir": step.outputs["workdir"][0].load(),
    "listed": step.outputs["listed"][0].load(),
    "stack": run.stack.name,
    "code_path": run.snapshot.code_path,
    "image": build.images["orchestrator"].image if build else None,
}))
"""
RUN_COUNT = """
import json
from zenml.client import Client
print(json.dumps(Client().list_pipeline_runs(size=1).total))
"""


def write_pyproject_run_table(root: Path, table: str) -> Path:
    (root / "pyproject.toml").write_text(
        f"[tool.zenlock]\nschema = 1\n\n[tool.zenlock.run]\n{table}"
    )
    return root


@pytest.mark.parametrize(
    ("table", "names", "chosen"),
    [
        ("", ["inference", "training"], "training"),  # no key: training first
        ("", ["b", "a"], "a"),  # no training: the first by name
        ("", [], None),
        ('default = "inference"\n', ["inference", "training"], "inference"),
        ('default = "a"\n', ["b", "a"], "a"),
    ],
)
def test_the_default_pipeline_is_the_key_else_training_else_the_first(
    tmp_path, table, names, chosen
):
    assert discovery.default_pipeline(names, write_pyproject_run_table(tmp_path, table)) == chosen


@pytest.mark.parametrize(
    ("table", "said"),
    [
        ('default = "nope"\n', "default = 'nope' is not a pipeline under pipelines/ (found: a, b)"),
        ('default = ""\n', "default = '' is not a pipeline"),
        ("default = 3\n", "default = 3 is not a pipeline"),
        ('default = ["a"]\n', "default = ['a'] is not a pipeline"),
    ],
)
def test_a_default_that_names_no_pipeline_is_one_line_with_the_fix(tmp_path, table, said):
    with pytest.raises(ZenlockError) as error:
        discovery.default_pipeline(["a", "b"], write_pyproject_run_table(tmp_path, table))
    assert said in str(error.value) and "name one of them" in str(error.value)
    assert "\n" not in str(error.value)


def test_a_run_key_that_is_not_a_table_is_one_line(tmp_path):
    (tmp_path / "pyproject.toml").write_text('[tool.zenlock]\nrun = "training"\n')
    with pytest.raises(ZenlockError, match=r"\[tool.zenlock.run\] with default = "):
        discovery.default_pipeline(["training"], tmp_path)


@pytest.mark.parametrize(
    ("table", "limit"),
    [("", discovery.DATA_LIMIT_MB), ("data_limit_mb = 0\n", 0), ("data_limit_mb = 500\n", 500)],
)
def test_the_data_limit_is_a_whole_number_of_mb(tmp_path, table, limit):
    assert discovery.data_limit_mb(write_pyproject_run_table(tmp_path, table)) == limit


@pytest.mark.parametrize("value", ["-1", "1.5", '"20"', "true", "[20]"])
def test_a_data_limit_that_is_no_whole_number_is_one_line(tmp_path, value):
    root = write_pyproject_run_table(tmp_path, f"data_limit_mb = {value}\n")
    with pytest.raises(
        ZenlockError, match=r"write a whole number of MB, e\.g\. data_limit_mb = 20"
    ):
        discovery.data_limit_mb(root)


def test_data_files_are_every_file_under_data_by_their_relative_path(tmp_path):
    assert discovery.data_files(tmp_path) == {}
    (tmp_path / "data" / "nested" / "deeper").mkdir(parents=True)
    for name in ["b.csv", "a.csv", "nested/deeper/x.parquet", ".hidden"]:
        (tmp_path / "data" / name).write_text(name)
    (tmp_path / "data" / "empty").mkdir()
    found = discovery.data_files(tmp_path)
    assert list(found) == [
        "data/.hidden",
        "data/a.csv",
        "data/b.csv",
        "data/nested/deeper/x.parquet",
    ]
    assert all(path.read_text() == name.removeprefix("data/") for name, path in found.items())


def linked_project(tmp_path: Path, links: dict[str, str]) -> Path:
    """A project (tmp_path/project) with data/rows.csv, a folder of its own beside data/
    (assets/) and, outside it, tmp_path/elsewhere; then `links` (path: target as written, ROOT
    and TMP for those folders)."""
    root = tmp_path / "project"
    (root / "data").mkdir(parents=True)
    (root / "data" / "rows.csv").write_text("rows")
    (root / "assets" / "raw").mkdir(parents=True)
    (root / "assets" / "raw" / "a.csv").write_text("a")
    (root / "assets" / "b.csv").write_text("b")
    (tmp_path / "elsewhere" / "raw").mkdir(parents=True)
    (tmp_path / "elsewhere" / "raw" / "x.csv").write_text("x")
    (tmp_path / "elsewhere" / "credentials").write_text("secret")
    for path, target in links.items():
        if path == "data":
            (root / "data" / "rows.csv").rename(root / "assets" / "rows.csv")
            (root / "data").rmdir()
        (root / path).symlink_to(target.replace("ROOT", str(root)).replace("TMP", str(tmp_path)))
    return root


ROWS_ONLY = {"data/rows.csv": "data/rows.csv"}


@pytest.mark.parametrize(
    ("links", "found"),
    [
        ({}, ROWS_ONLY),
        ({"data/b.csv": "../assets/b.csv"}, {**ROWS_ONLY, "data/b.csv": "assets/b.csv"}),
        ({"data/b.csv": "ROOT/assets/b.csv"}, {**ROWS_ONLY, "data/b.csv": "assets/b.csv"}),
        ({"data/again.csv": "rows.csv"}, {**ROWS_ONLY, "data/again.csv": "data/rows.csv"}),
        ({"data/raw": "../assets/raw"}, {**ROWS_ONLY, "data/raw/a.csv": "assets/raw/a.csv"}),
        (  # a link to a link, both in the project
            {"assets/hop": "raw/a.csv", "data/a.csv": "../assets/hop"},
            {**ROWS_ONLY, "data/a.csv": "assets/raw/a.csv"},
        ),
        (  # the same folder twice, side by side: no loop
            {"data/one": "../assets/raw", "data/two": "../assets/raw"},
            {
                **ROWS_ONLY,
                "data/one/a.csv": "assets/raw/a.csv",
                "data/two/a.csv": "assets/raw/a.csv",
            },
        ),
        (  # data/ itself a link into the project
            {"data": "assets"},
            {
                "data/b.csv": "assets/b.csv",
                "data/raw/a.csv": "assets/raw/a.csv",
                "data/rows.csv": "assets/rows.csv",
            },
        ),
    ],
)
def test_a_link_in_data_that_stays_in_the_project_travels_as_its_content(tmp_path, links, found):
    root = linked_project(tmp_path, links)
    files = discovery.data_files(root)
    assert {name: path.relative_to(root).as_posix() for name, path in files.items()} == found
    assert not any(path.is_symlink() for path in files.values())  # the files, not their links
    assert list(files) == sorted(files)


@pytest.mark.parametrize(
    ("links", "said"),
    [
        (  # a secret linked in: release mode would have baked it into the image
            {"data/credentials": "../../elsewhere/credentials"},
            "data/credentials is a link to TMP/elsewhere/credentials, outside the project",
        ),
        (
            {"data/credentials": "TMP/elsewhere/credentials"},
            "data/credentials is a link to TMP/elsewhere/credentials, outside the project",
        ),
        (
            {"data/raw": "../../elsewhere/raw"},
            "data/raw is a link to TMP/elsewhere/raw, outside the project",
        ),
        ({"data": "../elsewhere"}, "data is a link to TMP/elsewhere, outside the project"),
        (  # out through a project folder that is linked in
            {"assets/out": "../../elsewhere/credentials", "data/assets": "../assets"},
            "data/assets/out is a link to TMP/elsewhere/credentials, outside the project",
        ),
        (  # in through a link to a link that leaves
            {"assets/hop": "../../elsewhere/raw", "data/raw": "../assets/hop"},
            "data/raw is a link to TMP/elsewhere/raw, outside the project",
        ),
        (
            {"data/gone.csv": "nope.csv"},
            "data/gone.csv is a link to nope.csv, which does not exist",
        ),
        (
            {"data/raw": "../assets/nope"},
            "data/raw is a link to ../assets/nope, which does not exist",
        ),
        (
            {"data/l1": "l2", "data/l2": "l1"},
            "data/l1 is a link to l2, which leads back to itself (a loop)",
        ),
        ({"data/here": "."}, "data/here is a link to ROOT/data, a folder that holds it (a loop)"),
        ({"data/all": ".."}, "data/all is a link to ROOT, a folder that holds it (a loop)"),
        (
            {"assets/raw/up": "../..", "data/raw": "../assets/raw"},
            "data/raw/up is a link to ROOT, a folder that holds it (a loop)",
        ),
    ],
)
def test_a_link_in_data_that_leaves_dangles_or_loops_is_one_line_with_the_fix(
    tmp_path, links, said
):
    root = linked_project(tmp_path, links)
    with pytest.raises(ZenlockError) as error:
        discovery.data_files(root)
    message = str(error.value)
    expected = said.replace("ROOT", str(root.resolve())).replace("TMP", str(tmp_path.resolve()))
    assert message.startswith(expected + "; "), message
    assert "copy the file into data/, or keep large or secret data in the artifact store" in message
    assert "\n" not in message


@pytest.mark.parametrize(
    "line",
    [
        "COPY data/ /app/data/",
        "COPY data /app/data",
        "copy data/ /app/data/",
        "ADD data/ /app/data/",
        "COPY ./data/ /srv/files/",
        "COPY --chown=10001:10001 --chmod=644 data/ /app/data/",
        'COPY ["data/", "/app/data/"]',
        'COPY --link ["data", "/app/data"]',
        "COPY src/ data/ /app/",
        "  COPY\tdata/   /app/data/",
        "COPY \\\n    data/ \\\n    /app/data/",
    ],
)
def test_a_release_dockerfile_copies_data_by_a_copy_or_add_of_the_folder(line):
    assert image_builds.copies_data(f"ARG DEPENDENCIES_IMAGE\nFROM x\n{line}\nCOPY src/ /app/\n")


@pytest.mark.parametrize(
    "line",
    [
        "",
        "COPY metadata.json /app/",
        "COPY data/rows.csv /app/data/",
        "COPY mydata/ /app/data/",
        "COPY data.tar /app/",
        "COPY src/ /app/data/",  # data as the destination only
        "COPY data/",  # no destination: copies nothing
        "COPY --from=build data/ /app/data/",  # another stage's data/
        "# COPY data/ /app/data/",
        "RUN cp -r data/ /app/data/",
        'COPY ["data/", "/app/data/"',  # broken JSON
    ],
)
def test_a_release_dockerfile_without_a_copy_of_data_is_told_apart(line):
    assert not image_builds.copies_data(f"FROM x\n{line}\nCOPY src/ /app/\n")


def test_the_templates_release_dockerfile_copies_data():
    dockerfile = (
        Path(__file__).parents[1] / "template" / "docker" / "release.Dockerfile"
    ).read_text()
    assert image_builds.copies_data(dockerfile)
    assert not image_builds.copies_data(dockerfile.replace("COPY data/ /app/data/\n", ""))


def test_data_over_the_limit_is_refused_at_the_limit_not_before(tmp_path):
    root = write_pyproject_run_table(tmp_path, "data_limit_mb = 1\n")
    (root / "data").mkdir()
    (root / "data" / "a.bin").write_bytes(b"x" * 1_000_000)
    assert discovery.refuse_heavy_data(discovery.data_files(root), root) == 1_000_000
    (root / "data" / "b.bin").write_bytes(b"x")
    with pytest.raises(ZenlockError) as error:
        discovery.refuse_heavy_data(discovery.data_files(root), root)
    assert "data/ holds 1.0 MB, more than [tool.zenlock.run] data_limit_mb = 1" in str(error.value)
    assert "--release" in str(error.value) and "\n" not in str(error.value)


# The Docker stack, with the project's own images and a local ZenML server.
IMAGES = "data-files"
RUN_TABLE = "[tool.zenlock.run]\n"


@pytest.fixture(scope="module")
def data_project(tmp_path_factory, docker_client):
    """A project with the rows pipeline (its default), data/ with a file git ignores, one it
    tracks and a link to a folder of the project (corpus/), .venv synced and a local ZenML
    server started with the project's config."""
    project = render_project(
        tmp_path_factory.mktemp("data") / "project", **DOCKER_ANSWERS, project_slug=IMAGES
    )
    (project / "src" / package_of(project) / "pipelines" / "rows.py").write_text(ROWS_PIPELINE)
    (project / "data" / "nested").mkdir(parents=True)
    (project / "data" / "rows.csv").write_text(ROWS)
    (project / "data" / "nested" / "notes.txt").write_text(NOTES)
    (project / "corpus").mkdir()  # a folder of the project, linked into data/
    (project / "corpus" / "words.txt").write_text(WORDS)
    (project / "data" / "corpus").symlink_to(Path("..", "corpus"), target_is_directory=True)
    with (project / ".gitignore").open("a") as gitignore:
        gitignore.write("data/*.csv\n")  # data often stays out of git: it travels all the same
    pyproject = project / "pyproject.toml"  # the template's has the table, its keys commented
    pyproject.write_text(pyproject.read_text().replace(RUN_TABLE, f'{RUN_TABLE}default = "rows"\n'))
    nox("-s", "dev", cwd=project)
    git_commit(project, "rendered")
    zenml = project / ".venv" / "bin" / "zenml"
    config = str(project / ".zenml")
    run(zenml, "login", "--local", "--port", str(free_port()), cwd=project,
        ZENML_CONFIG_PATH=config, ZENML_AUTO_OPEN_DASHBOARD="false")  # fmt: skip
    yield project
    run(zenml, "logout", "--local", cwd=project, ZENML_CONFIG_PATH=config)


def run_facts(project: Path, code: str = RUN_FACTS):
    """What `code` prints as JSON on its last line, run with the project's ZenML config."""
    script = project / "build" / "run_facts.py"  # ZenML wants a main module with a file
    script.parent.mkdir(exist_ok=True)
    script.write_text(code)
    python = project / ".venv" / "bin" / "python"
    output = run(python, script, cwd=project, ZENML_CONFIG_PATH=str(project / ".zenml")).stdout
    return json.loads(output.strip().splitlines()[-1])


def package_of(project: Path) -> str:
    return yaml.safe_load((project / ".copier-answers.yml").read_text())["package_name"]


def images(project: Path, *args: str) -> str:
    """The tag `nox -s images` reports for the default image."""
    output = nox("-s", "images", "--", *args, cwd=project).stdout
    return re.findall(r"^  (\S+:(?:iterate|release)-[0-9a-f]{16})  ", output, re.MULTILINE)[-1]


@pytest.mark.docker
@pytest.mark.server
@pytest.mark.slow
def test_a_step_reads_data_by_a_relative_path_in_this_process(data_project):
    project = data_project
    output = nox("-s", "run", "--", "--no-cache", cwd=project).stdout
    assert "Running rows on stack default: code runs in this process (.venv); " in output
    assert "no configs/rows.yaml: ZenML's defaults" in output
    facts = run_facts(project)
    assert facts["status"] == "completed"
    assert (facts["rows"], facts["workdir"]) == (READ, str(project))


@pytest.mark.docker
@pytest.mark.server
@pytest.mark.slow
def test_a_config_that_names_no_file_is_refused(data_project):
    refused = nox("-s", "run", "--", "--config", "configs/nope.yaml", check=False, cwd=data_project)
    output = refused.stdout + refused.stderr
    assert refused.returncode != 0
    assert "Run configuration configs/nope.yaml not found: fix the path of --config." in output
    assert "Traceback" not in output


@pytest.mark.docker
@pytest.mark.server
@pytest.mark.slow
def test_data_travels_with_the_code_in_iterate_mode(data_project):
    project = data_project
    tag = images(project)
    output = nox("-s", "run", "--", "--docker", "--no-cache", cwd=project).stdout
    assert (
        f"image {tag} (iterate mode: code and data/ (3 files, 0.0 MB) shipped by ZenML with "
        "the run); no configs/rows.yaml: ZenML's defaults"
    ) in output
    facts = run_facts(project)
    assert (facts["status"], facts["stack"], facts["image"]) == ("completed", "local-docker", tag)
    # In the container, in the extracted code archive: data/ is there, git-ignored file too.
    assert (facts["rows"], facts["workdir"]) == (READ, "/app/code")
    assert facts["listed"] == ["data", package_of(project)]  # no configs/, nothing else
    assert facts["code_path"]


@pytest.mark.docker
@pytest.mark.server
@pytest.mark.slow
def test_data_is_in_the_release_image_in_a_layer_below_the_code(data_project, docker_client):
    project = data_project
    tag = images(project, "--release")
    output = nox("-s", "run", "--", "--docker", "--no-cache", cwd=project).stdout
    assert f"image {tag} (release mode: code and data/ baked into the image)" in output
    facts = run_facts(project)
    assert (facts["status"], facts["image"], facts["code_path"]) == ("completed", tag, None)
    assert (facts["rows"], facts["workdir"]) == (READ, "/app")
    assert facts["listed"] == ["data", package_of(project)]
    # A code-only change rebuilds the code layer only: data/'s layer stays the same.
    module = next((project / "src").glob("*/pipelines/rows.py"))
    original = module.read_text()
    try:
        module.write_text(original + "# changed\n")
        changed = images(project, "--release")
        before = docker_client.images.get(tag).attrs["RootFS"]["Layers"]
        after = docker_client.images.get(changed).attrs["RootFS"]["Layers"]
        assert changed != tag and before[:-1] == after[:-1] and before[-1] != after[-1]
    finally:
        module.write_text(original)
    # A data change is a new image: data/ counts in the tag, and its layer is new.
    rows_file = project / "data" / "rows.csv"
    try:
        rows_file.write_text(ROWS + "3,owl\n")
        new_data = images(project, "--release")
        layers = docker_client.images.get(new_data).attrs["RootFS"]["Layers"]
        assert new_data != tag and layers[:-2] == before[:-2] and layers[-2] != before[-2]
    finally:
        rows_file.write_text(ROWS)


@pytest.mark.docker
@pytest.mark.server
@pytest.mark.slow
def test_data_over_the_limit_is_refused_before_any_container_starts(data_project):
    project = data_project
    images(project)  # iterate mode again
    runs = run_facts(project, RUN_COUNT)
    pyproject = project / "pyproject.toml"
    original = pyproject.read_text()
    heavy = project / "data" / "heavy.bin"
    try:
        pyproject.write_text(original.replace(RUN_TABLE, f"{RUN_TABLE}data_limit_mb = 1\n"))
        heavy.write_bytes(b"\0" * 1_500_000)
        refused = nox("-s", "run", "--", "--docker", check=False, cwd=project)
        output = refused.stdout + refused.stderr
        said = [line for line in output.splitlines() if "data_limit_mb" in line]
        assert refused.returncode != 0 and len(said) == 1, output
        assert said[0].startswith("error: data/ holds 1.5 MB, more than") and "--release" in said[0]
        assert "Traceback" not in output
        assert run_facts(project, RUN_COUNT) == runs
    finally:
        pyproject.write_text(original)
        heavy.unlink()


@pytest.mark.docker
@pytest.mark.server
@pytest.mark.slow
def test_a_release_dockerfile_that_copies_no_data_is_refused_before_building(data_project):
    project = data_project
    dockerfile = project / "docker" / "release.Dockerfile"
    original = dockerfile.read_text()
    try:
        dockerfile.write_text(original.replace("COPY data/ /app/data/\n", ""))
        refused = nox("-s", "images", "--", "--release", check=False, cwd=project)
        output = refused.stdout + refused.stderr
        assert refused.returncode != 0
        assert "does not copy: add `COPY data/ /app/data/`" in output and "Traceback" not in output
        assert ":release-" not in refused.stdout
    finally:
        dockerfile.write_text(original)


@pytest.mark.docker
@pytest.mark.server
@pytest.mark.slow
def test_a_link_out_of_the_project_is_refused_before_any_run_or_build(data_project, tmp_path):
    project = data_project
    images(project)  # iterate mode, so the run gets as far as data/
    runs = run_facts(project, RUN_COUNT)
    secret = tmp_path / "credentials"
    secret.write_text("[default]\naws_secret_access_key = not-for-an-image\n")
    link = project / "data" / "credentials"
    link.symlink_to(secret)
    said = f"error: data/credentials is a link to {secret.resolve()}, outside the project; "
    try:
        for command in (["run", "--", "--docker"], ["images", "--", "--release"]):
            refused = nox("-s", *command, check=False, cwd=project)
            output = refused.stdout + refused.stderr
            lines = [line for line in output.splitlines() if "data/credentials" in line]
            assert refused.returncode != 0 and len(lines) == 1, output
            assert lines[0].startswith(said) and "copy the file into data/" in lines[0]
            assert "Traceback" not in output and "building" not in output
        assert run_facts(project, RUN_COUNT) == runs
    finally:
        link.unlink()
