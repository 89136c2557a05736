"""Rewrite the definition snapshots: `make snapshot` (review the diff, e.g. after an SDK upgrade)."""

import json
from pathlib import Path

from tests.pipeline_definitions.definitions import FLAVOURS, definition

SNAPSHOTS = Path(__file__).parent / "snapshots"


def snapshot_text(flavour: str) -> str:
    return json.dumps(definition(flavour), indent=2, sort_keys=True) + "\n"


def main() -> None:
    for flavour in FLAVOURS:
        (SNAPSHOTS / f"{flavour}.json").write_text(snapshot_text(flavour))
        print(f"wrote {SNAPSHOTS / f'{flavour}.json'}")


if __name__ == "__main__":
    main()
