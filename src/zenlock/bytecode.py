"""What a step imports from a share of an assembled image, found and compiled on this machine
by an interpreter of the image's Python version (bytecode depends on the version, not on the
platform): hash-based .pyc files (valid whatever the files' times, the same bytes from any
folder), each named by its path in the image. The same import activates the share's ZenML
integrations, as a step would (activation.py's reports).

The imports run on an install of the share for this machine's platform: the image's own files
when its platform is this machine's, else the same pins installed for this one (no emulation),
whose imported files name those to compile in the image's. With no interpreter of that
version here, nothing is compiled (the image then compiles in memory at each import: slower
starts, the same behaviour) and the integrations are not activated here.
"""

import json
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from . import ZenlockError, registry, venvshare
from .scripts import script


@dataclass(frozen=True)
class Imported:
    files: dict[Path, list[str]]  # per root (a share's site-packages): paths relative to it
    activation: list[dict] = field(default_factory=list)


def host_python(python_version: str) -> str | None:
    """An interpreter of `python_version` on this machine (uv finds it, never downloads)."""
    result = subprocess.run(
        [venvshare.uv_binary(), "python", "find", "--no-project", python_version],
        capture_output=True,
        text=True,
        env={**os.environ, "UV_PYTHON_DOWNLOADS": "never"},
    )
    return (result.stdout.strip() or None) if result.returncode == 0 else None


def imported(
    interpreter: str,
    roots: list[Path],
    *,
    modules: list[str],
    packages: list[str],
    integrations: list[str],
) -> Imported:
    """Import what a step imports with `roots` (the shares' site-packages, the top one first)
    on the path. ZenML keeps its state in a folder of its own meanwhile, and sends nothing;
    -B: the imports write no bytecode of their own."""
    with tempfile.TemporaryDirectory(prefix="zenlock-imports-") as state:
        shutil.copy(registry.ACTIVATION, Path(state) / "activation.py")
        job = {
            "roots": [str(root) + os.sep for root in roots],
            "activation": state,
            "modules": modules,
            "packages": packages,
            "integrations": integrations,
        }
        result = subprocess.run(
            [interpreter, "-I", "-S", "-B", "-c", script("imports")],
            input=json.dumps(job),
            capture_output=True,
            text=True,
            env={
                "PATH": os.environ.get("PATH", ""),
                "HOME": state,
                "ZENML_CONFIG_PATH": state,
                "ZENML_ANALYTICS_OPT_IN": "false",
            },
        )
    if result.returncode != 0:
        said = result.stderr.strip().splitlines()[-1:] or ["no output"]
        raise ZenlockError(f"Importing the image's packages here failed: {said[0]}")
    found = json.loads(result.stdout.strip().splitlines()[-1])
    files = {root: found["files"].get(str(root) + os.sep, []) for root in roots}
    return Imported(files, found["activation"])


def pyc_name(relative: str, python_version: str) -> str:
    """Where the bytecode of `relative` (a .py under site-packages) goes, beside it."""
    folder, _, name = relative.rpartition("/")
    tag = f"cpython-{python_version.replace('.', '')}"
    return f"{folder + '/' if folder else ''}__pycache__/{name[:-3]}.{tag}.pyc"


def compile_stage(
    interpreter: str,
    python_version: str,
    loaded: dict[Path, list[str]],
    sites: dict[Path, Path],
    target: Path,
) -> int:
    """Compile what one share's imports loaded (`loaded`: per probe root, paths relative to
    it) into `target` (that share's site-packages in its layer). `sites` maps each probe root
    to the image's copy of that share, the lower ones first: a file whose bytecode a lower
    share's layer has already is left to it, as a layer built on it would find it there."""
    image_site = venvshare.site_packages(venvshare.VENV, python_version)
    jobs = []
    for probe, names in loaded.items():
        site = sites[probe]
        for name in names:
            pyc = pyc_name(name, python_version)
            if site != target and (site / pyc).is_file():
                continue
            if (site / name).is_file():
                jobs.append([str(site / name), str(target / pyc), str(image_site / name)])
    if not jobs:
        return 0
    result = subprocess.run(
        [interpreter, "-I", "-S", "-c", script("compile")],
        input=json.dumps(jobs),
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        raise ZenlockError(f"Compiling the image's bytecode failed: {result.stderr[-300:]}")
    return int(result.stdout.strip() or 0)
