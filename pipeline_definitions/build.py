"""Build the pipeline definition and image table once per change, cache them on disk.

Importing the SageMaker SDK costs seconds. A synth with nothing changed reads the cached JSON instead; a synth
after a change builds it in a second process while CDK constructs the stacks. The cache key covers everything the
output depends on: the code (this package's source, the instance-storage rule, the SDK and botocore versions:
botocore's service model lists the instance types the definition checks) and the spec. When nothing is cached for
this code, `prestart_builder` starts that process before CDK is even imported, so the SDK's imports run beside
CDK's; the spec follows on its stdin once the settings are read (`start_building`).
"""

from __future__ import annotations

import atexit
import dataclasses
import functools
import hashlib
import json
import os
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

from pipeline_definitions.spec import PipelineSpec

PACKAGE_DIR = Path(__file__).resolve().parent
CACHE_DIR = Path(os.environ.get("SCORELINE_DEFINITION_CACHE", PACKAGE_DIR.parent / ".scoreline" / "definition-cache"))
_builders: dict[Path, subprocess.Popen] = {}
_prestarted: dict[Path, subprocess.Popen] = {}  # cache folder -> a builder waiting for its spec


@functools.cache  # the code does not change while a synth runs; reading it costs ~10 ms each time
def _code_digest() -> str:
    digest = hashlib.sha256(version("sagemaker").encode() + version("botocore").encode())
    for source in [*sorted(PACKAGE_DIR.glob("*.py")), PACKAGE_DIR.parent / "stacks" / "instance_types.py"]:
        digest.update(source.name.encode() + source.read_bytes())
    return digest.hexdigest()[:16]


def _cache_file(spec: PipelineSpec, cache_dir: Path) -> Path:
    spec_digest = hashlib.sha256(json.dumps(dataclasses.asdict(spec), sort_keys=True).encode()).hexdigest()[:16]
    return cache_dir / f"{_code_digest()}-{spec_digest}.json"


def build_artifacts(spec: PipelineSpec) -> dict:
    """Return {"definition": <JSON str>, "images": {region: {...}}} without touching the cache."""
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


def _builder(cache_dir: Path) -> subprocess.Popen:
    """A process that imports the SDK at once, then builds the spec it reads on stdin (nothing if stdin closes empty).

    Its errors are not shown: on failure nothing is cached and `pipeline_artifacts` builds in-process, where the
    same error reaches the user."""
    return subprocess.Popen(
        [sys.executable, "-m", "pipeline_definitions.build", str(cache_dir)],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=PACKAGE_DIR.parent,
        text=True,
    )


def prestart_builder(cache_dir: Path = CACHE_DIR) -> None:
    """When no definition is cached for this code (it changed, or the SDK did), start the builder now, spec to come.

    With some definition of this code cached, the coming synth most likely hits it: start nothing."""
    if cache_dir in _prestarted or any(cache_dir.glob(f"{_code_digest()}-*.json")):
        return
    _prestarted[cache_dir] = _builder(cache_dir)
    atexit.register(_release_unused_builders)


def _release_unused_builders() -> None:
    """A prestarted builder that never got its spec (synth stopped early) has written nothing: stop it."""
    for builder in _prestarted.values():
        builder.kill()
        builder.wait()
        builder.stdin.close()
    _prestarted.clear()


def start_building(spec: PipelineSpec, cache_dir: Path = CACHE_DIR) -> None:
    """On a cache miss, have `spec` built in another process (the prestarted one if any); `pipeline_artifacts`
    collects it."""
    cached = _cache_file(spec, cache_dir)
    if cached.exists() or cached in _builders:
        return
    builder = _prestarted.pop(cache_dir, None) or _builder(cache_dir)
    try:
        builder.stdin.write(json.dumps(dataclasses.asdict(spec)))
        builder.stdin.close()
    except BrokenPipeError:  # it failed before reading (e.g. importing the SDK): built in-process, error shown there
        pass
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
    # The background builder: cache folder as argument, spec JSON on stdin. The SDK's imports take most of its time
    # and need no spec: done first, while the spec is still being worked out.
    from pipeline_definitions import images, training_pipeline  # noqa: F401

    spec_json = sys.stdin.read()
    if spec_json:
        spec = _spec_from_json(spec_json)
        _write_atomically(_cache_file(spec, Path(sys.argv[1])), build_artifacts(spec))
