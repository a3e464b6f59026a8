"""Requirements compared as Python compares them: names by PEP 503, specifiers by PEP 440,
markers by PEP 508, never by their spelling. Every comparison of requirements goes through here."""

import re
from pathlib import Path
from typing import NamedTuple
from urllib.parse import urlsplit

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

from . import ZenlockError


class Key(NamedTuple):
    """What a requirement means; two spellings of one requirement have the same key."""

    name: str
    extras: frozenset[str]
    specifier: SpecifierSet
    url: str
    marker: str


def parse(text: str) -> Requirement:
    try:
        return Requirement(text)
    except InvalidRequirement as error:
        reason = str(error).splitlines()[0]  # packaging adds the text and a caret below
        raise ZenlockError(f"{text!r} is not a PEP 508 requirement: {reason}") from None


def key(text: str) -> Key:
    requirement = parse(text)
    return Key(
        canonicalize_name(requirement.name),
        frozenset(canonicalize_name(extra) for extra in requirement.extras),
        requirement.specifier,  # a set of specifiers: order and `1.0` / `1.0.0` do not matter
        requirement.url or "",
        str(requirement.marker) if requirement.marker else "",  # quoting and spaces normalised
    )


def pinned(text: str) -> str:
    """What a requirement of `uv export` installs, in the terms an installed distribution is
    read in (inside/inspect_python.py): the version of `name==V`, or, for a requirement by URL
    (`name @ git+URL@COMMIT`, an archive), the URL with its commit, since a URL names no version."""
    requirement = parse(text)
    if requirement.url:
        return requirement.url
    versions = [spec.version for spec in requirement.specifier if spec.operator in ("==", "===")]
    if len(versions) != 1 or len(requirement.specifier) != 1:
        raise ZenlockError(f"{text!r} pins no single version (NAME==VERSION or NAME @ URL).")
    return versions[0]


def same(first: list[str], second: list[str]) -> bool:
    """True when both lists ask for the same requirements, whatever their spelling and order."""
    return {key(text) for text in first} == {key(text) for text in second}


# pip's per-requirement hash option: the lock pins hashes of its own.
HASH_OPTION = re.compile(r"\s--hash[=\s]\S+")
COMMENT = re.compile(r"(^|\s)#.*$")


def read_file(path: Path) -> list[str]:
    """The requirements of a pip requirements file (`requirements.txt`): one per logical line
    (`\\` continuations joined), comments, blank lines and `--hash` options left out. pip's
    other options (`-r`, `-e`, `--index-url`, ...) have their own homes in pyproject.toml, and
    a URL holding a user or password would put it into pyproject.toml and uv.lock: refused, in
    one line naming the file's line (what a line holds is not repeated: it may be a secret)."""
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as error:
        raise ZenlockError(f"Cannot read {path}: {error}.") from None
    found, pending, first = [], "", 0
    # An empty line after the last ends a continuation left open there.
    for number, physical in enumerate([*text.splitlines(), ""], start=1):
        first = first or number
        if physical.endswith("\\"):
            pending += physical[:-1] + " "
            continue
        line = HASH_OPTION.sub("", COMMENT.sub("", pending + physical)).strip()
        where, pending, first = f"{path.name}:{first}", "", 0
        if not line:
            continue
        if line.startswith("-"):
            raise ZenlockError(
                f"{where}: `{line.split()[0]}` is a pip option, not a requirement: write what it "
                "says in pyproject.toml (`[tool.uv]` index or sources, `uv add -e`), then leave "
                "it out."
            )
        try:
            requirement = Requirement(line)
        except InvalidRequirement as error:
            reason = str(error).splitlines()[0]
            raise ZenlockError(f"{where} is not a PEP 508 requirement ({reason}).") from None
        url = urlsplit(requirement.url or "")
        if url.username or url.password:
            raise ZenlockError(
                f"{where}: its URL holds a user or password (not shown), which would be written "
                "into pyproject.toml and uv.lock: write the URL without it and give uv the "
                "credentials apart (`UV_INDEX_<NAME>_USERNAME`/`_PASSWORD`, or ~/.netrc)."
            )
        found.append(line)
    return found
