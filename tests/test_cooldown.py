"""The release cooldown of a generated project's lock (pyproject.toml's `exclude-newer`): a
release younger than the cooldown is skipped, on a real package index (a local one, serving
PEP 691 JSON with upload times), and a package exempted on purpose takes it at once. ZenML
itself, exempt, is upgraded the day it is out: test_database's upgrade takes its new release
from an index that says it was published an hour ago."""

import base64
import hashlib
import io
import zipfile
from datetime import UTC, datetime, timedelta

import pytest
from conftest import nox, package_index, render_project, use_index

pytestmark = [pytest.mark.slow]

PROBE = "zenlock-probe"


def wheel(version: str) -> bytes:
    """A pure-Python wheel of PROBE at `version`, its RECORD hashes right."""
    files = {
        "zenlock_probe/__init__.py": f'VERSION = "{version}"\n',
        f"zenlock_probe-{version}.dist-info/METADATA": (
            f"Metadata-Version: 2.1\nName: {PROBE}\nVersion: {version}\n"
        ),
        f"zenlock_probe-{version}.dist-info/WHEEL": (
            "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        ),
    }

    def line(name: str, data: str) -> str:
        digest = base64.urlsafe_b64encode(hashlib.sha256(data.encode()).digest()).rstrip(b"=")
        return f"{name},sha256={digest.decode()},{len(data.encode())}\n"

    record = f"zenlock_probe-{version}.dist-info/RECORD"
    files[record] = "".join(line(n, d) for n, d in files.items()) + f"{record},,\n"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


@pytest.fixture
def index():
    """A package index with PROBE 1.0.0 (a month old) and 2.0.0 (an hour old)."""
    now = datetime.now(UTC)
    releases = {"1.0.0": now - timedelta(days=30), "2.0.0": now - timedelta(hours=1)}
    files = {f"zenlock_probe-{v}-py3-none-any.whl": wheel(v) for v in releases}
    entries = [
        {
            "filename": name,
            "url": f"/files/{name}",
            "hashes": {"sha256": hashlib.sha256(data).hexdigest()},
            "upload-time": releases[name.split("-")[1]].strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        }
        for name, data in files.items()
    ]
    with package_index({PROBE: entries}, files) as url:
        yield url


def locked_probe(lock: str) -> str:
    entry = lock.split(f'[[package]]\nname = "{PROBE}"\n', 1)[1]
    return entry.split('version = "', 1)[1].split('"', 1)[0]


def test_the_lock_skips_a_release_younger_than_the_cooldown_unless_exempted(tmp_path, index):
    project = render_project(tmp_path / "project")
    pyproject = project / "pyproject.toml"
    text = pyproject.read_text()
    assert 'exclude-newer = "7 days"' in text  # the rendered default
    pyproject.write_text(text.replace("dependencies = [", f'dependencies = [\n    "{PROBE}",', 1))
    use_index(pyproject, PROBE, index)
    text = pyproject.read_text()

    nox("-s", "lock", cwd=project)
    lock = (project / "uv.lock").read_text()
    assert locked_probe(lock) == "1.0.0", "the hour-old 2.0.0 was locked"
    assert 'exclude-newer-span = "P7D"' in lock

    # Exempted on purpose, as pyproject.toml's comment says: its newest release at once.
    pyproject.write_text(text.replace("zenlock = false }", f"zenlock = false, {PROBE} = false }}"))
    nox("-s", "lock", "--", "--upgrade-package", PROBE, cwd=project)
    assert locked_probe((project / "uv.lock").read_text()) == "2.0.0"
