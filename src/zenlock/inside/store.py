"""How a short-lived container reaches the server's database without importing ZenML (that
costs seconds of CPU): the engine ZenML's SQL store makes of a plain ZENML_STORE_URL. Any
other ZENML_STORE_* setting (TLS, ...) or URL option goes through ZenML's own configuration."""

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
