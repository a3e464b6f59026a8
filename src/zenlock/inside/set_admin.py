"""The admin's password set by ZenML's SQL store itself (the REST API would want the old one)."""

import os

from zenml.config.global_config import GlobalConfiguration
from zenml.models import UserUpdate
from zenml.zen_stores.sql_zen_store import SqlZenStore, SqlZenStoreConfiguration

config = SqlZenStoreConfiguration(**GlobalConfiguration().store_configuration.model_dump())
store = SqlZenStore(config=config, skip_default_registrations=True)
admin = store.get_user(os.environ["ENVTOOLS_ADMIN"])
store.update_user(admin.id, UserUpdate(password=os.environ["ENVTOOLS_PASSWORD"]))
print("password set for", admin.name)
