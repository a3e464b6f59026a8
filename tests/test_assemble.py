"""The assembler's parts that need no engine, registry or lock: inputs by their grammar,
reproducible layers, the image config, the parent's files, the template's Dockerfiles."""

import base64
import hashlib
import json
import re
import tarfile
from pathlib import PurePosixPath

import pytest
from conftest import REPO

from zenlock import ZenlockError, baselayer, ociimage, ociregistry, parents
from zenlock.assembler import TEMPLATE_DOCKERFILES
from zenlock.tarlayer import write_layer
from zenlock.venvshare import move_commands, uv_platform, with_shebang

# --- inputs by their grammar -------------------------------------------------------------


@pytest.mark.parametrize(
    ("platform", "expected"),
    [
        ("linux/amd64", "x86_64-manylinux_2_36"),
        ("linux/arm64", "aarch64-manylinux_2_36"),
    ],
)
def test_image_platforms_name_their_wheels(platform, expected):
    assert uv_platform(platform) == expected


@pytest.mark.parametrize("platform", ["linux/s390x", "arm64", "", "linux/arm64/v8"])
def test_other_platforms_are_refused_with_the_choices(platform):
    with pytest.raises(ZenlockError, match="linux/amd64, linux/arm64"):
        uv_platform(platform)


VENV_PYTHON = PurePosixPath("/opt/venv/bin/python")


@pytest.mark.parametrize(
    ("script", "expected"),
    [
        (b"#!/root/.pyenv/versions/3.11.7/bin/python\nimport sys\n", b"import sys\n"),
        (b"#!/usr/bin/env python3\nimport sys\n", b"import sys\n"),
        (
            b"#!/bin/sh\n'''exec' \"/a/long/path/bin/python\" \"$0\" \"$@\"\n' '''\nimport sys\n",
            b"import sys\n",
        ),
    ],
)
def test_commands_start_the_venvs_python(script, expected):
    assert with_shebang(script, VENV_PYTHON) == b"#!/opt/venv/bin/python\n" + expected


@pytest.mark.parametrize("script", [b"#!/bin/sh\necho hi\n", b"\x7fELF\x02\x01", b""])
def test_other_files_in_bin_are_left_as_they_are(script):
    assert with_shebang(script, VENV_PYTHON) == script


def test_our_path_goes_before_the_parents_and_a_parent_without_one_gets_dockers():
    ours = {"PATH": "/opt/venv/bin", "VIRTUAL_ENV": "/opt/venv"}
    assert ociimage.merged_env(["PATH=/usr/bin:/bin", "LANG=C"], ours) == [
        "PATH=/opt/venv/bin:/usr/bin:/bin",
        "LANG=C",
        "VIRTUAL_ENV=/opt/venv",
    ]
    assert ociimage.merged_env([], ours)[0] == f"PATH=/opt/venv/bin:{ociimage.DEFAULT_PATH}"


def test_the_user_is_added_once_to_the_parents_passwd():
    passwd = "root:x:0:0:root:/root:/bin/bash\n"
    added = baselayer.with_line(passwd, "zenml:x:10001:10001::/home/zenml:/usr/sbin/nologin")
    assert added.splitlines() == [
        "root:x:0:0:root:/root:/bin/bash",
        "zenml:x:10001:10001::/home/zenml:/usr/sbin/nologin",
    ]
    assert baselayer.with_line(added, added.splitlines()[1]) == added


def test_a_layer_is_the_same_bytes_whatever_the_files_times_modes_and_links(tmp_path):
    """Two folders with the same contents, made differently (times, umask-like modes, a hard
    link in one): the same layer, gzip and tar alike."""
    digests = []
    for number, mode in ((1, 0o664), (2, 0o600)):
        folder = tmp_path / f"folder-{number}"
        (folder / "opt" / "venv").mkdir(parents=True)
        script = folder / "opt" / "venv" / "run"
        script.write_text("#!/opt/venv/bin/python\n")
        script.chmod(0o775 if number == 1 else 0o700)
        data = folder / "opt" / "data.txt"
        data.write_text("same\n")
        data.chmod(mode)
        (folder / "opt" / "link").symlink_to("data.txt")
        if number == 2:
            (folder / "opt" / "copy.txt").hardlink_to(data)
            data.touch()
        else:
            (folder / "opt" / "copy.txt").write_text("same\n")
        layer = write_layer(folder, tmp_path / f"{number}.tar.gz", epoch=1700000000)
        digests.append((layer.digest, layer.diff_id))
    assert digests[0] == digests[1]


# --- the parent's files ------------------------------------------------------------------


def link(target: str) -> tarfile.TarInfo:
    info = tarfile.TarInfo("python3")
    info.type, info.linkname = tarfile.SYMTYPE, target
    return info


ETC = {"etc/passwd": b"root:x:0:0::/root:/bin/sh\n", "etc/group": b"root:x:0:\n"}


@pytest.mark.parametrize(
    ("entries", "python"),
    [
        ({"usr/local/bin/python3": link("python3.11")}, "/usr/local/bin/python3.11"),
        ({"usr/bin/python3": link("python3.13")}, "/usr/bin/python3.13"),
        ({"usr/bin/python3": link("/usr/bin/python3.12")}, "/usr/bin/python3.12"),
        # /usr/local/bin comes first on PATH, as `uv venv --python python3` finds it.
        (
            {"usr/local/bin/python3": link("python3.11"), "usr/bin/python3": link("python3.9")},
            "/usr/local/bin/python3.11",
        ),
    ],
)
def test_the_venv_home_is_the_python_that_python3_links_to(entries, python):
    files = parents.files_of("parent", {**ETC, **entries})
    assert files.python == python
    assert files.python_version == python.rsplit("python", 1)[1]


@pytest.mark.parametrize(
    ("entries", "named"),
    [
        ({"usr/bin/python3": link("python3.11"), "etc/group": ETC["etc/group"]}, "/etc/passwd"),
        (ETC, "python:3.11-slim-bookworm"),
        ({**ETC, "usr/bin/python3": b"\x7fELF"}, "python:3.11-slim-bookworm"),
        ({**ETC, "usr/bin/python3": link("python")}, "python:3.11-slim-bookworm"),
    ],
)
def test_a_parent_without_what_the_image_needs_is_one_line_naming_the_choice(entries, named):
    with pytest.raises(ZenlockError, match=re.escape(named)) as refused:
        parents.files_of("parent", entries)
    assert "\n" not in str(refused.value)


@pytest.mark.parametrize(
    ("reference", "qualified"),
    [
        ("python:3.11", "registry-1.docker.io/library/python:3.11"),
        ("acme/python:3.11", "registry-1.docker.io/acme/python:3.11"),
        ("ghcr.io/acme/python:3.11", "ghcr.io/acme/python:3.11"),
        ("127.0.0.1:5000/python@sha256:ab", "127.0.0.1:5000/python@sha256:ab"),
        ("localhost/python:3.11", "localhost/python:3.11"),
    ],
)
def test_a_parent_name_without_a_registry_is_docker_hubs(reference, qualified):
    assert ociregistry.qualified(reference) == qualified


def test_the_assembler_knows_the_templates_dockerfiles():
    """A template Dockerfile changed without the assembler learning its steps would be built
    by the engine in every project: its hash must be among those the assembler does."""
    for name, known in TEMPLATE_DOCKERFILES.items():
        digest = hashlib.sha256((REPO / "template" / "docker" / name).read_bytes()).hexdigest()
        assert digest in known, name


def test_an_index_names_each_platforms_manifest_in_a_stable_order():
    document = ociimage.index({"linux/arm64": ("sha256:b", 2), "linux/amd64": ("sha256:a", 1)})
    index = json.loads(document)
    assert [m["platform"]["architecture"] for m in index["manifests"]] == ["amd64", "arm64"]
    assert document == ociimage.canonical(index)


DPKG = b"""Package: libpython3.11-minimal
Status: install ok installed
Version: 3.11.2-6+deb12u6

Package: python3.11-minimal
Status: install ok installed
Architecture: amd64
Version: 3.11.2-6+deb12u6
"""


@pytest.mark.parametrize(
    ("env", "status", "expected"),
    [
        (["PATH=/usr/bin", "PYTHON_VERSION=3.11.14"], None, "3.11.14"),  # the official images
        (["PATH=/usr/bin"], DPKG, "3.11.2"),  # Debian's package
        (["PYTHON_VERSION=3.12.1"], DPKG, "3.11.2"),  # another Python's: not this one
        ([], b"Package: python3.13-minimal\nVersion: 3.13.5-2\n", ""),
        ([], None, ""),
    ],
)
def test_the_parents_python_is_known_to_the_patch_level_where_it_says(env, status, expected):
    assert parents.full_version("3.11", env, status) == expected


def test_commands_move_to_the_venvs_bin_and_their_record_says_so(tmp_path):
    """The RECORD of a moved command names its new path, hash and size: nothing of the folder
    uv ran from stays (the layer is the same from any folder)."""
    target = tmp_path / "site-packages"
    (target / "bin").mkdir(parents=True)
    (target / "bin" / "tool").write_text("#!/some/folder/.venv/bin/python\nimport tool\n")
    (target / "tool-1.0.dist-info").mkdir()
    (target / "tool-1.0.dist-info" / "RECORD").write_text(
        "bin/tool,sha256=old,33\ntool/__init__.py,sha256=x,0\n"
    )
    move_commands(target, tmp_path / "bin", VENV_PYTHON)
    content = (tmp_path / "bin" / "tool").read_bytes()
    assert content == b"#!/opt/venv/bin/python\nimport tool\n"
    digest = base64.urlsafe_b64encode(hashlib.sha256(content).digest()).rstrip(b"=").decode()
    assert (target / "tool-1.0.dist-info" / "RECORD").read_text().splitlines() == [
        f"../../../bin/tool,sha256={digest},{len(content)}",
        "tool/__init__.py,sha256=x,0",
    ]
