"""Activate ZenML integrations the way ZenML does when a pipeline runs, and say which fail.

A script of its own (the standard library and ZenML only), run by the python of the
environment under test: `.venv`'s after `nox -s integrations -- add|sync`, an image's by
`nox -s check`. `python activation.py NAME ...` prints one JSON object per integration:
{"integration", "ok", "error", "package", "version"}; `package` is the distribution the
failing import belongs to, `version` the one installed.
"""

import importlib.metadata
import json
import sys
import traceback


def distribution_of(module: str) -> str | None:
    top = module.split(".", 1)[0]
    found = importlib.metadata.packages_distributions().get(top)
    return found[0] if found else None


def culprit(error: BaseException) -> str | None:
    """The distribution behind a failed activation: the module an import could not find or
    read a name from, else the package of the innermost frame outside ZenML."""
    if isinstance(error, ImportError) and error.name:
        return distribution_of(error.name) or error.name.split(".", 1)[0]
    frames = traceback.extract_tb(error.__traceback__)
    for frame in reversed(frames):
        path = frame.filename.replace("\\", "/")
        if "/site-packages/" in path and "/site-packages/zenml/" not in path:
            module = path.split("/site-packages/", 1)[1].split("/", 1)[0].removesuffix(".py")
            return distribution_of(module) or module
    return None


def activate(name: str) -> None:
    """check_installation(), activate() and every flavor's implementation and config:
    what ZenML imports before a step that uses the integration runs."""
    from zenml.integrations.registry import integration_registry

    integration = integration_registry.integrations[name]
    if not integration.check_installation():
        raise ImportError(f"ZenML finds the {name} integration's requirements not installed")
    integration.activate()
    for flavor in integration.flavors():
        instance = flavor()
        instance.implementation_class  # noqa: B018 (the import is the check)
        instance.config_class  # noqa: B018


def result(name: str) -> dict:
    try:
        activate(name)
    except Exception as error:  # anything an import can raise: the report names it
        package = culprit(error)
        try:
            version = importlib.metadata.version(package) if package else None
        except importlib.metadata.PackageNotFoundError:
            version = None
        message = f"{type(error).__name__}: {error}".splitlines()[0][:300]
        return {"integration": name, "ok": False, "error": message, "package": package,
                "version": version}  # fmt: skip
    return {"integration": name, "ok": True, "error": "", "package": None, "version": None}


def main(names: list[str]) -> None:
    import logging

    logging.disable(logging.CRITICAL)  # ZenML logs an activation failure at length
    print(json.dumps([result(name) for name in names]))


if __name__ == "__main__":
    main(sys.argv[1:])
