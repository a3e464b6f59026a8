"""What the database says before the server starts: whether it answers, to which ZenML release
it was migrated (alembic's revision; ZenML ends every release with one named after it) and,
given ENVTOOLS_SECRETS_KEY, which secrets that key does not encrypt (secrets_scan.py).
Run joined after store.py and secrets_scan.py."""
# ruff: noqa: F821  (store_engine, scan_secrets: defined by the scripts joined before it)

import importlib.metadata
import json
import os
import uuid

from sqlalchemy import text
from sqlalchemy.exc import OperationalError

found = {"image_version": importlib.metadata.version("zenml"), "problem": None, "detail": ""}
found["version"] = found["server_id"] = None
try:
    url, database = store_engine()
    found["kind"] = url.get_backend_name()
    if found["kind"] == "sqlite":
        server = database if os.path.exists(url.database) else None
    else:
        _, server = store_engine(database="")  # the server, not yet the database
    if server is not None:
        with server.connect() as connection:
            if found["kind"] == "mysql":
                query = "SELECT 1 FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = :name"
                if connection.execute(text(query), {"name": url.database}).first() is None:
                    found["problem"] = "database"
            if not found["problem"]:
                schema = f"`{url.database}`." if found["kind"] == "mysql" else ""
                query = f"SELECT version_num FROM {schema}alembic_version"
                try:
                    found["version"] = connection.execute(text(query)).scalar()
                    query = f"SELECT id FROM {schema}server_settings"
                    server_id = connection.execute(text(query)).scalar()
                    found["server_id"] = uuid.UUID(str(server_id)).hex if server_id else None
                except Exception:
                    pass  # an empty database: ZenML creates its tables on start
    if found["version"] and not found["problem"] and os.environ.get("ENVTOOLS_SECRETS_KEY"):
        found["secrets"], _ = scan_secrets(database, os.environ["ENVTOOLS_SECRETS_KEY"], "")
except OperationalError as error:
    code = error.orig.args[0] if error.orig and error.orig.args else None
    problems = {1044: "database", 1045: "credentials", 1049: "database", 1698: "credentials"}
    found["problem"] = problems.get(code, "unreachable")
    found["detail"] = str(error.orig.args[-1]) if error.orig and error.orig.args else str(error)
except Exception as error:
    found["problem"], found["detail"] = "invalid", f"{type(error).__name__}: {error}"
print(json.dumps(found))
