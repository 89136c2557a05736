"""Loading shipped code (container handlers, function handlers) into this process as its own runtime would."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path


def load_module(path: Path, module_name: str):
    """Import `path` under a unique name with its folder importable, as the container or Lambda runtime does.

    Its neighbours (say `preprocess.py`, `model_io.py`) are imported fresh for it and then forgotten by name, so
    another version's code loaded later in the same process gets its own neighbours, and modules of the same
    name already loaded here are left as they were."""
    folder = path.parent
    neighbours = {neighbour.stem for neighbour in folder.glob("*.py")}
    saved = {name: sys.modules.pop(name) for name in neighbours if name in sys.modules}
    spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module  # dataclasses and pickling look modules up by name
    sys.path.insert(0, str(folder))
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(folder))
        for name in neighbours:
            sys.modules.pop(name, None)
        sys.modules.update(saved)
    return module
