"""Parity check: `nox -s check [-- --json] [--only venv images server]`.

Reads what is really installed in each environment (.venv, every pipeline image, the server
image, the running server) and compares it with what uv.lock says that environment must have.
Exit status: 0 all agree, 1 drift or something missing, 2 no drift but something not checkable.
"""

import argparse
import importlib.metadata
import json
import subprocess
import sys
import tomllib
import urllib.request
from dataclasses import asdict, dataclass, field
from pathlib import Path

import uv
import yaml
from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from rich.console import Console
from rich.table import Table

from . import docker_build
from .config import ROOT, EnvtoolsError, image_settings, server_settings
from .images import RECORD, image_sets, uv_run
from .server import CONNECTION, find_container, server_image

# Run by an environment's own python: what is installed there, and its PEP 508 markers.
INSPECT = """
import importlib.metadata, json, os, platform, sys
print(json.dumps({
    "installed": {d.metadata["Name"]: d.version for d in importlib.metadata.distributions()},
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
}))
"""
ENVIRONMENTS = ("venv", "images", "server")


@dataclass
class Report:
    environment: str
    status: str  # ok, drift, missing, stale or unavailable
    fix: str = ""
    reason: str = ""
    differences: list[dict[str, str]] = field(default_factory=list)


def local_package(path: str) -> tuple[str, str]:
    project = tomllib.loads((ROOT / path / "pyproject.toml").read_text())["project"]
    return canonicalize_name(project["name"]), project["version"]


def locked_set(selection: list[str], environment: dict[str, str]) -> dict[str, str]:
    """What the lock installs for `selection` (uv export options) on this interpreter."""
    export = uv_run(
        "export",
        "--frozen",
        "--format=requirements.txt",
        "--no-hashes",
        "--no-header",
        "--no-annotate",
        *selection,
    )
    expected = {}
    for line in export.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("-e ") or line.startswith("."):
            name, version = local_package(line.removeprefix("-e ").strip())
            expected[name] = version
            continue
        requirement = Requirement(line)
        if requirement.marker is None or requirement.marker.evaluate(environment):
            (pin,) = requirement.specifier
            expected[canonicalize_name(requirement.name)] = pin.version
    return expected


def compare(environment: str, locked: dict, installed: dict, fix: str) -> Report:
    found = {canonicalize_name(name): version for name, version in installed.items()}
    differences = [
        {"package": name, "locked": locked.get(name, "-"), "found": found.get(name, "-")}
        for name in sorted(locked.keys() | found.keys())
        if locked.get(name) != found.get(name)
    ]
    if not differences:
        return Report(environment, "ok")
    return Report(environment, "drift", fix, differences=differences)


def inspect_image(client, tag: str, network: str) -> dict:
    output = client.containers.run(
        tag, ["python", "-c", INSPECT], remove=True, network_mode=network, entrypoint=[]
    )
    return json.loads(output)


def check_lock() -> list[Report]:
    result = subprocess.run(
        [uv.find_uv_bin(), "lock", "--check"], cwd=ROOT, capture_output=True, text=True
    )
    if result.returncode == 0:
        return []
    return [Report("uv.lock", "stale", "nox -s lock", "pyproject.toml changed since the lock")]


def check_venv() -> list[Report]:
    """This process runs in .venv: read its distributions and markers directly."""
    installed = {d.metadata["Name"]: d.version for d in importlib.metadata.distributions()}
    locked = locked_set([], default_environment())
    return [compare(".venv", locked, installed, "nox -s dev")]


def check_images(client) -> list[Report]:
    settings = image_settings()
    if not RECORD.is_file():
        return [Report("pipeline images", "missing", "nox -s images", "no image built yet")]
    images = yaml.safe_load(RECORD.read_text())["images"]
    reports = []
    for groups, pipelines in image_sets(settings).items():
        tag = images.get(pipelines[0])
        name = f"image {tag or ', '.join(pipelines)}"
        if not tag or not docker_build.image_id(client, tag):
            reports.append(Report(name, "missing", "nox -s images", "not built on this machine"))
            continue
        found = inspect_image(client, tag, settings.network)
        selection = ["--no-default-groups", "--no-emit-project"]
        selection += [f"--group={group}" for group in groups]
        locked = locked_set(selection, found["environment"])
        reports.append(compare(name, locked, found["installed"], "nox -s images"))
    return reports


def check_server(client) -> list[Report]:
    settings = server_settings()
    container = find_container(client)
    tag = container.image.tags[0] if container else server_image(settings, plan_only=True)
    reports = []
    if not docker_build.image_id(client, tag):
        reports.append(Report(f"server image {tag}", "missing", "nox -s server", "not built"))
    else:
        found = inspect_image(client, tag, settings.image.network)
        locked = locked_set(["--only-group=server", "--no-emit-project"], found["environment"])
        fix = "nox -s server, then nox -s server -- down and -- up"
        reports.append(compare(f"server image {tag}", locked, found["installed"], fix))
    if CONNECTION.is_file():
        reports.append(check_running_server(CONNECTION))
    return reports


def check_running_server(connection: Path) -> Report:
    """ZenML's rule: server and client run the same version (pipeline images count as clients)."""
    url = dict(line.split("=", 1) for line in connection.read_text().split())["ZENML_STORE_URL"]
    name = f"running server {url}"
    client_version = importlib.metadata.version("zenml")  # this process runs in .venv
    try:
        with urllib.request.urlopen(f"{url}/api/v1/info", timeout=5) as response:
            server_version = json.load(response)["version"]
    except OSError as error:
        return Report(name, "unavailable", "nox -s server -- up", f"not reachable ({error})")
    if server_version == client_version:
        return Report(name, "ok")
    return Report(
        name,
        "drift",
        "nox -s server, then nox -s server -- down and -- up",
        f"ZenML client {client_version} and server {server_version} must match exactly",
        [{"package": "zenml", "locked": client_version, "found": server_version}],
    )


def run_checks(only: tuple[str, ...]) -> list[Report]:
    reports = check_lock()
    if "venv" in only:
        reports += check_venv()
    if "images" in only or "server" in only:
        try:
            client = docker_build.connect()
        except EnvtoolsError as error:
            reason = str(error).splitlines()[0]
            fix = "start Docker, then nox -s check"
            return reports + [
                Report(name, "unavailable", fix, reason) for name in only if name != "venv"
            ]
        if "images" in only:
            reports += check_images(client)
        if "server" in only:
            reports += check_server(client)
    return reports


MISMATCH = ("drift", "missing", "stale")


def exit_status(reports: list[Report]) -> int:
    if any(report.status in MISMATCH for report in reports):
        return 1
    return 2 if any(report.status == "unavailable" for report in reports) else 0


def verdict(reports: list[Report]) -> str:
    mismatched = sum(report.status in MISMATCH for report in reports)
    unchecked = sum(report.status == "unavailable" for report in reports)
    if not mismatched and not unchecked:
        return f"All {len(reports)} environments match uv.lock."
    parts = (
        [f"{mismatched} of {len(reports)} environments do not match uv.lock"] if mismatched else []
    )
    parts += [f"{unchecked} could not be checked"] if unchecked else []
    return "; ".join(parts) + "."


def print_reports(reports: list[Report], console: Console) -> None:
    differences = [(r.environment, d) for r in reports for d in r.differences]
    if differences and console.is_terminal:
        table = Table("environment", "package", "locked", "found", title="Differences")
        for environment, difference in differences:
            table.add_row(environment, *difference.values())
        console.print(table)
    else:
        for environment, difference in differences:
            package, locked, found = difference.values()
            print(f"{environment}: {package} locked {locked}, found {found}")
    for report in reports:
        detail = f" ({report.reason})" if report.reason else ""
        fix = f" -> fix: {report.fix}" if report.fix else ""
        print(f"{report.status:>11}  {report.environment}{detail}{fix}")
    print(verdict(reports))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="nox -s check --", description=__doc__)
    parser.add_argument("--json", action="store_true", help="print the reports as JSON")
    parser.add_argument("--only", nargs="+", choices=ENVIRONMENTS, default=ENVIRONMENTS)
    args = parser.parse_args(argv)
    try:
        reports = run_checks(tuple(args.only))
    except EnvtoolsError as error:
        sys.exit(f"error: {error}")
    if args.json:
        result = {"ok": exit_status(reports) == 0, "verdict": verdict(reports)}
        print(json.dumps({**result, "environments": [asdict(r) for r in reports]}, indent=2))
    else:
        print_reports(reports, Console())
    sys.exit(exit_status(reports))


if __name__ == "__main__":
    main()
