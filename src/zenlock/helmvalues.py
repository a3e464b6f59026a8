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
from .serverspec import SECURE_DEFAULTS
from .settings import ServerSettings
from .state import ROOT, read_env_file, read_record, write_env_file

VALUES = ROOT / "deploy" / "helm-values.yaml"
SECRET = ROOT / "deploy" / "helm-secret.env"  # `kubectl create secret ... --from-env-file`
# Environment variable the server reads -> key in the Kubernetes secret that holds it.
SECRET_KEYS = {
    "ZENML_STORE_URL": "store-url",
    "ZENML_SECRETS_STORE_ENCRYPTION_KEY": "secrets-store-encryption-key",
    "ZENML_SERVER_JWT_SECRET_KEY": "jwt-secret-key",
    "ZENML_DEFAULT_USER_PASSWORD": "admin-password",
}


def pushed_image() -> tuple[str, str]:
    """The server image's (repository, tag@digest) as the registry confirmed it."""
    server = read_record().get("server", {})
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


def values(settings: ServerSettings, url: str, origin: str, secret: str) -> dict:
    repository, tag = pushed_image()
    user = image_user(engine.connect(), read_record()["server"]["tag"])
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


def secret_values() -> dict[str, str]:
    """The secret's values in SECRET: made once (random keys and admin password, the
    database URL left to you), then checked: the strength rules of every deployment, and the
    database URL's grammar (a reserved character in its password must be percent-encoded)."""
    where = SECRET.relative_to(ROOT)
    if not SECRET.is_file():
        write_env_file(
            SECRET,
            {
                "store-url": "",
                "secrets-store-encryption-key": secrets.token_hex(32),
                "jwt-secret-key": secrets.token_hex(32),
                "admin-password": secrets.token_urlsafe(24),
            },
        )
        print(f"The secret's values are in {where} (readable by you only): fill in store-url.")
    found = read_env_file(SECRET)
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


def write(settings: ServerSettings, url: str, origin: str, secret: str) -> Path:
    found = values(settings, url, origin, secret)
    store = secret_values()["store-url"]
    header = (
        "# ZenML's Helm chart, running this project's server image: written by\n"
        f"# `nox -s server -- helm --url {url}`; write it again after each `-- --push`.\n"
        f"#   kubectl create secret generic {secret} --from-env-file={SECRET.relative_to(ROOT)}\n"
        f"#   helm install zenml oci://public.ecr.aws/zenml/zenml --version "
        f"{lock.locked_version('zenml')} -f {VALUES.relative_to(ROOT)}\n"
        "# No credential is in this file: they come from the secret above.\n"
    )
    VALUES.parent.mkdir(parents=True, exist_ok=True)
    VALUES.write_text(header + yaml.safe_dump(found, sort_keys=False))
    image = found["zenml"]["image"]["repository"]
    where = VALUES.relative_to(ROOT)
    print(f"Helm values for {image} written to {where} (credentials: Kubernetes secret {secret})")
    if not store:
        print(
            f"store-url in {SECRET.relative_to(ROOT)} is empty: set the database (mysql://USER:"
            "PASSWORD@HOST:PORT/DATABASE, percent-encoded) before you create the secret."
        )
    return VALUES
