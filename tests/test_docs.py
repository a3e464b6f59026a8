"""The user guide builds strictly, its reference is complete, its quickstart really works."""

import re
import sys
from pathlib import Path

import pytest
import yaml
from conftest import REPO, TOOLS_BIN, run, template_repository


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    site = tmp_path_factory.mktemp("site")
    run(TOOLS_BIN / "mkdocs", "build", "--strict", "--site-dir", site, cwd=REPO)
    return site


def test_every_page_is_built(site):
    nav = yaml.safe_load((REPO / "mkdocs.yml").read_text().replace("!!python/name:", ""))["nav"]
    for entry in nav:
        (page,) = entry.values()
        built = site / ("index.html" if page == "index.md" else page.replace(".md", "/index.html"))
        assert built.is_file(), page


def test_reference_lists_every_question_and_session(site):
    reference = (site / "reference" / "index.html").read_text()
    questions = [
        line.split(":")[0]
        for line in (REPO / "copier.yml").read_text().splitlines()
        if re.match(r"^[a-z]\w*:", line)
        and not line.startswith(
            # hidden values (`when: false`), not questions
            (
                "integration_requirements",
                "image_reference_pattern",
                "image_name_pattern",
                "zenlock_version",
            )
        )  # fmt: skip
    ]
    assert "project_name" in questions and "docker_network" in questions
    for question in questions:
        assert f"<code>{question}</code>" in reference, question
    for session in ["lock", "dev", "run", "images", "server", "check", "update", "tests", "lint"]:
        assert f"<code>nox -s {session}</code>" in reference, session
    assert "<!--" not in reference.split("<article")[1].split("</article>")[0]


def test_session_tables_are_written_from_the_noxfile(site):
    """README.md's table and the reference page list every session of the generated noxfile
    with its docstring; scripts/session_tables.py wrote the tables (nothing by hand)."""
    scripted = run(sys.executable, REPO / "scripts" / "session_tables.py", "--check", cwd=REPO)
    assert "up to date" in scripted.stdout
    sys.path.insert(0, str(REPO / "scripts"))
    from session_tables import PROJECT_NOXFILE, sessions

    listed = sessions(PROJECT_NOXFILE)
    assert {"upgrade", "server", "check"} <= listed.keys()
    reference = (site / "reference" / "index.html").read_text()
    readme = (REPO / "README.md").read_text()
    for name in listed:
        assert f"<code>nox -s {name}</code>" in reference, name
        assert f"| `nox -s {name}` |" in readme, name


@pytest.mark.slow
def test_quickstart_commands_work_as_written(tmp_path):
    """Runs docs/snippets/quickstart.sh, which the quickstart page includes verbatim."""
    script = (REPO / "docs" / "snippets" / "quickstart.sh").read_text()
    # This working tree's commit instead of the published repository.
    template = f"--vcs-ref HEAD {template_repository()}"
    script = script.replace("https://github.com/OWNER/zenlock.git", template)
    result = run("bash", "-euo", "pipefail", "-c", script, cwd=tmp_path)
    output = result.stdout + result.stderr
    assert re.search(r"Pipeline run training-\S+: completed", output)
    assert re.search(r"Pipeline run inference-\S+: completed", output)
