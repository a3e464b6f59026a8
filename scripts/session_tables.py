"""The session tables of README.md and template/README.md.jinja, written from the noxfiles'
docstrings (the lines `nox -l` prints): one source. Run `uv run python scripts/session_tables.py`
after changing a session; a test fails while a table differs. The guide's reference page
(docs/hooks/reference.py) builds its tables with `table` too.
"""

import ast
import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PROJECT_NOXFILE = REPO / "template" / "noxfile.py.jinja"
# Each README: the noxfile its table lists, between these markers.
TABLES = {
    REPO / "README.md": PROJECT_NOXFILE,
    REPO / "template" / "README.md.jinja": PROJECT_NOXFILE,
}
START, END = "<!-- sessions: written by scripts/session_tables.py -->", "<!-- /sessions -->"


def sessions(noxfile: Path) -> dict[str, str]:
    """Session name -> the first line of its docstring, as `nox -l` shows it."""
    tree = ast.parse(noxfile.read_text())
    return {
        node.name: (ast.get_docstring(node) or "").splitlines()[0]
        for node in tree.body
        if isinstance(node, ast.FunctionDef)
        and any("session" in ast.unparse(decorator) for decorator in node.decorator_list)
    }


def table(noxfile: Path) -> str:
    rows = ["| session | what it does |", "| --- | --- |"]
    for name, doc in sessions(noxfile).items():
        cell = doc.replace("|", "\\|")
        rows.append(f"| `nox -s {name}` | {cell} |")
    return "\n".join(rows)


def with_table(text: str, noxfile: Path) -> str:
    pattern = re.compile(re.escape(START) + r".*?" + re.escape(END), re.S)
    if not pattern.search(text):
        raise SystemExit(f"no {START} ... {END} markers")
    return pattern.sub(lambda _: f"{START}\n{table(noxfile)}\n{END}", text)


def main(check: bool) -> None:
    """Write the tables; with `--check`, only say whether they are up to date."""
    stale = []
    for readme, noxfile in TABLES.items():
        text = readme.read_text()
        if with_table(text, noxfile) != text:
            stale.append(str(readme.relative_to(REPO)))
            if not check:
                readme.write_text(with_table(text, noxfile))
    if check and stale:
        raise SystemExit(f"Out of date: {', '.join(stale)}; run scripts/session_tables.py.")
    print("Session tables up to date." if check else f"Written: {', '.join(stale) or 'none'}")


if __name__ == "__main__":
    main("--check" in sys.argv[1:])
