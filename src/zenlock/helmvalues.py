"""Values for ZenML's Helm chart that run this project's server image as `nox -s server` built
and pushed it: `nox -s server -- helm --url https://zenml.example.com` writes
deploy/helm-values.yaml (`helm install zenml oci://public.ecr.aws/zenml/zenml --version
ZENML_VERSION -f deploy/helm-values.yaml`).

What the chart's defaults would get wrong for our image, and what the file says instead: the
user (the image's own, not uid 1000), the image by digest (the chart renders
`repository:tag`, so the digest rides in the tag), debug off, analytics as the project chose,
CORS to the server's own origin (not `*`), and the credentials — database URL, secrets-store
key, JWT key, admin password — from a Kubernetes secret, never in the file. The secret's
values are made in deploy/helm-secret.env (readable by you only, git-ignored): random and
strong the first time, checked by the rules `up` and deploy/compose.yaml apply every time.
"""

import secrets
from pathlib import Path

import yaml

from . import ZenlockError, engine, lock
from .credentials import weakness
from .inputs import mysql_url
from .project import Project
from .serverspec import SECURE_DEFAULTS
from .settings import ServerSettings
from .state import read_env_file, write_env_file

# Environment variable the server reads -> key in the Kubernetes secret that holds it.
SECRET_KEYS = {
    "ZENML_STORE_URL": "store-url",
    "ZENML_SECRETS_STORE_ENCRYPTION_KEY": "secrets-store-encryption-key",
    "ZENML_SERVER_JWT_SECRET_KEY": "jwt-secret-key",
    "ZENML_DEFAULT_USER_PASSWORD": "admin-password",
}


def pushed_image(record: dict) -> tuple[str, str]:
    """The server image's (repository, tag@digest) as the registry confirmed it."""
    server = record.get("server", {})
    if "@sha256:" not in server.get("digest", ""):
        raise ZenlockError(
            "The cluster pulls the server image from a registry, and it was not pushed: "
            "`nox -s server -- --push` first (it needs [tool.zenlock.images] registry)."
        )
    repository, digest = server["digest"].split("@", 1)
    return repository, f"{server['tag'].rpartition(':')[2]}@{digest}"


def image_user(client, tag: str) -> int:
    """The numeric user the image runs as (its USER), which the pod must run as too."""
    found = client.image(tag)
    if found is None:
        raise ZenlockError(f"Image {tag} is not on this machine: `nox -s server` builds it.")
    user = (found.get("Config") or {}).get("User", "").split(":")[0]
    if not user.isdigit() or user == "0":
        raise ZenlockError(
            f"Image {tag} runs as {user or 'root'!r}: rebuild it with `nox -s server`."
        )
    return int(user)


def values(record: dict, settings: ServerSettings, url: str, origin: str, secret: str) -> dict:
    repository, tag = pushed_image(record)
    user = image_user(engine.connect(), record["server"]["tag"])
    return {
        "podSecurityContext": {"fsGroup": user, "fsGroupChangePolicy": "OnRootMismatch"},
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": user,
            "runAsGroup": user,
            "allowPrivilegeEscalation": False,
            "capabilities": {"drop": ["ALL"]},
        },
        "zenml": {
            "image": {"repository": repository, "tag": tag, "pullPolicy": "IfNotPresent"},
            "debug": False,
            "analyticsOptIn": settings.analytics,
            "serverURL": url,
            "auth": {"corsAllowOrigins": [origin]},
            "environment": {
                **SECURE_DEFAULTS,
                "ZENML_ANALYTICS_OPT_IN": str(settings.analytics).lower(),
                "ZENML_SERVER_CORS_ALLOW_ORIGINS": origin,
                "ZENML_DEFAULT_USER_NAME": "admin",
                "ZENML_DEBUG": "false",
                "ZENML_LOGGING_VERBOSITY": "INFO",
            },
            "environmentSecretKeyRefs": [
                {"name": name, "secretName": secret, "secretKey": key}
                for name, key in SECRET_KEYS.items()
            ],
        },
    }


def secret_values(project: Project) -> dict[str, str]:
    """The secret's values in deploy/helm-secret.env: made once (random keys and admin password, the
    database URL left to you), then checked: the strength rules of every deployment, and the
    database URL's grammar (a reserved character in its password must be percent-encoded)."""
    secret_file = project.helm_secret
    where = secret_file.relative_to(project.root)
    if not secret_file.is_file():
        write_env_file(
            secret_file,
            {
                "store-url": "",
                "secrets-store-encryption-key": secrets.token_hex(32),
                "jwt-secret-key": secrets.token_hex(32),
                "admin-password": secrets.token_urlsafe(24),
            },
        )
        print(f"The secret's values are in {where} (readable by you only): fill in store-url.")
    found = read_env_file(secret_file)
    for key in SECRET_KEYS.values():
        value = found.get(key)
        if value is None:
            raise ZenlockError(f"{where} has no {key}: add it (or delete the file for new ones).")
        why = weakness(value, key=key.endswith("-key")) if key != "store-url" else None
        if why:
            raise ZenlockError(f"{key} in {where} {why}: set a strong one.")
    store = found["store-url"]
    if store and not store.startswith("sqlite:///"):
        mysql_url(store, f"store-url in {where}")
    return found


def write(project: Project, settings: ServerSettings, url: str, origin: str, secret: str) -> Path:
    found = values(project.read_record(), settings, url, origin, secret)
    store = secret_values(project)["store-url"]
    values_file, secret_file = project.helm_values, project.helm_secret
    zenml = lock.locked_version(project.lock.read_text(), "zenml")
    header = (
        "# ZenML's Helm chart, running this project's server image: written by\n"
        f"# `nox -s server -- helm --url {url}`; write it again after each `-- --push`.\n"
        f"#   kubectl create secret generic {secret} --from-env-file=deploy/{secret_file.name}\n"
        f"#   helm install zenml oci://public.ecr.aws/zenml/zenml --version "
        f"{zenml} -f deploy/{values_file.name}\n"
        "# No credential is in this file: they come from the secret above.\n"
    )
    values_file.parent.mkdir(parents=True, exist_ok=True)
    values_file.write_text(header + yaml.safe_dump(found, sort_keys=False))
    image = found["zenml"]["image"]["repository"]
    where = values_file.relative_to(project.root)
    print(f"Helm values for {image} written to {where} (credentials: Kubernetes secret {secret})")
    if not store:
        print(
            f"store-url in {secret_file.relative_to(project.root)} is empty: set the database (mysql://USER:"
            "PASSWORD@HOST:PORT/DATABASE, percent-encoded) before you create the secret."
        )
    return values_file
