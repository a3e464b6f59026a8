"""The server's database: SQLite in the server's data volume (the default), or MySQL/MariaDB
when `ZENML_STORE_URL` in the server env file names one (mysql://USER:PASSWORD@HOST:PORT/DB).

Short-lived containers of the server image probe, dump and load it with ZenML's own code
(its store configuration and its dump-file backup engine), so they see the network and the
ZenML version the server sees.
"""

from pathlib import Path

from packaging.version import InvalidVersion, Version

from . import ZenlockError, engine
from .inputs import mysql_url
from .settings import ServerSettings

DATA = "/zenml"  # where the data volume is mounted: the SQLite database lives there
DUMP = "/tmp/zenml-backup"  # inside the short-lived container only

# How a short-lived container reaches the server's database without importing ZenML (that
# costs seconds of CPU): the engine ZenML's SQL store makes of a plain ZENML_STORE_URL. Any
# other ZENML_STORE_* setting (TLS, ...) or URL option goes through ZenML's own configuration.
STORE = """
import os
from sqlalchemy import create_engine
from sqlalchemy.engine import make_url

def store_engine(database=None):
    url = make_url(os.environ["ZENML_STORE_URL"])
    extra = [k for k, v in os.environ.items() if k.startswith("ZENML_STORE_") and v]
    if extra != ["ZENML_STORE_URL"] or url.query:
        from zenml.config.global_config import GlobalConfiguration
        from zenml.zen_stores.sql_zen_store import SqlZenStoreConfiguration

        stored = GlobalConfiguration().store_configuration.model_dump()
        url, connect_args, _ = SqlZenStoreConfiguration(**stored).get_sqlalchemy_config()
    elif url.drivername == "mysql":
        url, connect_args = url.set(drivername="mysql+pymysql"), {}
    else:
        connect_args = {"check_same_thread": False, "timeout": 60}
    if database is not None:
        url = url.set(database=database)
    return url, create_engine(url, connect_args=connect_args)
"""

# What the database says before the server starts: whether it answers, to which ZenML release
# it was migrated (alembic's revision; ZenML ends every release with one named after it) and,
# given ENVTOOLS_SECRETS_KEY, which secrets that key does not encrypt (SECRETS_SCAN).
PROBE = """
import importlib.metadata, json, os, uuid
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
"""

# SQLite's online backup: a consistent copy while the server writes.
SNAPSHOT = f"""
import os, sqlite3
source = os.environ["ZENML_STORE_URL"].removeprefix("sqlite:///")
sqlite3.connect(source).backup(sqlite3.connect("{DUMP}"))
"""

# ZenML's dump-file backup engine (MySQL: every table read in one transaction, InnoDB's
# snapshot; restore drops the database and makes it again; SQLite: the file is copied back),
# with binary columns as base64: ZenML's own writes them as UTF-8 text, which the compressed
# API results it keeps are not.
DUMP_ENGINE = """
import base64, json, sys
from zenml.config.global_config import GlobalConfiguration
from zenml.utils.json_utils import pydantic_encoder
from zenml.zen_stores.migrations.backup.sqlalchemy import FileDatabaseBackupEngine
from zenml.zen_stores.sql_zen_store import SqlZenStoreConfiguration

class BinarySafeDump(FileDatabaseBackupEngine):
    def store_database_data(self, data, **kwargs):
        def encode(value):
            if isinstance(value, bytes):
                return {"__base64__": base64.b64encode(value).decode()}
            return pydantic_encoder(value)
        json.dump(data, kwargs["dump_file"], indent=4, default=encode)
        kwargs["dump_file"].write("\\n")

    def load_database_data(self, **kwargs):
        for part in super().load_database_data(**kwargs):
            for row in part.get("data", []):
                for key, value in row.items():
                    if isinstance(value, dict) and list(value) == ["__base64__"]:
                        row[key] = base64.b64decode(value["__base64__"])
            yield part

config = SqlZenStoreConfiguration(**GlobalConfiguration().store_configuration.model_dump())
dump = BinarySafeDump(config, location=sys.argv[2])  # action, location
dump.backup_database(overwrite=True) if sys.argv[1] == "backup" else dump.restore_database()
"""

SNAPSHOT_COMMAND = ["python", "-c", SNAPSHOT]

# Secrets not encrypted with the server's key: stored unencrypted (a server started before its
# secrets store had a type), or encrypted with an earlier key (a backup's, ENVTOOLS_OLD_KEY).
# Found by reading the table as ZenML's SecretSchema does (JSON, AES-GCM with a key, base64
# without one), with no ZenML import: the probe before each start runs it too. Encrypted
# again by ZenML's own schema. A function for both scripts.
SECRETS_SCAN = """
import base64, json, uuid
from sqlalchemy import column, inspect, select, table
from sqlalchemy_utils.types.encrypted.encrypted_type import AesGcmEngine

SECRETS = table("secret", column("id"), column("name"), column("values"))

def engine_of(key):
    engine = AesGcmEngine()
    engine._update_key(key)
    return engine

def readable(values, reader):
    try:
        serialized = reader.decrypt(values) if reader else base64.b64decode(values).decode()
        return isinstance(json.loads(serialized), dict)
    except Exception:  # any failure to decode is "not with this key"
        return False

def scan_secrets(database, key, old):
    # The names not encrypted with `key` (plain, rekeyed: read with `old`, unreadable), and
    # for each readable one its id and the key that reads it (None: stored unencrypted).
    found, readers = {"plain": [], "rekeyed": [], "unreadable": []}, {}
    if not inspect(database).has_table("secret"):
        return found, readers
    key, candidates = engine_of(key), ([(old, engine_of(old))] if old else []) + [(None, None)]
    with database.connect() as connection:
        for id, name, values in connection.execute(select(SECRETS)):
            if not values or readable(values, key):
                continue
            reader = next((k for k, engine in candidates if readable(values, engine)), False)
            if reader is False:
                found["unreadable"].append(name)  # another key's: left as it is
                continue
            found["plain" if reader is None else "rekeyed"].append(name)
            readers[uuid.UUID(str(id)).hex] = reader
    return found, readers
"""

# Run after STORE and SECRETS_SCAN: its command line is "find" or "encrypt".
SECRETS_KEY = """
import json, os, sys

_, database = store_engine()
key, old = os.environ["ZENML_SECRETS_STORE_ENCRYPTION_KEY"], os.environ.get("ENVTOOLS_OLD_KEY")
found, readers = scan_secrets(database, key, old)
if sys.argv[1] == "encrypt" and readers:
    from sqlalchemy.orm import Session
    from zenml.zen_stores.schemas.secret_schemas import SecretSchema

    server_key = engine_of(key)
    with Session(database) as session:
        for secret in session.scalars(select(SecretSchema)).all():
            if secret.id.hex in readers:
                reader = readers[secret.id.hex]
                values = secret.get_secret_values(reader and engine_of(reader))
                secret.set_secret_values(values, encryption_engine=server_key)
                session.add(secret)
        session.commit()
print(json.dumps(found))
"""

# Whether a backup is a complete ZenML database (its path and kind are the arguments): intact
# (SQLite's integrity check; every part of a dump readable), with alembic's revision, the
# server's id and the tables of its release (all of ZenML's schema when the release is the
# image's; for an older one, the tables every release has).
CHECK_BACKUP = """
import json, sqlite3, sys, uuid
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
            rows[table] = [dict(zip(names, row)) for row in cursor]
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
"""

# The admin's password set by ZenML's SQL store itself (the REST API would want the old one).
SET_ADMIN = """
import os
from zenml.config.global_config import GlobalConfiguration
from zenml.models import UserUpdate
from zenml.zen_stores.sql_zen_store import SqlZenStore, SqlZenStoreConfiguration

config = SqlZenStoreConfiguration(**GlobalConfiguration().store_configuration.model_dump())
store = SqlZenStore(config=config, skip_default_registrations=True)
admin = store.get_user(os.environ["ENVTOOLS_ADMIN"])
store.update_user(admin.id, UserUpdate(password=os.environ["ENVTOOLS_PASSWORD"]))
print("password set for", admin.name)
"""


def store_url(server_env: dict[str, str]) -> str | None:
    """The MySQL/MariaDB URL the server env file names; None: SQLite in the data volume."""
    url = server_env.get("ZENML_STORE_URL", "").strip()
    if not url or url.startswith("sqlite"):
        return None
    if not url.startswith("mysql://"):
        scheme = url.split("://")[0] if "://" in url else "(no scheme)"
        raise ZenlockError(
            f"ZENML_STORE_URL in the server env file starts with {scheme[:20]!r}: ZenML's "
            "server stores its data in SQLite (leave it unset) or MySQL/MariaDB "
            "(mysql://USER:PASSWORD@HOST:PORT/DATABASE)."
        )
    mysql_url(url, "ZENML_STORE_URL in the server env file")
    return url


def redacted(url: str) -> str:
    """The URL without its password: for messages and `status`."""
    parts = mysql_url(url, "ZENML_STORE_URL in the server env file")
    port = f":{parts['port']}" if parts["port"] else ""
    return f"mysql://{parts['user']}@{parts['host']}{port}/{parts['database']}"


def describe(server_env: dict[str, str], volume: str) -> str:
    url = store_url(server_env)
    return f"MySQL/MariaDB {redacted(url)}" if url else f"SQLite in Docker volume {volume}"


def environment(server_env: dict[str, str]) -> dict[str, str]:
    """What a short-lived container needs of the server's settings: the database's."""
    return {**server_env, "ZENML_ANALYTICS_OPT_IN": "false", "ZENML_LOGGING_VERBOSITY": "WARN"}


def volumes(server_env: dict[str, str], volume: str) -> dict:
    return {} if store_url(server_env) else {volume: {"bind": DATA, "mode": "rw"}}


def probe(
    client, image: str, settings: ServerSettings, server_env: dict, volume: str, secrets_key=""
) -> dict:
    """Whether the database answers, the release its data was migrated to (None: no data
    yet) and the image's ZenML version; with `secrets_key`, also `secrets` as
    secrets_to_encrypt finds them (one container, not two, before each start)."""
    import json

    # Read-only: no data volume is made for it.
    present = store_url(server_env) or engine.volume_exists(client, volume)
    output, _ = engine.run_once(
        client, image, ["python", "-c", STORE + SECRETS_SCAN + PROBE],
        environment={**environment(server_env), "ENVTOOLS_SECRETS_KEY": secrets_key},
        volumes=volumes(server_env, volume) if present else {},
        network=settings.build.network,
    )  # fmt: skip
    return json.loads(output.strip().splitlines()[-1])


def secrets_to_encrypt(
    client,
    image: str,
    settings: ServerSettings,
    server_env: dict,
    volume: str,
    key: str,
    *,
    old_key: str = "",
    encrypt: bool = False,
) -> dict[str, list[str]]:
    """The names of the secrets not encrypted with `key`: `plain`, `rekeyed` (readable with
    `old_key`) and `unreadable`; with `encrypt`, the first two are encrypted with `key`."""
    import json

    action = "encrypt" if encrypt else "find"
    output, _ = engine.run_once(
        client, image, ["python", "-c", STORE + SECRETS_SCAN + SECRETS_KEY, action],
        environment={
            **environment(server_env),
            "ZENML_SECRETS_STORE_ENCRYPTION_KEY": key,
            "ENVTOOLS_OLD_KEY": old_key,
        },
        volumes=volumes(server_env, volume),
        network=settings.build.network,
    )  # fmt: skip
    return json.loads(output.strip().splitlines()[-1])


def check_backup(
    client, image: str, settings: ServerSettings, server_env: dict, content: bytes
) -> dict:
    """What a backup is, read by the image's ZenML without touching the database: `problem`
    (None: a complete ZenML database), its release and the id of the server it came from."""
    import json

    kind = "mysql" if store_url(server_env) else "sqlite"
    output, _ = engine.run_once(
        client, image, ["python", "-c", CHECK_BACKUP, DUMP, kind],
        environment=environment(server_env), volumes={}, network="none", put=(DUMP, content),
    )  # fmt: skip
    return json.loads(output.strip().splitlines()[-1])


def set_admin_password(
    client, image: str, settings: ServerSettings, server_env: dict, volume: str, admin: dict
) -> str:
    """Give the admin in the database the password of `admin` (ZENML_DEFAULT_USER_*)."""
    output, _ = engine.run_once(
        client, image, ["python", "-c", SET_ADMIN],
        environment={
            **environment(server_env),
            "ENVTOOLS_ADMIN": admin["ZENML_DEFAULT_USER_NAME"],
            "ENVTOOLS_PASSWORD": admin["ZENML_DEFAULT_USER_PASSWORD"],
        },
        volumes=volumes(server_env, volume),
        network=settings.build.network,
    )  # fmt: skip
    return output.strip().splitlines()[-1]


def refuse_problem(found: dict, server_env: dict[str, str], network: str) -> None:
    """A database that cannot serve: said with what to fix, before anything starts."""
    problem = found["problem"]
    if not problem:
        return
    url = store_url(server_env) or "the SQLite database"
    where = redacted(url) if url.startswith("mysql") else url
    database = mysql_url(url, "ZENML_STORE_URL")["database"] if url.startswith("mysql") else ""
    messages = {
        "unreachable": f"The database at {where} does not answer ({found['detail']}). Start it, "
        "or fix the host and port of ZENML_STORE_URL in the server env file; the server "
        f"reaches it from Docker's {network} network.",
        "credentials": f"The database at {where} refuses the user and password of "
        f"ZENML_STORE_URL ({found['detail']}): fix them in the server env file.",
        "database": f"The database server at {where} has no database {database!r} for this "
        f"user. Create it (CREATE DATABASE `{database}`; and grant the user all on it), or fix "
        "the name in ZENML_STORE_URL: a mistyped name would otherwise start an empty server.",
        "invalid": f"ZENML_STORE_URL in the server env file is not usable: {found['detail']}",
    }
    raise ZenlockError(messages[problem] + " Nothing was started.")


def newer(version: str | None, than: str | None) -> bool:
    """Data of ZenML `version` is too new for ZenML `than`: its migrations cannot be undone.
    False for no data, or a revision between releases (the server decides then)."""
    try:
        return Version(version) > Version(than)
    except (InvalidVersion, TypeError):
        return False


def downgrade_refused(data_version: str, wanted: str) -> str:
    return (
        f"The server's data is of ZenML {data_version}; ZenML {wanted} cannot run on it (ZenML's "
        "migrations cannot be undone). To keep the data, stay on a lock with ZenML "
        f"{data_version} (or go back to one: `git checkout` pyproject.toml and uv.lock, then "
        f"`nox -s dev images server`). To use ZenML {wanted}, restore a backup made on ZenML "
        f"{wanted} or older (`nox -s server -- status` lists them) with `nox -s server -- "
        "restore FILE`. Nothing was changed."
    )


def dump(client, image: str, settings: ServerSettings, server_env: dict, volume: str) -> bytes:
    """A consistent copy of the database: SQLite's file, or ZenML's dump of MySQL/MariaDB."""
    script = (
        ["python", "-c", DUMP_ENGINE, "backup", DUMP] if store_url(server_env) else SNAPSHOT_COMMAND
    )
    _, content = engine.run_once(
        client, image, script,
        environment=environment(server_env), volumes=volumes(server_env, volume),
        network=settings.build.network, get=DUMP,
    )  # fmt: skip
    return content


def suffix(server_env: dict[str, str]) -> str:
    return ".json" if store_url(server_env) else ".db"


def load(
    client, image: str, settings: ServerSettings, server_env: dict, volume: str, content: bytes
) -> None:
    """Replace the database with a backup: SQLite's file is copied over; a MySQL database is
    dropped and made again from the dump."""
    engine.run_once(
        client, image,
        ["python", "-c", DUMP_ENGINE, "restore", DUMP],
        environment=environment(server_env), volumes=volumes(server_env, volume),
        network=settings.build.network, put=(DUMP, content),
    )  # fmt: skip


def backup_of(path: Path, server_env: dict[str, str]) -> str:
    """The ZenML release a backup was made on (its alembic revision), checked to fit the
    database it is for: a SQLite file for SQLite, ZenML's JSON dump for MySQL/MariaDB."""
    with path.open("rb") as file:
        is_sqlite = file.read(16) == b"SQLite format 3\x00"
    kind = "MySQL/MariaDB" if store_url(server_env) else "SQLite"
    if is_sqlite != (kind == "SQLite"):
        made = "SQLite" if is_sqlite else "MySQL/MariaDB (or is no backup)"
        raise ZenlockError(
            f"{path} is a backup of {made}; the server's database is {kind}. Nothing was changed."
        )
    version = sqlite_version(path) if is_sqlite else dumped_version(path)
    if not version:
        raise ZenlockError(
            f"{path} is not a complete ZenML database: no alembic revision can be read (cut "
            "off, damaged, or no backup). Nothing was changed."
        )
    return version


def sqlite_version(path: Path) -> str | None:
    import sqlite3

    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return connection.execute("SELECT version_num FROM alembic_version").fetchone()[0]
    except (sqlite3.Error, TypeError):
        return None
    finally:
        connection.close()


def dumped_version(path: Path) -> str | None:
    """The alembic revision in ZenML's dump: indented JSON objects, one per table part."""
    import json

    with path.open() as dump_file:
        part = ""
        for line in dump_file:
            part += line
            if line.rstrip() != "}":
                continue
            try:
                found = json.loads(part)
            except ValueError:
                return None
            part = ""
            if found.get("table") == "alembic_version" and found.get("data"):
                return found["data"][0].get("version_num")
    return None


def data_volume(settings: ServerSettings, identity: str, client=None) -> str:
    """The volume of the server's data (SQLite, the secrets); with `client`, checked to be
    where the data is: a renamed server would otherwise start empty beside it."""
    volume = f"{settings.build.name}-{identity}-data"
    if client is None or engine.volume_exists(client, volume):
        return volume
    ending = f"-{identity}-data"
    others = [v.name for v in client.volumes.list() if v.name.endswith(ending)]
    if others:
        name = others[0].removesuffix(ending)
        raise ZenlockError(
            f"This project's server data is in volume {others[0]}, of server name {name!r}; "
            f"[tool.zenlock.server] name now says {settings.build.name!r}, which would start "
            f"an empty server. Set name = {name!r} again. Nothing was changed."
        )
    return volume
