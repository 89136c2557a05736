"""A user's clone holds only the repository: the demo runs from a fresh copy of it, beside nothing, with the
set-up environment and loopback as the only network (so nothing can be downloaded and ../shared is not there)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO_ROOT
from tests.local_mode.test_demo import SUMMARY


def _copy_of_the_repository(destination: Path) -> Path:
    """The files a clone of the working tree would have: tracked ones and new ones git does not ignore."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO_ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        source = REPO_ROOT / name
        if source.exists() or source.is_symlink():
            target = destination / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target, follow_symlinks=False)
    return destination


# Not marked slow: the one whole demo in the default run (CI), as a user's first command runs it.
def test_demo_runs_from_a_fresh_clone_with_only_loopback(tmp_path):
    clone = _copy_of_the_repository(tmp_path / "clone" / "scoreline")
    (clone / ".venv").symlink_to(REPO_ROOT / ".venv")  # what `make setup` made
    demo = [sys.executable, "-m", "local_mode", "demo", "--home", str(tmp_path / "demo")]
    # A new network namespace has only a loopback interface, down until brought up.
    command = ["unshare", "--net", "sh", "-c", 'ip link set lo up && exec "$@"', "offline-demo", *demo]
    env = {key: value for key, value in os.environ.items() if not key.startswith(("AWS_", "SCIKIT_LEARN"))}
    env.update(HOME=str(tmp_path / "home"), PYTHONWARNINGS="ignore")
    process = subprocess.run(command, cwd=clone, env=env, capture_output=True, text=True, timeout=600)
    assert process.returncode == 0, process.stderr[-3000:]
    last_line = process.stdout.strip().splitlines()[-1]
    assert SUMMARY.match(last_line), last_line
    assert float(SUMMARY.match(last_line).group(3)) <= 0.6
