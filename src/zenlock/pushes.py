"""Images to registries: push an image or a manifest list of several platforms' images, and
the digests a registry confirmed or serves."""

import ipaddress
import shutil
import subprocess

from . import ZenlockError
from .engine import Engine


def push(client: Engine, tag: str) -> str:
    """Push `tag` unless the registry already holds that very image; its reference by digest.

    Credentials come from Docker's own config (`docker login`, credential helpers): zenlock
    never reads, prints or stores them.
    """
    repository, _, version = tag.rpartition(":")
    pushed = digest_in(client, tag)
    if pushed and registry_digest(client, tag) == pushed.split("@", 1)[1]:
        print(f"  {tag}  already in the registry", flush=True)
        return pushed
    for chunk in client.images.push(repository, version, stream=True, decode=True):
        if "error" in chunk:
            raise ZenlockError(
                f"The registry refused {tag}: {chunk['error'].strip()}\n"
                f"Log in with `docker login {repository.split('/', 1)[0]}` (or set up a "
                "credential helper), then push again."
            )
    pushed = digest_in(client, tag)
    if not pushed:
        raise ZenlockError(f"Pushing {tag} left no digest: the registry did not confirm it.")
    print(f"  {tag}  pushed as {pushed}", flush=True)
    return pushed


def push_index(client: Engine, tag: str, digests: list[str]) -> str:
    """Push a manifest list of the pushed images `digests` (repository@sha256:..., one per
    platform) as `tag`, unless the registry has it; its reference by digest. Docker's own
    `manifest` command does it, with Docker's credentials, as `push`."""
    repository = tag.rpartition(":")[0]
    pushed = registry_digest(client, tag)
    if pushed:
        print(f"  {tag}  already in the registry", flush=True)
        return f"{repository}@{pushed}"
    cli = shutil.which("docker")
    if not cli:
        raise ZenlockError("No docker CLI on PATH: install it to push a manifest list.")
    insecure = ["--insecure"] if insecure_registry(client, repository.split("/", 1)[0]) else []
    subprocess.run([cli, "manifest", "rm", tag], capture_output=True)  # a list left by a failure
    for command in (["create", *insecure, tag, *digests], ["push", *insecure, "--purge", tag]):
        done = subprocess.run([cli, "manifest", *command], capture_output=True, text=True)
        if done.returncode != 0:
            raise ZenlockError(
                f"The registry refused the manifest list {tag}: {done.stderr.strip()}"
            )
    digest = done.stdout.strip().splitlines()[-1]
    print(f"  {tag}  pushed as {repository}@{digest} ({len(digests)} platforms)", flush=True)
    return f"{repository}@{digest}"


def insecure_registry(client: Engine, host: str) -> bool:
    """The engine reaches registry `host` over plain HTTP: one of its insecure registries
    (127.0.0.0/8 unless configured otherwise)."""
    config = client.sdk.info().get("RegistryConfig") or {}
    indexed = (config.get("IndexConfigs") or {}).get(host)
    if indexed:
        return not indexed.get("Secure", True)
    name = host.rsplit(":", 1)[0] if host.count(":") == 1 or host.startswith("[") else host
    name = "127.0.0.1" if name == "localhost" else name.strip("[]")
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        return False
    return any(
        address in ipaddress.ip_network(cidr) for cidr in config.get("InsecureRegistryCIDRs") or []
    )


def digest_in(client: Engine, tag: str) -> str | None:
    """`repository@sha256:...` of `tag` as its registry last confirmed it, if ever pushed."""
    repository = tag.rpartition(":")[0]
    digests = client.image(tag).get("RepoDigests") or []
    return next((d for d in digests if d.split("@", 1)[0] == repository), None)


def repo_digest(client: Engine, reference: str) -> str | None:
    """`sha256:...` of `reference` in the registry it came from, if it came from one."""
    digests = client.image(reference).get("RepoDigests") or []
    return digests[0].split("@", 1)[1] if digests else None


def registry_digest(client: Engine, tag: str) -> str | None:
    """The digest the registry serves for `tag` now, or None (absent, or not answering)."""
    from docker.errors import DockerException

    try:
        return client.images.get_registry_data(tag).id
    except DockerException:
        return None
