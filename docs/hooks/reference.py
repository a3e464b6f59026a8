"""MkDocs hook: the reference page comes from copier.yml and the noxfiles, so it cannot drift.

`reference.md` holds the markers `<!-- copier-questions -->`, `<!-- project-sessions -->` and
`<!-- repository-sessions -->`; this hook replaces them with tables at build time.
"""

import re
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "scripts"))
from session_tables import table as nox_sessions  # noqa: E402  (the READMEs' tables too)


class CopierLoader(yaml.SafeLoader):
    """Reads copier.yml; its `!include` documents hold hidden values, not questions."""


CopierLoader.add_constructor("!include", lambda loader, node: None)


def questions() -> dict[str, dict]:
    """The questions copier asks, by name (hidden values left out)."""
    documents = yaml.load_all((REPO / "copier.yml").read_text(), Loader=CopierLoader)
    return {
        name: spec
        for document in documents
        if isinstance(document, dict)
        for name, spec in document.items()
        if not name.startswith("_") and isinstance(spec, dict) and spec.get("when") is not False
    }


def copier_questions() -> str:
    rows = ["| question | what it sets | default | choices |", "| --- | --- | --- | --- |"]
    for name, spec in questions().items():
        choices = spec.get("choices", "")
        if isinstance(choices, dict):
            choices = ", ".join(f"`{value}`" for value in choices.values())
        elif isinstance(choices, list):
            choices = ", ".join(f"`{value}`" for value in choices)
        default = spec.get("default", "")
        if isinstance(default, str) and ("{{" in default or "{%" in default):
            default = "derived from earlier answers"
        else:
            default = f"`{default}`" if default not in ("", None, []) else "—"
        help_text = re.sub(r"\{\{\s*(\w+)\s*\}\}", r"`\1`", spec.get("help", ""))
        cells = [f"`{name}`", help_text, default, choices]
        rows.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
    return "\n".join(rows)


def on_page_markdown(markdown: str, page, config, files) -> str:
    if page.file.src_uri != "reference.md":
        return markdown
    return (
        markdown.replace("<!-- copier-questions -->", copier_questions())
        .replace("<!-- project-sessions -->", nox_sessions(REPO / "template" / "noxfile.py.jinja"))
        .replace("<!-- repository-sessions -->", nox_sessions(REPO / "noxfile.py"))
    )
