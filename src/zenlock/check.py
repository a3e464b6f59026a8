"""Parity check: `nox -s check [-- --json] [--only venv images server stacks registry]`.

Reads what is really installed in each environment (.venv, every pipeline image, the server
image, the running server) and compares it with what uv.lock says that environment must have.
Which images to read and what each was built from comes from the record (configs/images.yaml).
The ZenML integrations must match the registry of the locked ZenML, and each stack file's
components must find their integration's packages in the lock's image sets, and its
zenml_version must be the locked ZenML (`zenml stack import` refuses another).
Read-only: it never pulls, builds or writes. Exit status: 0 all agree, 1 drift or something
missing, 2 no drift but something not checkable.
"""

import argparse
import hashlib
import importlib.metadata
import json
import sys
import urllib.request
from dataclasses import asdict

from packaging.markers import Marker, default_environment
from packaging.utils import canonicalize_name
from rich.console import Console

from . import ZenlockError, engine, lock, oneoff, pylock, referrers, registry
from .checkreport import Report, compare, exit_status, print_reports, verdict
from .imagespec import inactive_in_image
from .inside.inspect_python import installed
from .project import Project
from .projectserver import Server
from .serverspec import server_groups
from .stackfiles import integrations_needed, read_stack, stack_files, version_problem
from .state import conflicted_files, read_env_file

# `registry` (what a pushed image's registry holds beside it) is asked for, never by default:
# the check of this machine's environments needs no network.
ENVIRONMENTS = ("venv", "images", "server", "stacks", "registry")
LOCAL = ENVIRONMENTS[:4]
REBUILD_SERVER = "nox -s server, then nox -s server -- down and -- up"


def check_conflicts(project: Project) -> list[Report]:
    """A merge left conflict markers: every environment derived from those files is wrong."""
    files = conflicted_files(project.root)
    if not files:
        return []
    return [
        Report(
            "merge conflicts",
            "drift",
            f"resolve the conflict (<<<<<<<) in {', '.join(files)}",
            f"conflict markers in {', '.join(files)}",
        )
    ]


def check_lock(project: Project) -> list[Report]:
    if not lock.is_stale(project.root):
        return []
    return [Report("uv.lock", "stale", "nox -s lock", "pyproject.toml changed since the lock")]


def check_venv(project: Project) -> list[Report]:
    """This process runs in .venv: read its distributions and markers directly, as an image's
    own python reads its own."""
    versions, urls = installed()
    locked = lock.pins(project.root, lock.selection(project.root, "venv"), default_environment())
    return [venv_report(locked, versions | urls)]


def check_integrations(project: Project) -> list[Report]:
    """Integrations added under an older ZenML: their specifiers must follow the version."""
    return [
        Report(
            f"integration {name} ({target})",
            "drift",
            "nox -s integrations -- sync",
            f"ZenML {registry.zenml_version()} wants {', '.join(sorted(wanted))}; "
            f"pyproject.toml has {', '.join(sorted(current))}",
        )
        for name, target, current, wanted in registry.stale(project.root)
    ]


def check_stacks(project: Project) -> list[Report]:
    """Each stack file's integrations against the lock: the packages must be in the pipeline
    images' set, and, for an artifact store (the dashboard reads it), in the server's."""
    files = stack_files(project)
    if not files:
        return []
    environment = default_environment() | {"sys_platform": "linux", "platform_system": "Linux"}
    pipeline_groups = registry.integration_groups(project.root, "pipelines")
    groups_of_server = server_groups(project.root)
    sets = {
        "pipelines": lock.pins(
            project.root, lock.selection(project.root, "iterate", pipeline_groups), environment
        ),
        "server": lock.pins(
            project.root, lock.selection(project.root, "server", groups_of_server), environment
        ),
    }
    lock_text = project.lock.read_text()
    zenml = lock.locked_version(lock_text, "zenml")
    reports = []
    for stack, path in files.items():
        gaps = []
        definition = read_stack(project.root, path)
        problem = version_problem(definition, zenml)
        if problem:
            where = path.relative_to(project.root)
            gaps.append((f"{where}: {problem}", f'write zenml_version: "{zenml}" in {where}'))
        for component_type, component, integration in integrations_needed(project.root, definition):
            targets = (
                ["pipelines", "server"] if component_type == "artifact_store" else ["pipelines"]
            )
            for target in targets:
                wanted = registry.requirements_of(project.root, integration)
                missing = unmet(wanted, sets[target], environment, lock_text)
                if missing:
                    server = " --server" if target == "server" else ""
                    gaps.append(
                        (
                            f"{component_type} {component['name']} needs the {integration} "
                            f"integration in the {target} image ({', '.join(missing)})",
                            f"nox -s integrations -- add {integration}{server}",
                        )
                    )
        if gaps:
            reasons, fixes = zip(*gaps, strict=True)
            fix = "; ".join(dict.fromkeys(fixes))
            reports.append(Report(f"stack {stack}", "drift", fix, "; ".join(reasons)))
        else:
            reports.append(Report(f"stack {stack}", "ok"))
    return reports


def unmet(
    requirements: list[str], pins: dict[str, str], environment: dict, lock_text: str
) -> list[str]:
    """The requirements that the pinned versions do not satisfy (`lock_text`: uv.lock's, for
    the version of a package installed from a URL)."""
    from packaging.requirements import Requirement

    missing = []
    for text in requirements:
        requirement = Requirement(text)
        if requirement.marker and not requirement.marker.evaluate(environment):
            continue
        name = canonicalize_name(requirement.name)
        version = pins.get(name)
        if version is not None and "://" in version:  # installed from a URL: its locked version
            version = lock.locked_version(lock_text, name)
        if version is None or not requirement.specifier.contains(version, prereleases=True):
            missing.append(text)
    return missing


def venv_report(locked: dict[str, str], installed: dict[str, str]) -> Report:
    report = compare(".venv", locked, installed, "nox -s dev")
    extra = [d["package"] for d in report.differences if d["locked"] == "-"]
    if extra:  # `nox -s dev` removes them: say how to keep them too
        report.fix = (
            f"to keep {', '.join(extra)}: add it to pyproject.toml, then nox -s lock dev; "
            "to remove it: nox -s dev"
        )
    return report


def check_image(
    project: Project,
    client,
    name: str,
    tag: str,
    kind: str,
    groups: list[str],
    network: str,
    fix: str,
    platform: str | None = None,
):
    """Run on another platform's image, its python is emulated: the markers it reports pick
    what the lock installs there."""
    if not engine.image_id(client, tag):
        return Report(name, "missing", fix, "not on this machine")
    built_for = engine.image_platform(client, tag) if platform else None
    if built_for != platform:
        return Report(name, "drift", fix, f"an image of {built_for}, not {platform}")
    found = oneoff.inspect(client, tag, network)
    selection = lock.selection(project.root, kind, groups)
    pinned = found["installed"] | found.get("from_urls", {})
    report = compare(name, lock.pins(project.root, selection, found["environment"]), pinned, fix)
    sbom = hashlib.sha256(lock.sbom(project.root, selection).encode()).hexdigest()
    unlisted = sbom_differences(found["sbom_components"], found["installed"], found["environment"])
    if found.get("sbom_sha256") != sbom or unlisted:
        report.status, report.fix = "drift", fix
        report.reason = "its SBOM (/opt/sbom.cdx.json) is missing or not the lock's"
        if unlisted:
            listed = (f"{d['package']} listed {d['locked']}, found {d['found']}" for d in unlisted)
            report.reason = "its SBOM (/opt/sbom.cdx.json) differs from what is installed: " + (
                ", ".join(listed)
            )
    wrong = pylock.problem(project, tag, selection, found)
    if wrong and report.status == "ok":
        report.status, report.fix, report.reason = "drift", fix, wrong
    return activation_report(project, client, tag, network, groups, report)


def activation_report(
    project: Project, client, tag: str, network: str, groups: list[str], report: Report
):
    """The image's integrations activated by its own python, as a step would: `nox -s
    images` did so and recorded it for that image id; any other image is activated here
    (read-only: a short-lived container, removed after)."""
    names = registry.integrations_in(project.root, groups)
    if report.status != "ok" or not names:
        return report
    record = project.read_record()
    images = [*record.get("pipelines", {}).get("images", []), record.get("server", {})]
    recorded = next((image for image in images if image.get("tag") == tag), {})
    if recorded.get("activated") == {
        "image_id": engine.image_id(client, tag),
        "integrations": names,
    }:
        return report
    failed = inactive_in_image(client, tag, network, names)
    if failed:
        report.status = "drift"
        report.reason = " ".join(registry.inactive_message(result) for result in failed)
        report.fix = "the constraint named, then nox -s lock dev images"
    return report


def sbom_differences(components: list, installed: dict, environment: dict) -> list[dict]:
    """Packages whose version in the image's SBOM (those whose marker applies there) is not
    the installed one, or that only one of the two has."""
    listed = {
        canonicalize_name(name): version
        for name, version, marker in components
        if marker is None or Marker(marker).evaluate(environment)
    }
    return compare("sbom", listed, installed, "").differences if components else []


def check_images(project: Project, client) -> list[Report]:
    pipelines = project.read_record().get("pipelines")
    if not pipelines:
        return [Report("pipeline images", "missing", "nox -s images", "no image built yet")]
    return [
        check_image(
            project,
            client,
            image_name("image", variant, "platforms" in image),
            variant["tag"],
            pipelines["mode"],
            image["groups"],
            pipelines["network"],
            "nox -s images",
            variant.get("platform"),
        )
        for image in pipelines["images"]
        for variant in image.get("platforms", [image])
    ]


def image_name(kind: str, image: dict, several_platforms: bool) -> str:
    """The platform is named only where one image set holds several."""
    platform = f" ({image['platform']})" if several_platforms else ""
    return f"{kind} {image['tag']}{platform}"


def check_server(project: Project, client) -> list[Report]:
    server = Server(project, project.server, client)  # the engine's client shared, not a second
    container = server.container
    recorded = project.read_record().get("server", {})
    tag = container.image.tags[0] if container and container.image.tags else recorded.get("tag")
    if not tag:
        return [Report("server image", "missing", "nox -s server", "not built yet")]
    network = server.settings.build.network
    groups = recorded.get("groups", ["server"])
    variants = recorded.get("platforms", []) if tag == recorded.get("tag") else []
    reports = [
        check_image(
            project,
            client,
            image_name("server image", variant, len(variants) > 1),
            variant["tag"],
            "server",
            groups,
            network,
            REBUILD_SERVER,
            variant.get("platform"),
        )
        for variant in variants or [{"tag": tag}]
    ]
    if project.connection.is_file():
        url = read_env_file(project.connection)["ZENML_STORE_URL"]
        reports.append(check_running_server(url))
    return reports


def check_running_server(url: str) -> Report:
    """ZenML's rule: server and client run the same version (pipeline images count as clients)."""
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
        REBUILD_SERVER,
        f"ZenML client {client_version} and server {server_version} must match exactly",
        [{"package": "zenml", "locked": client_version, "found": server_version}],
    )


def check_registry(project: Project) -> list[Report]:
    """Each pushed image's SBOM and pylock.toml as its registry holds them (its referrers),
    read by the recorded digest: nothing is pulled. None for a project that pushed nothing."""
    record = project.read_record()
    pushed = [
        (variant, lock.selection(project.root, kind, image["groups"]), fix)
        for image, kind, fix in [
            *(
                (i, record["pipelines"]["mode"], "nox -s images -- --push")
                for i in record.get("pipelines", {}).get("images", [])
            ),
            *(
                [(record["server"], "server", "nox -s server -- --push")]
                if "server" in record
                else []
            ),
        ]  # fmt: skip
        for variant in image.get("platforms", [image])
        if variant.get("digest")
    ]
    reports = []
    for variant, selection, fix in pushed:
        name = f"registry {variant['digest']}"
        try:
            held = referrers.attached(variant["digest"], referrers.SBOM, referrers.PYLOCK)
        except ZenlockError as error:
            reports.append(Report(name, "unavailable", fix, str(error).splitlines()[0]))
            continue
        sbom, found = held[referrers.SBOM], held[referrers.PYLOCK]
        local = project.sboms / pylock.file_name(variant["tag"])
        if sbom is None or sbom.decode() != lock.sbom(project.root, selection):
            reports.append(Report(name, "drift", fix, "its SBOM there is not the lock's"))
        elif found is None or not local.is_file() or found != local.read_bytes():
            reports.append(Report(name, "drift", fix, f"its pylock.toml there is not {local.name}"))
        else:
            reports.append(Report(name, "ok"))
    return reports


def run_checks(project: Project, only: tuple[str, ...]) -> list[Report]:
    reports = check_conflicts(project) + check_lock(project)
    if "venv" in only:
        reports += check_venv(project) + check_integrations(project)
    if "stacks" in only:
        reports += check_stacks(project)
    if "registry" in only:
        reports += check_registry(project)
    if "images" not in only and "server" not in only:
        return reports
    try:
        client = engine.connect()
    except ZenlockError as error:
        reason = str(error).splitlines()[0]
        fix = "start Docker, then nox -s check"
        return reports + [
            Report(name, "unavailable", fix, reason)
            for name in only
            if name in ("images", "server")
        ]
    if "images" in only:
        reports += check_images(project, client)
    if "server" in only:
        reports += check_server(project, client)
    return reports


def main(project: Project, argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="nox -s check --", description=__doc__)
    parser.add_argument("--json", action="store_true", help="print the reports as JSON")
    parser.add_argument("--only", nargs="+", choices=ENVIRONMENTS, default=LOCAL)
    args = parser.parse_args(argv)
    reports = run_checks(project, tuple(args.only))
    if args.json:
        result = {"ok": exit_status(reports) == 0, "verdict": verdict(reports)}
        print(json.dumps({**result, "environments": [asdict(r) for r in reports]}, indent=2))
    else:
        print_reports(reports, Console())
    sys.exit(exit_status(reports))
