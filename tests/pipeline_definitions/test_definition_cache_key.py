"""The definition cache is keyed on everything that shapes a definition: the spec, the SDK's and botocore's
versions, the builders' code and every scoreline module the build loads (a search range in scoreline/tuning.py
changes the Tune step as much as the builders' own code does)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from pipeline_definitions.build import PACKAGE_DIR, _scoreline_modules_imported

LOADED = """
import json, sys
from pipeline_definitions.build import build_artifacts
from pipeline_definitions.__main__ import DEFAULT_SPEC
from scoreline.pipeline_spec import PipelineSpec
build_artifacts(PipelineSpec(**{**DEFAULT_SPEC.__dict__, "tuning_max_jobs": 2}))
print(json.dumps(sorted(m.__file__ for n, m in sys.modules.items() if n.startswith("scoreline.") and m.__file__)))
"""


def test_every_scoreline_module_a_build_loads_is_in_the_cache_key():
    build = subprocess.run(
        [sys.executable, "-c", LOADED], capture_output=True, text=True, cwd=PACKAGE_DIR.parent, check=True
    )
    loaded = {Path(path).resolve() for path in json.loads(build.stdout.strip().splitlines()[-1])}
    keyed = {path.resolve() for path in _scoreline_modules_imported()}
    assert loaded <= keyed, loaded - keyed
    assert PACKAGE_DIR.parent / "scoreline" / "tuning.py" in keyed
