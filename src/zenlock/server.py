"""The project's ZenML server: `nox -s server [-- ACTION [OPTIONS]]`, each action with its own
options (`nox -s server -- ACTION --help`).

Without an action (options alone included: `-- --push`) it builds the server image from the
lock's `server` group. `up` runs it with a random admin password (never a default one) and
connects this project's client as a service account with an API key; the credentials stay in
.zenml-server/, readable by you only. Its data is in SQLite in a Docker volume, or in
MySQL/MariaDB when the server env file's ZENML_STORE_URL names one; `up` checks that the
database answers before the server starts. `backup` and `restore FILE` copy the database out
and back (see zenlock/backups.py). `reset-admin` sets new admin credentials on the server's
data (after a lost admin.env); `detach` gives a copied project folder its own server; `claim`
tells a folder whose copy and original both left their place that it is the one that owns the
server. `helm --url URL` writes values for ZenML's Helm chart that run the pushed image
(zenlock/helmvalues.py). `connect URL` points this project's sessions at a server it does not
run (deploy/compose.yaml).
"""

import argparse
import shutil
from dataclasses import replace

from . import ZenlockError, lock, pushes, pylock, referrers, registry
from .identity import claim_id, owner_of, recorded_owner, state_of
from .imagespec import Builder, activated, python_version
from .inputs import image_reference, platforms, port_number
from .lifecycle import down, logs, status, up
from .project import Project
from .projectserver import Server
from .remote import connect, helm
from .serverdata import backup, reset_admin, restore
from .serverspec import server_groups, server_spec
from .settings import ServerSettings


def build(project: Project, settings: ServerSettings, *, no_cache: bool, push: bool) -> None:
    if push and not settings.build.registry:
        raise ZenlockError("--push needs a registry: set [tool.zenlock.images] registry.")
    builder = Builder(project, settings.build, no_cache=no_cache)
    platforms = builder.platforms()
    parents = dict.fromkeys(map(settings.build.parent_for, platforms))
    print(f"Server image ({', '.join(platforms)}, parent {', '.join(parents)}):", flush=True)
    previous = project.read_record().get("server", {})
    recorded = {v["tag"]: v for v in [*previous.get("platforms", []), previous] if v.get("tag")}
    groups = server_groups(project.root)
    selection = lock.selection(project.root, "server", groups)
    variants = []
    for platform in platforms:
        spec = server_spec(project, settings, platform)
        tag = builder.ensure(spec)
        digest = pushes.push(builder.client, tag) if push else pushes.digest_in(builder.client, tag)
        # Its integrations (`add NAME --server`) activate in it: once per image id.
        active = activated(
            project.root,
            builder.client,
            tag,
            settings.build.network,
            groups,
            recorded.get(tag, {}).get("activated"),
        )
        # Its Python, for its pylock.toml: read once per image id.
        same = recorded.get(tag, {}).get("activated") == active and recorded[tag].get("python")
        python = same or python_version(builder.client, tag)
        variant = {"platform": platform, "tag": tag, "activated": active, "python": python}
        variants.append(variant | ({"digest": digest} if digest else {}))
        if python:
            written = pylock.write_for(project, tag, selection, platform, python)
            if push:  # scanners find them by the image's digest, with no pull
                referrers.attach_records(digest, spec.sbom, written)
    record = builder.combined(variants, push, previous)
    registry.save(project.root)
    project.update_record(
        server={**record, "groups": groups, "lock_sha256": lock.lock_hash(project.lock)}
    )


def detach(project: Project) -> None:
    """A copied folder's own identity: the credentials it copied stay with the original."""
    if state_of(project) in ("own", "moved", "new"):
        raise ZenlockError(
            "This folder is not a copy: it owns its server, admin credentials and secrets key, "
            "and `detach` would leave them orphaned. `detach` is for a copied folder (a "
            "session says so there). Nothing was changed."
        )
    original = recorded_owner(project)
    for copied in (project.admin_env, project.api_key, project.connection):
        copied.unlink(missing_ok=True)
    shutil.rmtree(project.server_client_config, ignore_errors=True)
    identity = claim_id(project, new=True)
    print(f"This folder is now project {identity}, apart from {original or 'any other'}.")
    print("It has no server yet: `nox -s server -- up` (on a free port) starts one.")


def claim(project: Project) -> None:
    """This folder owns the server its id names: for a project whose copy and original both
    left the place the server last saw (a sessions says when); the other one then detaches."""
    if state_of(project) != "unsure":
        raise ZenlockError(
            "Nothing to claim: this folder's sessions already know which server is theirs."
        )
    identity = project.identity_file.read_text().strip()
    was = owner_of(project, identity)
    claim_id(project, claiming=True)
    print(f"This folder now owns project {identity}'s server (last seen at {was}).")
    print(
        "Every other folder with this id, the original too wherever it went, is now a copy: "
        "its sessions refuse until `nox -s server -- detach` gives it a new, empty server, "
        "and it cannot claim this one back."
    )


def parser() -> argparse.ArgumentParser:
    """One sub-command per action, each with its own options and `--help`; what it runs is
    its `run(server, args)` (`s, a` below)."""
    top = argparse.ArgumentParser(
        prog="nox -s server --", description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    actions = top.add_subparsers(title="actions", dest="action", metavar="ACTION", required=True)

    def action(name: str, summary: str, run) -> argparse.ArgumentParser:
        sub = actions.add_parser(name, help=summary, description=summary)
        sub.set_defaults(run=run, error=sub.error)
        return sub

    build_it = action(
        "build",
        "build the server image from the lock (the default: `nox -s server`, `-- --push`)",
        lambda s, a: build(s.project, s.settings, no_cache=a.no_cache, push=a.push),
    )
    build_it.add_argument("--push", action="store_true", help="push it to the registry")
    build_it.add_argument("--no-cache", action="store_true", help="rebuild even if up to date")
    build_it.add_argument("--parent-image", help="the parent image, for this build only")
    build_it.add_argument("--platform", help="for these platforms (linux/amd64,linux/arm64)")
    start = action("up", "run the server, wait for /health, connect the project", up_at_port)
    start.add_argument("--port", help="the port on the host (default: [tool.zenlock.server])")
    action("down", "stop the server (its data stays)", lambda s, a: down(s))
    follow = action("logs", "the server's last log lines", lambda s, a: logs(s, a.follow))
    follow.add_argument("--follow", "-f", action="store_true", help="keep following")
    action("status", "what runs where: image, URL, health, data", lambda s, a: status(s))
    copy = action("backup", "a copy of the database", lambda s, a: backup(s, a.file))
    copy.add_argument("file", nargs="?", metavar="FILE", help="a file or a folder for it")
    put_back = action(
        "restore",
        "put a backup back (asks first)",
        lambda s, a: restore(s, a.file, a.yes, a.from_another_server),
    )
    put_back.add_argument("file", nargs="?", metavar="FILE", help="a backup (`status` lists)")
    put_back.add_argument("--yes", action="store_true", help="do not ask")
    put_back.add_argument(
        "--from-another-server",
        action="store_true",
        help="a backup of another project's server replaces this one's data",
    )
    action("reset-admin", "new admin credentials on the data", lambda s, a: reset_admin(s))
    action("detach", "a copied folder gets its own server", lambda s, a: detach(s.project))
    action("claim", "this folder owns the server its id names", lambda s, a: claim(s.project))
    chart = action(
        "helm",
        "values for ZenML's Helm chart (deploy/helm-values.yaml)",
        lambda s, a: helm(s, a.url, a.secret, a.allow_http),
    )
    chart.add_argument("--url", help="the server's public URL (https://HOST[/PATH])")
    chart.add_argument("--secret", help="the Kubernetes secret of its credentials")
    elsewhere = action(
        "connect",
        "this project's sessions on a server it does not run",
        lambda s, a: connect(s, a.url, a.user, a.allow_http),
    )
    elsewhere.add_argument("url", nargs="?", metavar="URL", help="the server's URL")
    elsewhere.add_argument("--user", default="admin", help="an admin account's name")
    for sub in (chart, elsewhere):
        sub.add_argument(
            "--allow-http",
            action="store_true",
            help="plain http:// to another machine (passwords in clear)",
        )
    return top


def up_at_port(server: Server, args: argparse.Namespace) -> None:
    if args.port is not None:
        server.settings = replace(server.settings, port=port_number(args.port, "--port"))
    up(server)


# What an action cannot go without: refused as it is parsed, before anything is read.
NEEDED = {
    "restore": ("file", "restore needs the backup file (`-- status` lists them)"),
    "helm": ("url", "helm needs --url, where the cluster serves it (https://zenml.example.com)"),
    "connect": ("url", "connect needs the server's URL (http://127.0.0.1:8080)"),
}


def parse(argv: list[str]) -> argparse.Namespace:
    """Options with no action before them are the build's (`-- --push`), as is nothing."""
    if not argv or (argv[0].startswith("-") and argv[0] not in ("-h", "--help")):
        argv = ["build", *argv]
    args = parser().parse_args(argv)
    needed, why = NEEDED.get(args.action, (None, ""))
    if needed and not getattr(args, needed):
        args.error(why)
    return args


def main(project: Project, argv: list[str]) -> None:
    args = parse(argv)
    settings = project.server
    if args.action == "build" and args.parent_image:
        parent = image_reference(args.parent_image, "--parent-image")
        settings = replace(settings, build=replace(settings.build, parent=parent))
    if args.action == "build" and args.platform:
        chosen = platforms(args.platform, "--platform")
        settings = replace(settings, build=replace(settings.build, platforms=chosen))
    args.run(Server(project, settings), args)
