"""Compile sources to hash-based bytecode at given places, named by their paths in an image:
run by this machine's interpreter of the image's Python version for an assembled image.

    python -I -S compile.py < [[SOURCE, PYC, PATH_IN_IMAGE], ...]

A source that does not compile (test data, Python 2 templates in some packages) stays source,
as an install without --compile leaves it. Prints how many were compiled.
"""

import json
import py_compile
import sys


def main() -> None:
    done = 0
    for source, target, name in json.loads(sys.stdin.read()):
        try:
            py_compile.compile(
                source,
                cfile=target,
                dfile=name,
                doraise=True,
                invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH,
            )
            done += 1
        except py_compile.PyCompileError:
            pass
    print(done)


if __name__ == "__main__":
    main()
