"""The definition builder that app.py starts before importing CDK (pipeline_definitions/build.py)."""

from __future__ import annotations

import json
from pathlib import Path

from pipeline_definitions import build
from pipeline_definitions.__main__ import DEFAULT_SPEC

SNAPSHOT = Path(__file__).parent / "snapshots" / "sklearn.json"


def test_a_prestarted_builder_writes_the_same_definition_as_an_in_process_build(tmp_path):
    build.prestart_builder(tmp_path)
    builder = build._prestarted[tmp_path]
    build.start_building(DEFAULT_SPEC, tmp_path)  # the spec arrives after the builder has started
    assert builder.wait(timeout=300) == 0
    cached = json.loads(build._cache_file(DEFAULT_SPEC, tmp_path).read_text())
    # The snapshot is what an in-process build gives (test_pipeline_graph.py): same definition, byte for byte.
    assert json.dumps(json.loads(cached["definition"]), indent=2, sort_keys=True) + "\n" == SNAPSHOT.read_text()
    assert build.pipeline_artifacts(DEFAULT_SPEC, tmp_path) == cached
    assert [path.name for path in tmp_path.iterdir()] == [build._cache_file(DEFAULT_SPEC, tmp_path).name]


def test_nothing_is_prestarted_when_a_definition_of_this_code_is_cached(tmp_path):
    (tmp_path / f"{build._code_digest()}-0123456789abcdef.json").write_text("{}")  # other settings, same code
    build.prestart_builder(tmp_path)
    assert tmp_path not in build._prestarted


def test_a_prestarted_builder_that_gets_no_spec_is_stopped_and_leaves_nothing(tmp_path):
    build.prestart_builder(tmp_path)
    builder = build._prestarted[tmp_path]
    build._release_unused_builders()  # what happens at exit when synth stopped before the settings were read
    assert builder.poll() is not None
    assert build._prestarted == {}
    assert list(tmp_path.iterdir()) == []
