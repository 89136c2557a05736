"""Shipped code (container scripts and handlers, function handlers) as its own runtime would run it: the variables a
runtime starts with, and loading a handler into this process."""

from __future__ import annotations

import importlib.util
import os
import sys
import threading
from pathlib import Path

# sys.modules and sys.path are the process's: a transform job and an endpoint loading the same code at once (an
# approval starts both) would pop each other's neighbours mid-import (seen: KeyError 'preprocess').
_LOADING = threading.RLock()


def runtime_environment() -> dict[str, str]:
    """The variables a container or Lambda runtime starts with, before the job's or function's own: its image's
    fixed ones and none of this machine's, except PATH (where this machine's tools are; read, not changed).

    A SageMaker job or Lambda function runs in its own container, so nothing the caller or this process has set
    reaches it: say OMP_WAIT_POLICY, which the XGBoost handler sets when Batch Transform loads it here, and which
    made a later training job 3 times slower when it leaked into it."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LANG": "C.UTF-8",
        "TZ": "UTC",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONNOUSERSITE": "1",
    }


def load_module(path: Path, module_name: str):
    """Import `path` under a unique name with its folder importable, as the container or Lambda runtime does.

    Its neighbours (say `preprocess.py`, `model_io.py`) are imported fresh for it and then forgotten by name, so
    another version's code loaded later in the same process gets its own neighbours, and modules of the same
    name already loaded here are left as they were."""
    with _LOADING:
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
