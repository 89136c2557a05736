"""Folders packed as tar.gz with identical bytes for identical content: sorted entries, fixed mtime, owner and
mode, no caches, symlinked files stored as their content. No CDK import: local mode, the benchmarks and the tests
pack artifacts the same way the stacks pack code assets."""

from __future__ import annotations

import gzip
import io
import tarfile
from pathlib import Path

_SKIPPED = {"__pycache__", ".pytest_cache", ".DS_Store"}


def _files(source_dir: Path) -> list[Path]:
    return sorted(
        path
        for path in source_dir.rglob("*")
        if path.is_file() and not _SKIPPED.intersection(path.parts) and path.suffix != ".pyc"
    )


def deterministic_tarball(source_dir: Path) -> bytes:
    """tar.gz of the folder's files at the archive root, identical bytes for identical content."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for path in _files(source_dir):
            info = tarfile.TarInfo(path.relative_to(source_dir).as_posix())
            data = path.read_bytes()
            info.size, info.mtime, info.mode = len(data), 0, 0o644
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            archive.addfile(info, io.BytesIO(data))
    return gzip.compress(raw.getvalue(), compresslevel=9, mtime=0)
