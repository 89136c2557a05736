"""Container code shipped as file assets whose bytes never change unless the code does.

SageMaker's framework containers read a sourcedir tar.gz; CDK directory assets are zips, so each folder is
packed here: sorted entries, fixed mtime/owner/mode, no caches. Same code -> same hash -> no redeploy.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import tarfile
from pathlib import Path

from aws_cdk import aws_s3_assets as s3_assets
from constructs import Construct

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


def _write_once(path: Path, data: bytes) -> Path:
    if not path.exists() or path.read_bytes() != data:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return path


class CodeAssets:
    """Packs container code folders into `build_dir` and publishes them as S3 file assets."""

    def __init__(self, scope: Construct, container_code_dir: Path, build_dir: Path):
        self._scope = scope
        self._code_dir = container_code_dir
        self._build_dir = build_dir

    def folder(self, construct_id: str, folder: str) -> s3_assets.Asset:
        data = deterministic_tarball(self._code_dir / folder)
        digest = hashlib.sha256(data).hexdigest()[:16]
        tarball = _write_once(self._build_dir / f"{folder}-{digest}.tar.gz", data)
        return s3_assets.Asset(self._scope, construct_id, path=str(tarball))

    def script(self, construct_id: str, relative_path: str) -> s3_assets.Asset:
        return s3_assets.Asset(self._scope, construct_id, path=str(self._code_dir / relative_path))
