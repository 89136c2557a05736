"""Two versions of shipped code loaded in one process each keep their own helper modules."""

import sys

from local_mode.modules import load_module


def write_version(folder, version: int):
    folder.mkdir()
    (folder / "helper.py").write_text(f"VERSION = {version}\n")
    (folder / "inference.py").write_text("from helper import VERSION\n")
    return folder / "inference.py"


def test_each_version_imports_its_own_neighbours(tmp_path):
    first = load_module(write_version(tmp_path / "v1", 1), "handlers_v1")
    second = load_module(write_version(tmp_path / "v2", 2), "handlers_v2")
    assert (first.VERSION, second.VERSION) == (1, 2)
    assert "helper" not in sys.modules


def test_two_threads_loading_at_once_each_get_their_neighbours(tmp_path):
    """An approval starts a transform job and an endpoint, which load the same handlers on two threads at once."""
    from concurrent.futures import ThreadPoolExecutor

    slow = tmp_path / "slow"
    slow.mkdir()
    (slow / "helper.py").write_text("import time\ntime.sleep(0.01)\nVERSION = 1\n")
    (slow / "inference.py").write_text("from helper import VERSION\n")
    with ThreadPoolExecutor(max_workers=2) as pool:
        loaded = list(pool.map(lambda i: load_module(slow / "inference.py", f"handlers_{i}"), range(40)))
    assert {module.VERSION for module in loaded} == {1}
