"""What a step imports from one share of an assembled image, found by importing it with this
machine's interpreter of the image's Python version (the way precompile.py does inside a
build for each layer): run with the shares' site-packages on the path, the share's first and
those below after it, as the image's single site-packages holds them.

    python -I -S -B imports.py < {"roots": [...], "activation": DIR, "modules": [...],
                                  "packages": [...], "integrations": [...]}

Prints {"files": {root: [paths under it that were loaded]}, "activation": [reports]}; a
module that does not import is skipped, as in the image.
"""

import contextlib
import importlib
import json
import logging
import site
import sys


def load(module: str) -> None:
    # Anything an import raises: what it loaded before failing still counts.
    with contextlib.suppress(Exception):
        importlib.import_module(module)


def main() -> None:
    job = json.loads(sys.stdin.read())
    sys.path[:0] = job["roots"]
    for root in job["roots"]:  # their .pth files, as the image's site does at each start
        site.addsitedir(root, known_paths=set(sys.path))
    sys.path.append(job["activation"])  # a folder holding activation.py alone
    import activation

    logging.disable(logging.CRITICAL)
    for module in job["modules"]:
        load(module)
    for package in job["packages"]:
        for module in activation.modules_of(package):
            load(module)
    report = [activation.result(name) for name in job["integrations"]]
    files = {getattr(module, "__file__", None) or "" for module in list(sys.modules.values())}
    loaded = {
        root: sorted(path[len(root) :] for path in files
                     if path.startswith(root) and path.endswith(".py"))
        for root in job["roots"]
    }  # fmt: skip
    print(json.dumps({"files": loaded, "activation": report}))


if __name__ == "__main__":
    main()
