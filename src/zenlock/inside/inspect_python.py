"""Run by an image's own python: what is installed there, and its PEP 508 marker environment."""

import hashlib
import importlib.metadata
import json
import os
import platform
import sys

SBOM, MARKER = "/opt/sbom.cdx.json", "uv:package:marker"


def sha256(path):
    return hashlib.sha256(open(path, "rb").read()).hexdigest() if os.path.exists(path) else None


def components(path):  # name, version and uv's marker of each package the SBOM lists
    try:
        with open(path) as sbom:
            listed = json.load(sbom).get("components", [])
    except (OSError, ValueError, AttributeError):
        return []

    def marker(component):
        found = [p["value"] for p in component.get("properties", []) if p["name"] == MARKER]
        return found[0] if found else None

    return [[c["name"], c.get("version"), marker(c)] for c in listed]


print(
    json.dumps(
        {
            "installed": {
                d.metadata["Name"]: d.version for d in importlib.metadata.distributions()
            },
            "sbom_sha256": sha256(SBOM),
            "sbom_components": components(SBOM),
            "environment": {
                "implementation_name": sys.implementation.name,
                "implementation_version": platform.python_version(),
                "os_name": os.name,
                "platform_machine": platform.machine(),
                "platform_python_implementation": platform.python_implementation(),
                "platform_release": platform.release(),
                "platform_system": platform.system(),
                "platform_version": platform.version(),
                "python_full_version": platform.python_version(),
                "python_version": ".".join(platform.python_version_tuple()[:2]),
                "sys_platform": sys.platform,
            },
        }
    )
)
