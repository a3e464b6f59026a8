"""Run by deploy/compose.yaml's `check` service, with the server image's Python, before the
database or the server starts: a weak secret in deploy/.env stops everything, in one line.
The rules are those of `nox -s server -- up` (zenlock's credentials.weakness; zenlock's tests
compare them case by case). Standard library only: zenlock is not in the server image."""

from __future__ import annotations

import os
import sys

WEAK_PASSWORDS = {"", "admin", "password", "zenml", "changeme", "secret", "mysql", "root"}
PASSWORD_LENGTH, KEY_LENGTH = 12, 32
PASSWORDS = ("ZENML_DEFAULT_USER_PASSWORD", "MYSQL_PASSWORD", "MYSQL_ROOT_PASSWORD")
KEYS = ("ZENML_SERVER_JWT_SECRET_KEY", "ZENML_SECRETS_STORE_ENCRYPTION_KEY")


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


def main() -> int:
    weak = [
        f"{name} {why}"
        for name in (*PASSWORDS, *KEYS)
        if (why := weakness(os.environ.get(name, ""), key=name in KEYS))
    ]
    if weak:
        print(
            f"deploy/.env: {'; '.join(weak)}. Nothing was started: set strong values "
            """(python3 -c "import secrets; print(secrets.token_hex(32))" makes one).""",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
