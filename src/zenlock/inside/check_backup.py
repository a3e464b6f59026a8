"""Whether a backup is a complete ZenML database (its path and kind are the arguments): intact
(SQLite's integrity check; every part of a dump readable), with alembic's revision, the
server's id and the tables of its release (all of ZenML's schema when the release is the
image's; for an older one, the tables every release has)."""

import json
import sqlite3
import sys
import uuid

import zenml
import zenml.zen_stores.schemas  # noqa: F401 - defines every table of this release
from sqlmodel import SQLModel

CORE = {"alembic_version", "server_settings", "user", "stack", "stack_component", "pipeline_run"}
path, kind = sys.argv[1], sys.argv[2]
found = {"problem": None, "version": None, "server_id": None}
tables, rows = set(), {}
try:
    if kind == "sqlite":
        database = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        damage = [row[0] for row in database.execute("PRAGMA integrity_check").fetchall()]
        if damage != ["ok"]:
            found["problem"] = "SQLite's integrity check fails (" + "; ".join(damage[:2]) + ")"
        names = "SELECT name FROM sqlite_master WHERE type = 'table'"
        tables = {row[0] for row in database.execute(names)}
        for table in {"alembic_version", "server_settings"} & tables:
            cursor = database.execute(f"SELECT * FROM {table}")
            names = [column[0] for column in cursor.description]
            rows[table] = [dict(zip(names, row, strict=True)) for row in cursor]
    else:
        with open(path) as dump:
            part = ""
            for line in dump:
                part += line
                if line.rstrip() == "}":
                    found_part = json.loads(part)
                    part = ""
                    tables.add(found_part["table"])
                    rows.setdefault(found_part["table"], []).extend(found_part.get("data", []))
        if part.strip():
            found["problem"] = "the dump ends in the middle of a table"
except (sqlite3.Error, ValueError, KeyError, TypeError) as error:
    found["problem"] = f"it cannot be read ({type(error).__name__}: {error})"
if not found["problem"]:
    versions = rows.get("alembic_version") or [{}]
    found["version"] = versions[0].get("version_num")
    settings = rows.get("server_settings") or [{}]
    if settings[0].get("id"):
        found["server_id"] = uuid.UUID(str(settings[0]["id"])).hex
    wanted = set(SQLModel.metadata.tables) if found["version"] == zenml.__version__ else CORE
    missing = sorted(wanted - tables)
    if not found["version"]:
        found["problem"] = "it has no alembic revision"
    elif missing:
        found["problem"] = f"it lacks tables of ZenML {found['version']}: {', '.join(missing[:5])}"
print(json.dumps(found))
