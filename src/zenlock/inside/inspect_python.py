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


def installed_from_url(distribution):
    """The URL a distribution was installed from, as a `uv export` line names it (a VCS URL
    with its commit), from PEP 610's direct_url.json; None for an index's release or a local
    folder or file (a project, or its wheel built for an image: compared by its version)."""
    try:
        found = json.loads(distribution.read_text("direct_url.json") or "null")
    except ValueError:
        return None
    if not isinstance(found, dict) or "dir_info" in found or "url" not in found:
        return None
    url, vcs = found["url"], found.get("vcs_info")
    if not vcs and url.startswith("file:"):
        return None
    if vcs:
        url = f"{vcs['vcs']}+{url}@{vcs['commit_id']}"
    if found.get("subdirectory"):
        url += f"#subdirectory={found['subdirectory']}"
    return url


def installed():
    """Name -> version of each distribution, and name -> URL of those installed from one."""
    distributions = list(importlib.metadata.distributions())
    urls = {d.metadata["Name"]: installed_from_url(d) for d in distributions}
    return (
        {d.metadata["Name"]: d.version for d in distributions},
        {name: url for name, url in urls.items() if url},
    )


def main():
    versions, urls = installed()
    print(
        json.dumps(
            {
                "installed": versions,
                "from_urls": urls,
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


if __name__ == "__main__":
    main()
