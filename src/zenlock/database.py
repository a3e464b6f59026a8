"""The server's database: SQLite in the server's data volume (the default), or MySQL/MariaDB
when `ZENML_STORE_URL` in the server env file names one (mysql://USER:PASSWORD@HOST:PORT/DB).

Short-lived containers of the server image probe, dump and load it with ZenML's own code
(its store configuration and its dump-file backup engine), so they see the network and the
ZenML version the server sees.
"""

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from packaging.version import InvalidVersion, Version

from . import ZenlockError, engine, oneoff
from .inputs import mysql_url
from .scripts import script

DATA = "/zenml"  # where the data volume is mounted: the SQLite database lives there
DUMP = "/tmp/zenml-backup"  # inside the short-lived container only


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


@dataclass(frozen=True, eq=False)
class Database:
    """The server's database as short-lived containers of `image` reach it: SQLite in the
    data `volume`, or the MySQL/MariaDB that the server env's ZENML_STORE_URL names."""

    client: Any
    image: str
    network: str
    server_env: dict[str, str]
    volume: str

    def describe(self) -> str:
        return describe(self.server_env, self.volume)

    def run(self, *command: str, env: dict | None = None, **options) -> tuple[str, bytes]:
        options.setdefault("volumes", volumes(self.server_env, self.volume))
        options.setdefault("network", self.network)
        return oneoff.run_once(
            self.client, self.image, ["python", "-c", *command],
            environment={**environment(self.server_env), **(env or {})}, **options,
        )  # fmt: skip

    def probe(self, secrets_key: str = "") -> dict:
        """Whether the database answers, the release its data was migrated to (None: no data
        yet) and the image's ZenML version; with `secrets_key`, also `secrets` as
        secrets_to_encrypt finds them (one container, not two, before each start)."""
        # Read-only: no data volume is made for it.
        present = store_url(self.server_env) or engine.volume_exists(self.client, self.volume)
        output, _ = self.run(
            script("store", "secrets_scan", "probe"),
            env={"ENVTOOLS_SECRETS_KEY": secrets_key},
            **({} if present else {"volumes": {}}),
        )
        return last_json(output)

    def secrets_to_encrypt(
        self, key: str, *, old_key: str = "", encrypt: bool = False
    ) -> dict[str, list[str]]:
        """The names of the secrets not encrypted with `key`: `plain`, `rekeyed` (readable
        with `old_key`) and `unreadable`; with `encrypt`, the first two are encrypted with
        `key`."""
        output, _ = self.run(
            script("store", "secrets_scan", "secrets_key"),
            "encrypt" if encrypt else "find",
            env={"ZENML_SECRETS_STORE_ENCRYPTION_KEY": key, "ENVTOOLS_OLD_KEY": old_key},
        )
        return last_json(output)

    def check_backup(self, content: bytes) -> dict:
        """What a backup is, read by the image's ZenML without touching the database:
        `problem` (None: a complete ZenML database), its release and the id of the server it
        came from."""
        kind = "mysql" if store_url(self.server_env) else "sqlite"
        output, _ = self.run(
            script("check_backup"), DUMP, kind, volumes={}, network="none", put=(DUMP, content)
        )
        return last_json(output)

    def set_admin_password(self, admin: dict) -> str:
        """Give the admin in the database the password of `admin` (ZENML_DEFAULT_USER_*)."""
        output, _ = self.run(
            script("set_admin"),
            env={
                "ENVTOOLS_ADMIN": admin["ZENML_DEFAULT_USER_NAME"],
                "ENVTOOLS_PASSWORD": admin["ZENML_DEFAULT_USER_PASSWORD"],
            },
        )
        return output.strip().splitlines()[-1]

    def dump(self) -> bytes:
        """A consistent copy: SQLite's file, or ZenML's dump of MySQL/MariaDB."""
        command = ("dump_engine", "backup") if store_url(self.server_env) else ("snapshot",)
        _, content = self.run(script(command[0]), *command[1:], DUMP, get=DUMP)
        return content

    def load(self, content: bytes) -> None:
        """Replace the data with a backup: SQLite's file is copied over; a MySQL database is
        dropped and made again from the dump."""
        self.run(script("dump_engine"), "restore", DUMP, put=(DUMP, content))


def last_json(output: str):
    return json.loads(output.strip().splitlines()[-1])


def suffix(server_env: dict[str, str]) -> str:
    return ".json" if store_url(server_env) else ".db"


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
