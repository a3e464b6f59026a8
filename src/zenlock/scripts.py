"""The scripts zenlock runs with another environment's python (an image's, the server's, the
project's): real files in zenlock/inside/, shipped with the package and linted like it. A script
may be joined after others whose names it uses (`script("store", "probe")`)."""

from importlib.resources import files


def script(*names: str) -> str:
    return "\n".join(text(f"{name}.py") for name in names)


def text(name: str) -> str:
    """One file of zenlock/inside/ (a shell script too), as text."""
    return files("zenlock").joinpath("inside", name).read_text()
