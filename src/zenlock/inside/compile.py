"""Compile sources to hash-based bytecode at given places, named by their paths in an image:
run by this machine's interpreter of the image's Python version for an assembled image.

    python -I -S compile.py < [[SOURCE, PYC, PATH_IN_IMAGE], ...]

A source that does not compile (test data, Python 2 templates in some packages) stays source,
as an install without --compile leaves it. Prints how many were compiled.
"""

import concurrent.futures
import json
import os
import py_compile
import sys


def compile_one(job: list[str]) -> bool:
    source, target, name = job
    try:
        py_compile.compile(
            source,
            cfile=target,
            dfile=name,
            doraise=True,
            invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH,
        )
    except py_compile.PyCompileError:
        return False
    return True


def main() -> None:
    jobs = json.loads(sys.stdin.read())
    workers = min(os.cpu_count() or 1, 4)
    if workers > 1 and len(jobs) > 200:  # the bytes are the same whoever compiles
        with concurrent.futures.ProcessPoolExecutor(workers) as pool:
            done = sum(pool.map(compile_one, jobs, chunksize=64))
    else:
        done = sum(map(compile_one, jobs))
    print(done)


if __name__ == "__main__":
    main()
