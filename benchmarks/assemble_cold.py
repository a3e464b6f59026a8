"""Time one assembled pipeline image, from a hash-pinned requirements file to an image in the
local engine (or a registry): what `nox -s images` would do with the assembling builder.

    python assemble_cold.py REQUIREMENTS PARENT TAG [--cold] [--no-bytecode] [--push REF]
                            [--platform linux/arm64]

--cold: uv's cache is a new empty folder (downloads everything), and TAG is removed from the
engine first so that its layers are stored anew. Prints each phase's seconds as JSON.
"""

import argparse
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

from zenlock import engine, enginelayers, ociimage, ociregistry
from zenlock.assemble import Recipe, Share, build_layers

# What a step imports (images.py's STEP_MODULES) and the small set's own package.
MODULES = [
    "zenml.client",
    "zenml.entrypoints.entrypoint",
    "zenml.entrypoints.step_entrypoint_configuration",
    "zenml.orchestrators.step_launcher",
    "zenml.orchestrators.step_runner",
    "sklearn",
]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("requirements", type=Path)
    parser.add_argument("parent")
    parser.add_argument("tag")
    parser.add_argument("--cold", action="store_true")
    parser.add_argument("--no-bytecode", action="store_true")
    parser.add_argument("--push", help="push to this reference instead of loading")
    parser.add_argument("--platform", default="linux/amd64")
    parser.add_argument("--modules", nargs="*", default=MODULES, help="compile what these import")
    args = parser.parse_args()
    client = engine.connect()
    if args.cold and client.image(args.tag):
        client.images.remove(args.tag)
    with tempfile.TemporaryDirectory(prefix="assemble-bench-") as folder:
        work = Path(folder) / "work"
        work.mkdir()
        if args.cold:
            os.environ["UV_CACHE_DIR"] = str(Path(folder) / "uv-cache")
        times = {}
        start = time.perf_counter()
        parent = enginelayers.parent_in_engine(client, args.parent)
        passwd = enginelayers.parent_file(client, args.parent, "/etc/passwd")
        group = enginelayers.parent_file(client, args.parent, "/etc/group")
        times["parent"] = time.perf_counter() - start
        share = Share(args.requirements.resolve(), tuple(args.modules))
        recipe = Recipe([share], platform=args.platform, bytecode=not args.no_bytecode)
        layers = build_layers(recipe, work, passwd=passwd, group=group, compress=bool(args.push))
        times["layers"] = time.perf_counter() - start - times["parent"]
        image = ociimage.assemble(parent, layers, recipe.settings)
        mark = time.perf_counter()
        if args.push:
            saved = Path(folder) / "parent"
            saved.mkdir()

            def provide(missing):
                found = enginelayers.saved_layers(client, args.parent, saved)
                return {layer.digest: layer.path for layer in found}

            pushed = ociregistry.push(image, args.push, provide)
            times["push"] = time.perf_counter() - mark
            times["uploaded"] = len(pushed.uploaded)
        else:
            enginelayers.load(client, image, args.tag)
            times["load"] = time.perf_counter() - mark
        times["total"] = time.perf_counter() - start
        times["layer_mb"] = sum(layer.size for layer in layers) / 1e6
        shutil.rmtree(work)
    print(json.dumps({key: round(value, 2) for key, value in times.items()}))


if __name__ == "__main__":
    main()
