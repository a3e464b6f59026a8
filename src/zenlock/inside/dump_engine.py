"""ZenML's dump-file backup engine (MySQL: every table read in one transaction, InnoDB's
snapshot; restore drops the database and makes it again; SQLite: the file is copied back),
with binary columns as base64: ZenML's own writes them as UTF-8 text, which the compressed
API results it keeps are not."""

import base64
import json
import sys

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
        kwargs["dump_file"].write("\n")

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
