"""The server's credentials, kept in .zenml-server/ (readable by you only): the admin account,
JWT secret and secrets-store key that must match the server's data, and the client's API key."""

import http.client
import json
import os
import secrets
import subprocess
import sys
import tempfile
import urllib.error
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

from packaging.version import InvalidVersion, Version

from . import ZenlockError
from .scripts import script
from .state import read_env_file, write_env_file

# The rules every way of deploying the server applies (`up`, deploy/compose.yaml's check):
# deploy/check_settings.py holds the same, for the server image's Python; a test compares them.
WEAK_PASSWORDS = {"", "admin", "password", "zenml", "changeme", "secret", "mysql", "root"}
PASSWORD_LENGTH, KEY_LENGTH = 12, 32


def weakness(value: str, *, key: bool = False) -> str | None:
    """Why a password (or, with `key`, a signing or encryption key) is too weak; None if not."""
    shortest = KEY_LENGTH if key else PASSWORD_LENGTH
    if value.lower() in WEAK_PASSWORDS:
        return "is empty or a default one"
    if len(value) < shortest:
        return f"is shorter than {shortest} characters"
    if len(set(value)) < 5:
        return "has fewer than 5 different characters"
    return None


def admin_credentials(admin_env: Path, server_env: dict[str, str]) -> dict[str, str]:
    """The admin account, JWT secret and secrets-store key (kept in `admin_env`): made once,
    random unless the server env file sets the password; they must match the data volume
    they guard."""
    shown = Path(*admin_env.parts[-2:])  # .zenml-server/admin.env
    wanted = server_env.get("ZENML_DEFAULT_USER_PASSWORD")
    if wanted is not None and weakness(wanted):
        raise ZenlockError(
            f"ZENML_DEFAULT_USER_PASSWORD in the server env file {weakness(wanted)}: choose "
            f"one of {PASSWORD_LENGTH} characters or more, or leave it out for a random one."
        )
    if not admin_env.is_file():
        write_env_file(
            admin_env,
            {
                "ZENML_DEFAULT_USER_NAME": server_env.get("ZENML_DEFAULT_USER_NAME", "admin"),
                "ZENML_DEFAULT_USER_PASSWORD": server_env.get(
                    "ZENML_DEFAULT_USER_PASSWORD", secrets.token_urlsafe(24)
                ),
                "ZENML_SERVER_JWT_SECRET_KEY": secrets.token_hex(32),
                # ZenML encrypts the secrets in its database with it (AES); back it up.
                "ZENML_SECRETS_STORE_ENCRYPTION_KEY": secrets.token_hex(32),
            },
        )
        print(f"Admin credentials created in {shown} (readable by you only)")
    credentials = read_env_file(admin_env)
    if "ZENML_SECRETS_STORE_ENCRYPTION_KEY" not in credentials:  # made before secrets had one
        credentials["ZENML_SECRETS_STORE_ENCRYPTION_KEY"] = secrets.token_hex(32)
        write_env_file(admin_env, credentials)
        print(f"A secrets-store key was added to {shown}.")
    password = credentials.get("ZENML_DEFAULT_USER_PASSWORD", "")
    if weakness(password):
        raise ZenlockError(
            f"The admin password in {admin_env} {weakness(password)}: set a strong one "
            "with `nox -s server -- reset-admin`."
        )
    if wanted and wanted != password:
        raise ZenlockError(
            "ZENML_DEFAULT_USER_PASSWORD in the server env file differs from the admin's password "
            f"in {admin_env}: ZenML uses it only when it creates the admin. To make it the "
            "admin's password: `nox -s server -- reset-admin`."
        )
    return credentials


def reset_credentials(old: dict[str, str], server_env: dict[str, str]) -> dict[str, str]:
    """New admin password (the server env file's, or random) and JWT secret; the same admin
    name and secrets-store key, which the data's secrets need."""
    credentials = {
        "ZENML_DEFAULT_USER_NAME": old.get(
            "ZENML_DEFAULT_USER_NAME", server_env.get("ZENML_DEFAULT_USER_NAME", "admin")
        ),
        "ZENML_DEFAULT_USER_PASSWORD": server_env.get(
            "ZENML_DEFAULT_USER_PASSWORD", secrets.token_urlsafe(24)
        ),
        "ZENML_SERVER_JWT_SECRET_KEY": secrets.token_hex(32),
    }
    why = weakness(credentials["ZENML_DEFAULT_USER_PASSWORD"])
    if why:
        raise ZenlockError(f"ZENML_DEFAULT_USER_PASSWORD in the server env file {why}: fix it.")
    # The secrets' key stays: the data's secrets are encrypted with it. A lost one is replaced
    # (reset_admin says what that costs).
    credentials["ZENML_SECRETS_STORE_ENCRYPTION_KEY"] = old.get(
        "ZENML_SECRETS_STORE_ENCRYPTION_KEY", secrets.token_hex(32)
    )
    return credentials


def zenml_python(script: str, **env: str) -> subprocess.CompletedProcess[str]:
    """Run `script` with the project's ZenML in a throw-away client config."""
    with tempfile.TemporaryDirectory(prefix="zenlock-zenml-") as config:
        (Path(config) / "script.py").write_text(script)  # ZenML wants a main module with a file
        clean = {k: v for k, v in os.environ.items() if not k.startswith("ZENML_")}
        return subprocess.run(
            [sys.executable, str(Path(config) / "script.py")],
            env={**clean, "ZENML_CONFIG_PATH": config, "ZENML_ANALYTICS_OPT_IN": "false", **env},
            capture_output=True,
            text=True,
        )


def service_account_key(account: str, url: str, admin: dict[str, str], saved: str = "") -> str:
    """The client's API key on the server at `url`: `saved`, a key made on this very server,
    while it still works there; else a new one. Callers never pass a key made elsewhere: a
    key is sent to no server but its own."""
    if saved and api_get(url, saved, "/stacks?size=1") is not None:
        return saved
    minted = zenml_python(
        script("mint_key"),
        ZENML_STORE_URL=url,
        ZENML_STORE_USERNAME=admin["ZENML_DEFAULT_USER_NAME"],
        ZENML_STORE_PASSWORD=admin["ZENML_DEFAULT_USER_PASSWORD"],
        ENVTOOLS_ACCOUNT=account,
        ENVTOOLS_KEY_NAME=f"key-{secrets.token_hex(4)}",
    )
    if minted.returncode != 0:
        why = (minted.stderr.strip().splitlines() or ["no output"])[-1]
        raise ZenlockError(f"Creating the client's API key on {url} failed: {why}")
    return minted.stdout.strip().splitlines()[-1]


# What ZenML's /api/v1/info (its ServerModel) always holds, and the login schemes it knows.
AUTH_SCHEMES = ("NO_AUTH", "HTTP_BASIC", "OAUTH2_PASSWORD_BEARER", "EXTERNAL")


def server_info(url: str) -> tuple[dict | None, str]:
    """ZenML's public facts about the server at `url` (/api/v1/info, asked without any
    credential), or None and why it is no ZenML server: nothing answers, an error, a redirect
    elsewhere, or an answer without ZenML's fields (id, version, auth_scheme)."""
    try:
        with urllib.request.urlopen(f"{url}/api/v1/info", timeout=10) as response:
            if response.url != f"{url}/api/v1/info":
                return None, f"it redirects to {response.url}"
            info = json.load(response)
    except urllib.error.HTTPError as error:
        return None, f"HTTP {error.code} at /api/v1/info"
    except (OSError, http.client.HTTPException):
        return None, "nothing answers"
    except ValueError:
        return None, "its /api/v1/info is not ZenML's"
    try:
        uuid.UUID(str(info["id"]))
        Version(str(info["version"]))
        known = info["auth_scheme"] in AUTH_SCHEMES
    except (TypeError, KeyError, ValueError, InvalidVersion):
        known = False
    return (info, "") if known else (None, "its /api/v1/info is not ZenML's")


def login_token(url: str, form: dict[str, str]) -> str | None:
    """ZenML's login with `form` (a user's password, or an API key): the access token, None
    when it is refused or no ZenML answers. Plain HTTP, no ZenML import."""
    data = urllib.parse.urlencode(form).encode()
    try:
        with urllib.request.urlopen(f"{url}/api/v1/login", data=data, timeout=10) as response:
            return json.load(response)["access_token"]
    except (OSError, ValueError, KeyError, TypeError, http.client.HTTPException):
        return None  # TypeError: a JSON answer of another shape


def api_get(url: str, key: str, path: str) -> dict | None:
    """GET `path` of the server's API as the API key's account (ZenML's own API-key login):
    None when the key is refused or the server does not answer. Plain HTTP, no ZenML import."""
    token = login_token(url, {"grant_type": "zenml-api-key", "password": key})
    if token is None:
        return None
    try:
        request = urllib.request.Request(
            f"{url}/api/v1{path}", headers={"Authorization": f"Bearer {token}"}
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.load(response)
    except (OSError, ValueError, KeyError):
        return None
