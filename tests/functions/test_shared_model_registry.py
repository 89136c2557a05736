"""One model_registry.py for the scoring, serving and training-data functions: each folder links to
functions/common/model_registry.py, and each function's synthesized asset holds the module itself (a file with the
same text, not a link that would dangle in the zip Lambda gets)."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import REPO_ROOT

SHARED = REPO_ROOT / "functions" / "common" / "model_registry.py"
# Function logical id prefix -> its code folder.
FUNCTIONS = {"ScoringFunction": "scoring", "ServingFunction": "serving", "TrainingDataFunction": "training_data"}


def test_each_function_folder_links_the_one_module():
    for folder in FUNCTIONS.values():
        link = REPO_ROOT / "functions" / folder / "model_registry.py"
        assert link.is_symlink() and link.resolve() == SHARED.resolve()


def test_each_function_asset_contains_the_module(realtime_assembly):
    found = {}
    for stack in realtime_assembly.stacks:
        for logical_id, resource in stack.template["Resources"].items():
            prefix = next((p for p in FUNCTIONS if logical_id.startswith(p)), None)
            if resource["Type"] != "AWS::Lambda::Function" or prefix is None:
                continue
            asset = Path(realtime_assembly.directory) / f"asset.{resource['Properties']['Code']['S3Key'][:-4]}"
            module = asset / "model_registry.py"
            assert module.is_file() and not module.is_symlink(), f"{prefix}: {sorted(asset.iterdir())}"
            assert module.read_text() == SHARED.read_text()
            found[prefix] = (asset / "app.py").is_file()
    assert found == dict.fromkeys(FUNCTIONS, True)
