"""The package's modules stay small enough to read in one sitting: none over 400 lines."""

from conftest import REPO

LIMIT = 400


def test_no_module_of_the_package_is_over_400_lines():
    package = REPO / "src" / "zenlock"
    sizes = {
        str(path.relative_to(package)): len(path.read_text().splitlines())
        for path in package.rglob("*.py")
    }
    over = {name: lines for name, lines in sizes.items() if lines > LIMIT}
    assert over == {}, f"split these by concern (at most {LIMIT} lines each): {over}"
