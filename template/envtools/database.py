"""The server's database: SQLite in the server's data volume (the default), or MySQL/MariaDB
when `ZENML_STORE_URL` in the server env file names one (mysql://USER:PASSWORD@HOST:PORT/DB).

Short-lived containers of the server image probe, dump and load it with ZenML's own code
(its store configuration and its dump-file backup engine), so they see the network and the
ZenML version the server sees.
"""

from pathlib import Path

from packaging.version import InvalidVersion, Version

from . import EnvtoolsError, engine
from .inputs import mysql_url
from .settings import ServerSettings

DATA = "/zenml"  # where the data volume is mounted: the SQLite database lives there
DUMP = "/tmp/zenml-backup"  # inside the short-lived container only

# What the database says before the server starts: whether it answers, and to which ZenML
# release it was migrated (alembic's revision; ZenML ends every release with one named after it).
PROBE = """
import json, os, zenml
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError
from zenml.config.global_config import GlobalConfiguration
from zenml.zen_stores.sql_zen_store import SqlZenStoreConfiguration

found = {"image_version": zenml.__version__, "problem": None, "detail": "", "version": None}
try:
    config = SqlZenStoreConfiguration(**GlobalConfiguration().store_configuration.model_dump())
    url, connect_args, _ = config.get_sqlalchemy_config()
    found["kind"] = url.get_backend_name()
    if found["kind"] == "sqlite":
        present = os.path.exists(url.database)
        server = create_engine(url, connect_args=connect_args) if present else None
    else:
        server = create_engine(url.set(database=""), connect_args=connect_args)  # no database
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
                except Exception:
                    pass  # an empty database: ZenML creates its tables on start
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

# Secrets that ZenML stored unencrypted (a server started before its secrets store had a
# type): found, and with `encrypt` re-written with the server's key, by ZenML's own schema.
PLAIN_SECRETS = """
import json, os, sys
from sqlalchemy import create_engine, inspect
from sqlalchemy_utils.types.encrypted.encrypted_type import AesGcmEngine
from sqlmodel import Session, select
from zenml.config.global_config import GlobalConfiguration
from zenml.zen_stores.schemas.secret_schemas import SecretDecodeError, SecretSchema
from zenml.zen_stores.sql_zen_store import SqlZenStoreConfiguration

config = SqlZenStoreConfiguration(**GlobalConfiguration().store_configuration.model_dump())
url, connect_args, _ = config.get_sqlalchemy_config()
database = create_engine(url, connect_args=connect_args)
key = AesGcmEngine()
key._update_key(os.environ["ZENML_SECRETS_STORE_ENCRYPTION_KEY"])
plain = []
if inspect(database).has_table(SecretSchema.__tablename__):
    with Session(database) as session:
        for secret in session.exec(select(SecretSchema)).all():
            if not secret.values:
                continue
            try:
                secret.get_secret_values(encryption_engine=key)
                continue  # encrypted with this key
            except SecretDecodeError:
                pass
            try:
                values = secret.get_secret_values(encryption_engine=None)
            except SecretDecodeError:
                continue  # another key's: nothing to read it with, left as it is
            plain.append(secret.name)
            if sys.argv[1] == "encrypt":
                secret.set_secret_values(values, encryption_engine=key)
                session.add(secret)
        session.commit()
print(json.dumps(plain))
"""


def store_url(server_env: dict[str, str]) -> str | None:
    """The MySQL/MariaDB URL the server env file names; None: SQLite in the data volume."""
    url = server_env.get("ZENML_STORE_URL", "").strip()
    if not url or url.startswith("sqlite"):
        return None
    if not url.startswith("mysql://"):
        scheme = url.split("://")[0] if "://" in url else "(no scheme)"
        raise EnvtoolsError(
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


def probe(client, image: str, settings: ServerSettings, server_env: dict, volume: str) -> dict:
    """Whether the database answers, the release its data was migrated to (None: no data
    yet) and the image's ZenML version."""
    import json

    # Read-only: no data volume is made for it.
    present = store_url(server_env) or engine.volume_exists(client, volume)
    output, _ = engine.run_once(
        client, image, ["python", "-c", PROBE],
        environment=environment(server_env),
        volumes=volumes(server_env, volume) if present else {},
        network=settings.build.network,
    )  # fmt: skip
    return json.loads(output.strip().splitlines()[-1])


def plain_secrets(
    client,
    image: str,
    settings: ServerSettings,
    server_env: dict,
    volume: str,
    key: str,
    *,
    encrypt: bool = False,
) -> list[str]:
    """The names of the secrets stored unencrypted; with `encrypt`, encrypted with `key`."""
    import json

    output, _ = engine.run_once(
        client, image, ["python", "-c", PLAIN_SECRETS, "encrypt" if encrypt else "find"],
        environment={**environment(server_env), "ZENML_SECRETS_STORE_ENCRYPTION_KEY": key},
        volumes=volumes(server_env, volume),
        network=settings.build.network,
    )  # fmt: skip
    return json.loads(output.strip().splitlines()[-1])


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
    raise EnvtoolsError(messages[problem] + " Nothing was started.")


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
        raise EnvtoolsError(f"{path} is a backup of {made}; the server's database is {kind}.")
    version = sqlite_version(path) if is_sqlite else dumped_version(path)
    if not version:
        raise EnvtoolsError(f"{path} is not a ZenML database backup (it has no alembic_version).")
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
