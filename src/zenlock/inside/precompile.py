"""Compile to bytecode what a pipeline step imports from one layer of an image's venv, by
importing it: Python writes each imported module's .pyc beside its source. Run as root while
the image builds (install-layer.sh); compiling all of site-packages would take most of a build,
and a step's user could not write them at run time.

    python precompile.py LAYER

LAYER/modules.txt lists modules to import, LAYER/packages.txt distributions whose top-level
modules to import, LAYER/integrations.txt ZenML integrations to activate as a step does
(activation.py beside this file): their report goes to /opt/zenlock/activation.json, where
`nox -s images` and `nox -s check` read it. A module that does not import is named, not fatal.
"""

import importlib
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import activation  # noqa: E402

REPORT = Path("/opt/zenlock/activation.json")


def lines(path: Path) -> list[str]:
    return path.read_text().split() if path.is_file() else []


def load(module: str) -> None:
    try:
        importlib.import_module(module)
    except Exception as error:  # anything an import raises: the build goes on without it
        print(f"precompile: {module} does not import ({type(error).__name__}: {error})")


def main(layer: Path) -> None:
    import logging

    logging.disable(logging.CRITICAL)
    for module in lines(layer / "modules.txt"):
        load(module)
    for package in lines(layer / "packages.txt"):
        for module in activation.modules_of(package):
            load(module)
    names = lines(layer / "integrations.txt")
    if names:
        REPORT.parent.mkdir(parents=True, exist_ok=True)
        REPORT.write_text(json.dumps([activation.result(name) for name in names]) + "\n")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
