"""Build the pipeline definition and image table once per change, cache them on disk.

Importing the SageMaker SDK costs seconds; a synth with nothing changed reads the cached JSON instead. The
cache key covers everything the output depends on: the spec, this package's source and the SDK version.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from importlib.metadata import version
from pathlib import Path

from pipeline_definitions.spec import PipelineSpec

PACKAGE_DIR = Path(__file__).resolve().parent
CACHE_DIR = Path(os.environ.get("SCORELINE_DEFINITION_CACHE", PACKAGE_DIR.parent / ".scoreline" / "definition-cache"))


def _cache_key(spec: PipelineSpec) -> str:
    digest = hashlib.sha256(json.dumps(dataclasses.asdict(spec), sort_keys=True).encode())
    digest.update(version("sagemaker").encode())
    for source in sorted(PACKAGE_DIR.glob("*.py")):
        digest.update(source.name.encode() + source.read_bytes())
    return digest.hexdigest()[:32]


def build_artifacts(spec: PipelineSpec) -> dict:
    """Return {"definition": <JSON str>, "images": {region: {...}}} without touching the cache."""
    from pipeline_definitions.images import images_by_region
    from pipeline_definitions.training_pipeline import build_definition

    images = images_by_region(
        spec.flavour, dict(spec.image_versions), spec.training_instance_type, spec.transform_instance_type
    )
    return {"definition": build_definition(spec), "images": images}


def pipeline_artifacts(spec: PipelineSpec, cache_dir: Path = CACHE_DIR) -> dict:
    """The artifacts for `spec`, from the cache when this exact input was built before."""
    cached = cache_dir / f"{_cache_key(spec)}.json"
    if cached.exists():
        return json.loads(cached.read_text())
    artifacts = build_artifacts(spec)
    cache_dir.mkdir(parents=True, exist_ok=True)
    temporary = cached.with_suffix(".tmp")
    temporary.write_text(json.dumps(artifacts, sort_keys=True))
    temporary.replace(cached)  # atomic: a concurrent synth never reads half a file
    return artifacts
