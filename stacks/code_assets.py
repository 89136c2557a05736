"""Container code shipped as file assets whose bytes never change unless the code does.

SageMaker's framework containers read a sourcedir tar.gz; CDK directory assets are zips, so each folder is
packed here: sorted entries, fixed mtime/owner/mode, no caches. Same code -> same hash -> no redeploy.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from aws_cdk import aws_s3_assets as s3_assets
from constructs import Construct

from scoreline.tarballs import deterministic_tarball


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
