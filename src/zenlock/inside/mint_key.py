"""Run by the project's python against the server as the admin: the client's service account and
one fresh API key; older keys of the account are deleted, so no unused key stays valid."""

import os

from zenml.client import Client

client, account = Client(), os.environ["ENVTOOLS_ACCOUNT"]
try:
    client.get_service_account(account)
except KeyError:
    client.create_service_account(name=account)
for old in client.list_api_keys(account, size=1000).items:
    client.delete_api_key(account, old.id)
print(client.create_api_key(account, name=os.environ["ENVTOOLS_KEY_NAME"]).key)
