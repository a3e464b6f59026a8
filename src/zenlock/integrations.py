"""ZenML integrations from the lock: `nox -s integrations -- add|remove|list|sync [NAME ...]`,
and `add --from requirements.txt`: a classic project's requirements, each package that stands
for an integration as that integration, the others as plain dependencies.

The specifiers come from the integration registry of the ZenML in .venv (the locked version),
never copied by hand. Each integration is one dependency group in pyproject.toml, written with
`uv add`: `integration-NAME` goes into .venv and every pipeline image; with `--server` it also
goes into the server image as `server-integration-NAME` (a flavor whose artifacts or secrets
the server must read, e.g. s3).

After every change each declared integration is activated in .venv as ZenML does at run time
(`activation.py`): an integration that does not import with what was locked (evidently with a
pandas it does not support) is refused like a failed resolution, and pyproject.toml, uv.lock and
.venv stay as they were. The fix is a constraint in `[tool.uv] constraint-dependencies`
(`"pandas<3"`): uv applies it to every lock, `sync` and `upgrade` included.
"""

import argparse
import re
from pathlib import Path

from packaging.utils import canonicalize_name

from . import ZenlockError, lock, registry, requirements
from .lock import all_or_nothing
from .project import Project


def empty_group(root: Path, group: str) -> None:
    entries = lock.dependency_groups(root).get(group) or []
    packages = [requirements.parse(entry).name for entry in entries]
    if packages:
        lock.uv(root, "remove", "--no-sync", "--group", group, *packages)


def drop_group(root: Path, group: str) -> None:
    """Empty the group with `uv remove`, delete the empty entry it leaves, lock again."""
    empty_group(root, group)
    pyproject = root / "pyproject.toml"
    text = pyproject.read_text()
    pyproject.write_text(re.sub(rf"(?m)^{re.escape(group)} = \[\]\n", "", text))
    lock.uv(root, "lock")


def put_group(root: Path, group: str, entries: list[str]) -> None:
    empty_group(root, group)
    # --raw: as the registry wrote them (uv would add a lower bound of its own otherwise).
    lock.uv(root, "add", "--raw", "--no-sync", "--group", group, *entries)


def targets_of(server: bool) -> list[str]:
    return ["pipelines", "server"] if server else ["pipelines"]


def add(root: Path, names: list[str], server: bool, dependencies: tuple[str, ...] = ()) -> None:
    """Each integration as its own group, and `dependencies` into [project] dependencies."""
    problem = registry.unknown(root, names)
    if problem:
        raise ZenlockError(
            f"{problem} `nox -s integrations -- list` shows them all; nothing was changed."
        )
    with all_or_nothing(root):
        for name in names:
            wanted = registry.requirements_of(root, name)
            if not wanted:  # nothing beyond ZenML itself
                print(f"{name}: ZenML's registry lists no packages for it; nothing to add")
                continue
            for target in targets_of(server):
                put_group(root, registry.group_name(target, name), wanted)
            where = "the pipeline images and the server image" if server else "the pipeline images"
            print(f"{name}: {', '.join(wanted)} -> .venv and {where}")
        if dependencies:
            lock.uv(root, "add", "--raw", "--no-sync", *dependencies)
            print(f"{', '.join(dependencies)} -> [project] dependencies: .venv and every image")
        sync_venv(root)
    registry.save(root)


def from_file(root: Path, path: Path) -> tuple[list[str], list[str]]:
    """A requirements file as ZenML integrations and plain dependencies. A package that stands
    for an integration becomes it; a version or marker of its own is kept beside it as a
    dependency, so the lock honours both. ZenML itself is pinned once, in pyproject.toml."""
    names: list[str] = []
    dependencies: list[str] = []
    for text in requirements.read_file(path):
        requirement = requirements.parse(text)
        if canonicalize_name(requirement.name) == "zenml":
            print(
                f"{path.name}: left out {text}: this project pins ZenML once, in pyproject.toml "
                "(`nox -s upgrade -- VERSION` moves it; the server image has zenml[server])."
            )
            continue
        # A line with a marker applies somewhere only: a dependency, not an integration.
        integration = None if requirement.marker else registry.named_by(root, requirement.name)
        clash = integration and clashing_pin(
            requirement, registry.requirements_of(root, integration)
        )
        if clash:
            print(
                f"{path.name}: {text} stays a plain dependency: ZenML's {integration} wants {clash}"
            )
            integration = None
        if integration and integration not in names:
            names.append(integration)
        if not integration or str(requirement) != requirement.name:
            dependencies.append(text)
    return names, dependencies


def clashing_pin(requirement, wanted: list[str]) -> str | None:
    """The integration's requirement on the same package that a pinned version (`==V`) of
    the user's does not satisfy, else None."""
    pinned = [spec.version for spec in requirement.specifier if spec.operator in ("==", "===")]
    for text in wanted:
        other = requirements.parse(text)
        same = canonicalize_name(other.name) == canonicalize_name(requirement.name)
        if same and pinned and not other.specifier.contains(pinned[0], prereleases=True):
            return text
    return None


def remove(root: Path, names: list[str]) -> None:
    present = registry.declared(root)
    missing = [name for name in names if name not in present]
    if missing:
        raise ZenlockError(
            f"Not declared: {', '.join(missing)} (see `nox -s integrations -- list`); "
            "nothing was changed."
        )
    with all_or_nothing(root):
        for name in names:
            for target in present[name]:
                drop_group(root, registry.group_name(target, name))
            print(f"{name}: removed")
        sync_venv(root)


def sync(root: Path) -> None:
    """Re-derive every declared integration from the registry of the ZenML in .venv."""
    changed = False
    with all_or_nothing(root):
        for name, targets in registry.declared(root).items():
            wanted = registry.requirements_of(root, name)
            for target, current in targets.items():
                if not requirements.same(current, wanted):
                    put_group(root, registry.group_name(target, name), wanted)
                    print(f"{name} ({target}): {', '.join(current)} -> {', '.join(wanted)}")
                    changed = True
        if changed:
            sync_venv(root)
    if not changed:  # still activated: the lock may have moved under them (an upgrade)
        refuse_inactive(root, sorted(registry.declared(root)))
        print(f"Every integration matches ZenML {registry.zenml_version()}'s registry.")
    registry.save(root)


def sync_venv(root: Path) -> None:
    """.venv to the new lock, then every declared integration activated in it."""
    lock.uv(root, "sync", "--locked")
    refuse_inactive(root, sorted(registry.declared(root)))
    print("uv.lock and .venv updated; `nox -s images` and `nox -s server` build them in.")


def refuse_inactive(root: Path, names: list[str]) -> None:
    failed = registry.inactive_in_venv(root, names)
    if failed:
        raise ZenlockError(
            "\n".join(registry.inactive_message(found) for found in failed)
            + "\nNothing was changed: pyproject.toml, uv.lock and .venv are as they were."
        )


def show(root: Path) -> None:
    present = registry.declared(root)
    print(f"Declared (pyproject.toml, ZenML {registry.zenml_version()}):")
    for name, targets in sorted(present.items()):
        where = " (+ server)" if "server" in targets else ""
        print(f"  {name}{where}: {', '.join(next(iter(targets.values())))}")
    if not present:
        print("  none")
    available = sorted(set(registry.names(root)) - present.keys())
    print(f"Available: {', '.join(available)}")


def main(project: Project, argv: list[str]) -> None:
    root = project.root
    parser = argparse.ArgumentParser(prog="nox -s integrations --", description=__doc__)
    parser.add_argument("action", choices=["add", "remove", "list", "sync"])
    parser.add_argument("names", nargs="*", metavar="NAME")
    parser.add_argument("--server", action="store_true", help="add: the server image too")
    parser.add_argument(
        "--from",
        dest="file",
        type=Path,
        metavar="FILE",
        help="add: a requirements file, as integrations (ZenML's registry) and dependencies",
    )
    args = parser.parse_args(argv)
    if args.file and args.action != "add":
        parser.error("--from goes with add")
    if args.action in ("add", "remove") and not (args.names or args.file):
        parser.error(f"{args.action} needs the integrations' names")
    if args.action == "add":
        names, dependencies = from_file(root, args.file) if args.file else ([], [])
        add(
            root,
            [*args.names, *(n for n in names if n not in args.names)],
            args.server,
            dependencies,
        )
    elif args.action == "remove":
        remove(root, args.names)
    elif args.action == "sync":
        sync(root)
    else:
        show(root)
