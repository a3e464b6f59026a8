"""Servers this project does not run: `connect URL` points its sessions at one (e.g.
deploy/compose.yaml), `helm --url URL` writes values for ZenML's Helm chart that run the
pushed server image (see helmvalues.py)."""

import getpass

from . import ZenlockError, helmvalues
from .credentials import login_token, server_info, service_account_key
from .inputs import kubernetes_name, server_url
from .projectserver import Server
from .state import write_env_file


def connect(server: Server, address: str, user: str, allow_http: bool) -> None:
    """This project's sessions on a server it does not run (deploy/compose.yaml, Helm): the
    admin's password, asked once and never kept, mints the project's service-account key.
    Nothing is sent before /api/v1/info shows a ZenML server with password logins, and no
    key this project holds for another server is ever sent to it."""
    url, _ = server_url(address, "connect URL", allow_http=allow_http)
    info, why = server_info(url)
    if info is None:
        raise ZenlockError(
            f"No ZenML server answers at {url} ({why}): start it, or check the URL. Nothing "
            "was sent to it and nothing was changed."
        )
    if info["auth_scheme"] != "OAUTH2_PASSWORD_BEARER":
        raise ZenlockError(
            f"The ZenML server at {url} logs in by {info['auth_scheme']}: `connect` needs "
            "password logins (OAUTH2_PASSWORD_BEARER, as every server zenlock deploys has). "
            "Nothing was sent to it and nothing was changed."
        )
    password = getpass.getpass(f"Password of {user} on {url}: ")
    if login_token(url, {"username": user, "password": password}) is None:
        raise ZenlockError(f"The server at {url} refused {user}'s password. Nothing was changed.")
    admin = {"ZENML_DEFAULT_USER_NAME": user, "ZENML_DEFAULT_USER_PASSWORD": password}
    account = server.client_account()
    key = service_account_key(account, url, admin)  # a new one: no saved key
    # Only now, with the key: the project's own id, under which its ZenML state is kept.
    server.claim()
    write_env_file(server.project.connection, {"ZENML_STORE_URL": url, "ZENML_STORE_API_KEY": key})
    print(
        f"This project's sessions now use the server at {url} (ZenML {info['version']}), "
        f"as service account {account}; `nox -s server -- up` connects them to its own "
        "server again."
    )


def helm(server: Server, address: str, secret: str | None, allow_http: bool) -> None:
    """deploy/helm-values.yaml for the server at `address` (where the cluster serves it)."""
    url, origin = server_url(address, "--url", allow_http=allow_http)
    name = kubernetes_name(secret or server.settings.build.name, "--secret")
    helmvalues.write(server.project, server.settings, url, origin, name)
