"""Write src/zenlock/data/vendored.json: the sha256 of every version of the engine files that
projects carried before zenlock was a package (envtools/, the package's containers.py), read
from this repository's history. zenlock tells a moved project's own edits from them."""

import hashlib
import json
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Their last commit as vendored files: the history ends there.
LAST_VENDORED = "6250b9a"
PATHS = ("template/envtools", "template/src/{{package_name}}/containers.py")


def git(*args: str) -> str:
    return subprocess.run(["git", *args], cwd=ROOT, check=True, capture_output=True).stdout.decode()


def main() -> None:
    hashes = set()
    for commit in git("log", "--format=%H", LAST_VENDORED, "--", *PATHS).split():
        for line in git("ls-tree", "-r", commit, "--", *PATHS).splitlines():
            blob = line.split()[2]
            content = subprocess.run(
                ["git", "cat-file", "blob", blob], cwd=ROOT, check=True, capture_output=True
            ).stdout
            hashes.add(hashlib.sha256(content).hexdigest())
    target = ROOT / "src" / "zenlock" / "data" / "vendored.json"
    target.write_text(json.dumps(sorted(hashes), indent=0) + "\n")
    print(f"{len(hashes)} file versions -> {target.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
