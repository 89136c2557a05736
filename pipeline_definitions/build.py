"""Build the pipeline definition and image table once per change, cache them on disk.

Importing the SageMaker SDK costs seconds. A synth with nothing changed reads the cached JSON instead; a synth
after a change builds it in a second process (`start_building`) while CDK constructs the stacks. The cache key
covers everything the output depends on: the spec, this package's source, the instance-storage rule, the SDK and
botocore versions (botocore's service model lists the instance types the definition checks).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

from scoreline.pipeline_spec import PipelineSpec

PACKAGE_DIR = Path(__file__).resolve().parent
CACHE_DIR = Path(os.environ.get("SCORELINE_DEFINITION_CACHE", PACKAGE_DIR.parent / ".scoreline" / "definition-cache"))
_builders: dict[Path, subprocess.Popen] = {}


def _cache_file(spec: PipelineSpec, cache_dir: Path) -> Path:
    digest = hashlib.sha256(json.dumps(dataclasses.asdict(spec), sort_keys=True).encode())
    digest.update(version("sagemaker").encode() + version("botocore").encode())
    for source in [*sorted(PACKAGE_DIR.glob("*.py")), *_scoreline_modules_imported()]:
        digest.update(source.name.encode() + source.read_bytes())
    return cache_dir / f"{digest.hexdigest()[:32]}.json"


def _scoreline_modules_imported() -> list[Path]:
    """The scoreline modules the builders import (a search range in tuning.py changes the definition as much as the
    builders' own code): found in their imports, so a new import cannot be left out of the cache key."""
    builders = "".join(path.read_text() for path in sorted(PACKAGE_DIR.glob("*.py")))
    names = sorted(set(re.findall(r"^\s*from scoreline\.(\w+) import", builders, flags=re.MULTILINE)))
    return [PACKAGE_DIR.parent / "scoreline" / f"{name}.py" for name in names]


def build_artifacts(spec: PipelineSpec) -> dict:
    """Return {"definition": <JSON str>, "images": {region: {...}}} without touching the cache."""
    from pipeline_definitions.sdk_setup import prepare_sdk

    prepare_sdk()  # before the SDK is imported: it creates AWS clients at import time
    from pipeline_definitions.images import images_by_region
    from pipeline_definitions.training_pipeline import build_definition

    images = images_by_region(
        spec.flavour, dict(spec.image_versions), spec.training_instance_type, spec.transform_instance_type
    )
    return {"definition": build_definition(spec), "images": images}


def _write_atomically(path: Path, artifacts: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(f".{os.getpid()}.tmp")
    temporary.write_text(json.dumps(artifacts, sort_keys=True))
    temporary.replace(path)  # a concurrent synth never reads half a file


def start_building(spec: PipelineSpec, cache_dir: Path = CACHE_DIR) -> None:
    """On a cache miss, start building `spec` in another process; `pipeline_artifacts` collects it."""
    cached = _cache_file(spec, cache_dir)
    if cached.exists() or cached in _builders:
        return
    builder = subprocess.Popen(
        [sys.executable, "-m", "pipeline_definitions.build", str(cache_dir)],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=PACKAGE_DIR.parent,
        text=True,
    )
    builder.stdin.write(json.dumps(dataclasses.asdict(spec)))
    builder.stdin.close()
    _builders[cached] = builder


def pipeline_artifacts(spec: PipelineSpec, cache_dir: Path = CACHE_DIR) -> dict:
    """The artifacts for `spec`, from the cache when this exact input was built before."""
    cached = _cache_file(spec, cache_dir)
    builder = _builders.pop(cached, None)
    if builder is not None:
        builder.wait()
    if cached.exists():
        return json.loads(cached.read_text())
    artifacts = build_artifacts(spec)  # in-process: a failure shows its real error here
    _write_atomically(cached, artifacts)
    return artifacts


def _spec_from_json(text: str) -> PipelineSpec:
    values = json.loads(text)
    tuples = {
        key: tuple(tuple(item) if isinstance(item, list) else item for item in value)
        for key, value in values.items()
        if isinstance(value, list)
    }
    return PipelineSpec(**{**values, **tuples})


if __name__ == "__main__":
    # The background builder: spec JSON on stdin, cache folder as argument.
    spec = _spec_from_json(sys.stdin.read())
    _write_atomically(_cache_file(spec, Path(sys.argv[1])), build_artifacts(spec))
