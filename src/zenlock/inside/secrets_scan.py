"""Secrets not encrypted with the server's key: stored unencrypted (a server started before its
secrets store had a type), or encrypted with an earlier key (a backup's, ENVTOOLS_OLD_KEY).
Found by reading the table as ZenML's SecretSchema does (JSON, AES-GCM with a key, base64
without one), with no ZenML import: the probe before each start runs it too. Encrypted
again by ZenML's own schema. A function for both scripts."""

import base64
import json
import uuid

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
