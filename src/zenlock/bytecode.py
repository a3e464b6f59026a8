"""Bytecode for an assembled image, compiled on this machine by an interpreter of the image's
Python version (bytecode depends on the version, not on the platform): hash-based .pyc files
(valid whatever the files' times, the same bytes from any folder), each named by its path in
the image.

What is compiled: what a step imports (the modules named, imported by this machine's
interpreter with the share on its path: the way today's builds compile inside the image), when
this machine can load the share's binaries (the image's platform is this machine's); else all
of the share's modules. With no interpreter of that version here, nothing: the image then
compiles in memory at each import (slower starts, the same behaviour).
"""

import json
import os
import subprocess
import tempfile
from pathlib import Path, PurePosixPath

from . import venvshare

# Run by the host's interpreter with the shares' site-packages first on its path: the files
# under ROOT that importing MODULES loaded. A module that does not import is skipped (as
# precompile.py does inside today's builds).
IMPORTED = """
import importlib, json, logging, sys
roots, modules = json.loads(sys.stdin.read())
sys.path[:0] = roots
logging.disable(logging.CRITICAL)
for module in modules:
    try:
        importlib.import_module(module)
    except Exception:
        pass
files = {getattr(m, "__file__", None) or "" for m in list(sys.modules.values())}
print(json.dumps(sorted(f for f in files if f.endswith(".py") and f.startswith(roots[0]))))
"""


def host_python(python_version: str) -> str | None:
    """An interpreter of `python_version` on this machine (uv finds it, never downloads)."""
    result = subprocess.run(
        [venvshare.uv_binary(), "python", "find", "--no-project", python_version],
        capture_output=True,
        text=True,
        env={**os.environ, "UV_PYTHON_DOWNLOADS": "never"},
    )
    return (result.stdout.strip() or None) if result.returncode == 0 else None


def imported_files(interpreter: str, paths: list[Path], modules: list[str]) -> list[str]:
    """The files of paths[0] (a share's site-packages; the shares below it follow) that
    importing `modules` loads, in this machine's interpreter. ZenML keeps its state in a
    folder of its own meanwhile, and sends nothing; -B: the imports write no bytecode of
    their own (the host's, timestamp-based and named by this machine's paths)."""
    with tempfile.TemporaryDirectory(prefix="zenlock-imports-") as state:
        result = subprocess.run(
            [interpreter, "-I", "-S", "-B", "-c", IMPORTED],
            input=json.dumps([[str(path) + os.sep for path in paths], modules]),
            capture_output=True,
            text=True,
            env={
                "PATH": os.environ.get("PATH", ""),
                "HOME": state,
                "ZENML_CONFIG_PATH": state,
                "ZENML_ANALYTICS_OPT_IN": "false",
            },
        )
    return json.loads(result.stdout) if result.returncode == 0 else []


def compile_share(
    root: Path,
    *,
    python_version: str,
    modules: list[str] | None = None,
    below: list[Path] = (),
    importable: bool = True,
    venv=venvshare.VENV,
) -> str:
    """Compile the share installed under `root` (see the module's doc); `below` are the
    roots of the shares under it, `importable` whether this machine can load its binaries.
    Returns what was done, in a few words."""
    interpreter = host_python(python_version)
    if not interpreter:
        return f"no bytecode: no Python {python_version} on this machine"
    image_path = venvshare.site_packages(venv, python_version)
    target = venvshare.inside(root, image_path)
    files = [str(target)]
    done = "all modules compiled"
    if modules and importable:
        paths = [target, *(venvshare.inside(lower, image_path) for lower in below)]
        files = imported_files(interpreter, paths, modules)
        done = f"{len(files)} imported modules compiled"
        if not files:
            return "no bytecode: none of the modules imports"
    with tempfile.NamedTemporaryFile("w", suffix=".txt") as listing:
        listing.write("".join(f"{name}\n" for name in files))
        listing.flush()
        result = subprocess.run(
            [
                interpreter, "-m", "compileall", "-q", "-f", "-j", "0",
                "--invalidation-mode", "unchecked-hash",
                "-s", str(target), "-p", str(PurePosixPath(image_path)), "-i", listing.name,
            ],
            capture_output=True,
            text=True,
        )  # fmt: skip
    # Status 1: some file does not compile (test data, Python 2 templates in some packages);
    # it stays source, as `uv pip install --compile` leaves it.
    if result.returncode not in (0, 1):
        return f"no bytecode: compileall failed ({result.stderr.strip()[-200:]})"
    return done
