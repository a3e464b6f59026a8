"""Builds with BuildKit, through the docker CLI (the SDK drives only the classic builder)."""

import os
import re
import shutil
import subprocess
from pathlib import Path

from . import ZenlockError


def build_cli() -> str:
    """A docker CLI that builds with BuildKit: one with buildx, or a pre-23.0 CLI (built in)."""
    for folder in dict.fromkeys(os.environ.get("PATH", "").split(os.pathsep)):
        cli = shutil.which("docker", path=folder)
        if not cli:
            continue
        if subprocess.run([cli, "buildx", "version"], capture_output=True).returncode == 0:
            return cli
        version = subprocess.run([cli, "--version"], capture_output=True, text=True).stdout
        major = re.search(r"version (\d+)\.", version)
        if major and int(major.group(1)) < 23:
            return cli
    raise ZenlockError(
        "No docker CLI on PATH can build with BuildKit: install Docker's buildx plugin "
        "(Docker Desktop has it; on Linux the docker-buildx-plugin package), then run again."
    )


def build(
    context: Path,
    dockerfile: str,
    tag: str,
    *,
    buildargs: dict[str, str],
    labels: dict[str, str],
    secrets: dict[str, str | Path],
    network: str,
    platform: str,
    no_cache: bool = False,
) -> None:
    """Build `tag` for `platform` with BuildKit, printing one line per step; a failed build
    leaves no tag.

    `secrets` maps a secret's id to a file or, as text, to its contents (handed over in the
    docker CLI's environment): `RUN --mount=type=secret` sees them, no layer or build argument.
    """
    command = [build_cli(), "build", "--progress=plain", "--file", str(context / dockerfile)]
    command += ["--tag", tag, f"--platform={platform}", *(["--no-cache"] if no_cache else [])]
    command += ["--network=host"] if network == "host" else []
    command += [f"--build-arg={key}={value}" for key, value in buildargs.items()]
    command += [f"--label={key}={value}" for key, value in labels.items()]
    env = {**os.environ, "DOCKER_BUILDKIT": "1"}
    for name, value in secrets.items():
        if isinstance(value, Path):
            command.append(f"--secret=id={name},src={value}")
        else:
            env[f"ENVTOOLS_SECRET_{name.upper()}"] = value
            command.append(f"--secret=id={name},env=ENVTOOLS_SECRET_{name.upper()}")
    log, steps = [], set()
    with subprocess.Popen(
        [*command, str(context)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    ) as process:
        for line in process.stdout:
            log.append(line)
            # Each step once, and which were taken from the build cache (not run again).
            if re.match(r"#\d+ (\[(?!internal)|CACHED$)", line) and line not in steps:
                steps.add(line)
                print(f"    {line.strip()[:150]}", flush=True)
    if process.returncode == 0:
        return
    output = "".join(log[-25:])
    unreachable = r"network bridge not found|dns error|failed to lookup address|name resolution"
    if network != "host" and re.search(unreachable, output, re.IGNORECASE):
        raise ZenlockError(
            f"Building {tag} failed: the build has no network (this engine has no bridge "
            'network, or no DNS through it). Set network = "host" in [tool.zenlock.images].'
        )
    if "exec format error" in output:
        raise ZenlockError(
            f"Building {tag} for {platform} needs emulation, which this machine lacks: install "
            "qemu-user-static and binfmt-support (Debian, Ubuntu), or run `docker run "
            "--privileged --rm tonistiigi/binfmt --install all`; Docker Desktop has it."
        )
    if "buildkit not supported" in output.lower():
        raise ZenlockError(
            "This Docker engine cannot build with BuildKit: upgrade it to 18.09 or newer "
            "(Docker 23.0 and newer use BuildKit by default)."
        )
    raise ZenlockError(f"Building {tag} failed:\n{output}")
