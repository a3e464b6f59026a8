"""Activate ZenML integrations the way ZenML does when a pipeline runs, and say which fail.

A script of its own (the standard library and ZenML only), run by the python of the
environment under test: `.venv`'s after `nox -s integrations -- add|sync`, an image's by
`nox -s check`. `python activation.py NAME ...` prints one JSON object per integration:
{"integration", "ok", "error", "package", "version"}; `package` is the distribution the
failing import belongs to, `version` the one installed.
"""

import functools
import importlib
import importlib.metadata
import importlib.util
import json
import sys
import traceback


@functools.cache
def distributions() -> dict[str, list[str]]:
    """Top-level module -> the distributions that install it (reading them all is slow)."""
    return importlib.metadata.packages_distributions()


def distribution_of(module: str) -> str | None:
    top = module.split(".", 1)[0]
    found = distributions().get(top)
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


# Top-level names that distributions ship beside their code, never imported by a step.
NOT_CODE = {"tests", "test", "testing", "docs", "doc", "examples", "benchmarks", "scripts"}


def modules_of(requirement: str) -> list[str]:
    """The top-level modules of a requirement's installed distribution (`Jinja2` -> jinja2)."""
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    parsed = Requirement(requirement)
    if parsed.marker and not parsed.marker.evaluate():
        return []
    wanted = canonicalize_name(parsed.name)
    return sorted(
        module
        for module, owners in distributions().items()
        if wanted in {canonicalize_name(owner) for owner in owners}
        and module.isidentifier()
        and not module.startswith("_")
        and module not in NOT_CODE
    )


def activate(name: str) -> None:
    """What a step that uses the integration imports: ZenML's check_installation() and
    activate(), every flavor's implementation and config, the integration's steps and
    materializers, and the packages it requires (ZenML imports most of those lazily)."""
    from zenml.integrations.registry import integration_registry

    integration = integration_registry.integrations[name]
    if not integration.check_installation():
        raise ImportError(f"ZenML finds the {name} integration's requirements not installed")
    integration.activate()
    for flavor in integration.flavors():
        instance = flavor()
        instance.implementation_class  # noqa: B018 (the import is the check)
        instance.config_class  # noqa: B018
    package = integration.__module__
    for part in ("materializers", "steps"):
        if importlib.util.find_spec(f"{package}.{part}"):
            importlib.import_module(f"{package}.{part}")
    for requirement in integration.get_requirements():
        for module in modules_of(requirement):
            importlib.import_module(module)


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
