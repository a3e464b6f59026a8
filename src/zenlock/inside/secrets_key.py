"""Run joined after store.py and secrets_scan.py: its command line is "find" or "encrypt"."""
# ruff: noqa: F821  (store_engine, scan_secrets: defined by the scripts joined before it)

import json
import os
import sys

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
