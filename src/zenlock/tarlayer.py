"""A folder written as an image layer that is the same bytes on any machine: entries sorted,
every time fixed (SOURCE_DATE_EPOCH style), owners numeric (root, or as named), modes
normalised, no hard links, no pax headers; gzip with no name and time 0.

The tar is hashed as it is written (the config's diff_id) and, when compressed, the gzip
stream too (the blob's digest): one pass over the files.
"""

import gzip
import hashlib
import os
import stat
import tarfile
from dataclasses import dataclass
from pathlib import Path

TAR = "application/vnd.oci.image.layer.v1.tar"
TAR_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
CHUNK = 1 << 20


@dataclass(frozen=True)
class Layer:
    path: Path | None  # the blob: the tar, or its gzip; None: held elsewhere (registry, engine)
    media_type: str
    digest: str  # sha256:… of the blob
    size: int  # of the blob
    diff_id: str  # sha256:… of the tar

    def descriptor(self) -> dict:
        return {"mediaType": self.media_type, "digest": self.digest, "size": self.size}


class HashingWriter:
    """A write-only file that hashes and counts what passes to `sink` (None: nowhere)."""

    def __init__(self, sink) -> None:
        self.sink = sink
        self.hash = hashlib.sha256()
        self.size = 0

    def write(self, data) -> int:
        self.hash.update(data)
        self.size += len(data)
        if self.sink is not None:
            self.sink.write(data)
        return len(data)

    def flush(self) -> None:
        pass

    @property
    def digest(self) -> str:
        return f"sha256:{self.hash.hexdigest()}"


def entries(folder: Path) -> list[Path]:
    """Every path under `folder`, sorted by its name in the layer (byte order)."""
    found = [Path(directory, name) for directory, dirs, files in os.walk(folder)
             for name in (*dirs, *files)]  # fmt: skip
    return sorted(found, key=lambda path: path.relative_to(folder).as_posix().encode())


Owners = dict[str, tuple[int, int]]


def tar_info(path: Path, name: str, epoch: int, owners: Owners) -> tarfile.TarInfo:
    found = path.lstat()
    info = tarfile.TarInfo(name)
    info.mtime = epoch
    info.uid, info.gid = owners.get(name, (0, 0))
    info.uname = info.gname = ""
    if stat.S_ISLNK(found.st_mode):
        info.type, info.linkname, info.mode = tarfile.SYMTYPE, os.readlink(path), 0o777
    elif stat.S_ISDIR(found.st_mode):
        # Sticky or group/other-writable folders (/app, 1777) keep their mode; others 0755.
        special = stat.S_IMODE(found.st_mode) & (stat.S_ISVTX | 0o022)
        info.type, info.mode = tarfile.DIRTYPE, 0o755 | special
    elif stat.S_ISREG(found.st_mode):
        executable = found.st_mode & 0o111
        info.type, info.size = tarfile.REGTYPE, found.st_size
        info.mode = 0o755 if executable else 0o644
    else:
        raise ValueError(f"{path}: neither a file, a folder nor a link")
    return info


def write_layer(
    folder: Path,
    blob: Path,
    *,
    compress: bool = True,
    epoch: int = 0,
    owners: dict[str, tuple[int, int]] | None = None,
    level: int = 6,
) -> Layer:
    """`folder`'s contents as a layer at `blob`: gzip-compressed (for a registry) or a plain
    tar (for a local engine, which stores layers uncompressed). `owners` maps a path in the
    layer (e.g. "home/zenml") to its uid and gid; everything else is root's."""
    owners = owners or {}
    with blob.open("wb") as out:
        blob_hash = HashingWriter(out)
        compressed = (
            gzip.GzipFile(filename="", mode="wb", fileobj=blob_hash, compresslevel=level, mtime=0)
            if compress
            else None
        )
        tar_hash = HashingWriter(compressed if compress else blob_hash)
        with tarfile.open(fileobj=tar_hash, mode="w|", format=tarfile.GNU_FORMAT,
                          bufsize=CHUNK, copybufsize=CHUNK) as tar:  # fmt: skip
            for path in entries(folder):
                name = path.relative_to(folder).as_posix()
                info = tar_info(path, name, epoch, owners)
                if info.isreg():
                    with path.open("rb") as content:
                        tar.addfile(info, content)
                else:
                    tar.addfile(info)
        if compressed is not None:
            compressed.close()
    return Layer(
        blob,
        TAR_GZIP if compress else TAR,
        blob_hash.digest,
        blob_hash.size,
        tar_hash.digest,
    )
