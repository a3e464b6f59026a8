"""The package zenlock as the release workflow builds it: sdist and wheel pass twine's check,
the wheel holds the engine and its data and nothing of the template, and it runs installed."""

import sys
import tomllib
import zipfile

import yaml
from conftest import REPO, run


def test_the_package_builds_passes_twine_and_runs_from_its_wheel(tmp_path):
    dist = tmp_path / "dist"
    run("uv", "build", "--out-dir", dist, cwd=REPO)
    (wheel,), (sdist,) = dist.glob("*.whl"), dist.glob("*.tar.gz")
    run(sys.executable, "-m", "twine", "check", "--strict", wheel, sdist, cwd=REPO)

    names = zipfile.ZipFile(wheel).namelist()
    shipped = {"__main__.py", "data/vendored.json", "inside/probe.py", "inside/install-layer.sh"}
    assert {f"zenlock/{name}" for name in shipped} <= set(names)
    assert not [name for name in names if name.startswith(("template/", "tests/", "docs/"))]

    version = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
    answers = yaml.safe_load((REPO / "copier.yml").read_text().split("\n---\n")[-1])
    assert answers["zenlock_version"]["default"] == version  # what a render pins
    venv = tmp_path / "venv"
    run("uv", "venv", "-q", venv, cwd=tmp_path)
    run("uv", "pip", "install", "-q", "--python", venv / "bin" / "python", wheel, cwd=tmp_path)
    assert run(venv / "bin" / "zenlock", "--version", cwd=tmp_path).stdout == f"zenlock {version}\n"
    # Outside a project it says where to run it, and changes nothing.
    refused = run(venv / "bin" / "zenlock", "images", cwd=tmp_path, check=False)
    assert refused.returncode == 1 and "[tool.zenlock]" in refused.stderr
    assert sorted(path.name for path in tmp_path.iterdir()) == ["dist", "venv"]
