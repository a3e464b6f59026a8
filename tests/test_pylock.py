"""An image's PEP 751 lock file: uv's export narrowed to the image's platform and Python (fast,
in-process: the file from a real image is installed by test_images)."""

import tomllib

import pytest

from zenlock import pylock

EXPORT = """lock-version = "1.0"
created-by = "uv"
requires-python = ">=3.11"

[[packages]]
name = "numpy"
version = "2.3.0"
index = "https://pypi.org/simple"
sdist = { url = "u/numpy-2.3.0.tar.gz", hashes = { sha256 = "00" } }
wheels = [
    { url = "u/numpy-2.3.0-cp311-cp311-manylinux_2_27_x86_64.whl", hashes = { sha256 = "01" } },
    { url = "u/numpy-2.3.0-cp311-cp311-manylinux_2_39_x86_64.whl", hashes = { sha256 = "02" } },
    { url = "u/numpy-2.3.0-cp311-cp311-manylinux_2_17_aarch64.whl", hashes = { sha256 = "03" } },
    { url = "u/numpy-2.3.0-cp312-cp312-manylinux_2_27_x86_64.whl", hashes = { sha256 = "04" } },
    { url = "u/numpy-2.3.0-cp311-cp311-win_amd64.whl", hashes = { sha256 = "05" } },
    { url = "u/numpy-2.3.0-cp311-cp311-macosx_14_0_arm64.whl", hashes = { sha256 = "06" } },
]

[[packages]]
name = "six"
version = "1.17.0"
wheels = [{ url = "u/six-1.17.0-py2.py3-none-any.whl", hashes = { sha256 = "07" } }]

[[packages]]
name = "pywin32"
version = "312"
marker = "sys_platform == 'win32'"
wheels = [{ url = "u/pywin32-312-cp311-cp311-win_amd64.whl", hashes = { sha256 = "08" } }]

[[packages]]
name = "tomli"
version = "2.3.0"
marker = "python_full_version < '3.11.4'"
sdist = { url = "u/tomli-2.3.0.tar.gz", hashes = { sha256 = "09" } }

[[packages]]
name = "demo-plugins"
directory = { path = "plugins", editable = true }
"""


def wheels_of(document: dict, name: str) -> list[str]:
    (package,) = (p for p in document["packages"] if p["name"] == name)
    return [wheel["url"].rsplit("/", 1)[-1] for wheel in package.get("wheels", [])]


@pytest.mark.parametrize(
    ("platform", "python", "numpy_wheels", "packages"),
    [
        ("linux/amd64", "3.11.2", ["numpy-2.3.0-cp311-cp311-manylinux_2_27_x86_64.whl"],
         ["numpy", "six", "tomli", "demo-plugins"]),
        ("linux/arm64", "3.11.2", ["numpy-2.3.0-cp311-cp311-manylinux_2_17_aarch64.whl"],
         ["numpy", "six", "tomli", "demo-plugins"]),
        # Another Python: no wheel of numpy fits (its sdist stays); the marker drops tomli.
        ("linux/amd64", "3.13.5", [], ["numpy", "six", "demo-plugins"]),
    ],
)  # fmt: skip
def test_the_export_is_narrowed_to_the_images_platform_and_python(
    platform, python, numpy_wheels, packages
):
    text = pylock.narrowed(EXPORT, "demo:iterate-0123", platform, python)
    document = tomllib.loads(text)
    assert [package["name"] for package in document["packages"]] == packages
    assert wheels_of(document, "numpy") == numpy_wheels
    assert wheels_of(document, "six") == ["six-1.17.0-py2.py3-none-any.whl"]
    (numpy,) = (p for p in document["packages"] if p["name"] == "numpy")
    assert numpy["sdist"]["hashes"] == {"sha256": "00"}
    short = python.rsplit(".", 1)[0]
    machine = "x86_64" if platform == "linux/amd64" else "aarch64"
    assert document["environments"] == [
        f"sys_platform == 'linux' and platform_machine == '{machine}' "
        f"and python_version == '{short}'"
    ]
    assert document["lock-version"] == "1.0" and text.startswith("# The packages of image demo")
    # The plugins' folder from configs/sbom/, where the file is; built into a wheel there.
    (plugins,) = (p for p in document["packages"] if p["name"] == "demo-plugins")
    assert plugins["directory"] == {"path": "../../plugins", "editable": False}
    assert pylock.pins(text) == {
        name: version
        for name, version in {
            "numpy": "2.3.0",
            "six": "1.17.0",
            "tomli": "2.3.0",
            "demo-plugins": None,
        }.items()  # fmt: skip
        if name in packages
    }


@pytest.mark.parametrize(
    ("tag", "name"),
    [
        ("demo:iterate-0123", "pylock.demo-iterate-0123.toml"),
        ("registry.example:5000/team/demo:iterate-0123", "pylock.demo-iterate-0123.toml"),
        ("my.project-server:server-ab", "pylock.my-project-server-server-ab.toml"),
    ],
)
def test_the_file_is_named_by_the_image_as_the_spec_allows(tag, name):
    """PEP 751: pylock.<name>.toml, no dot in <name>."""
    assert pylock.file_name(tag) == name
    assert name.count(".") == 2
