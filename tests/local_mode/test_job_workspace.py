"""A job's script as local mode runs it (local_mode/sagemaker/jobs.py Workspace): its environment is a container's,
the job role's credentials and the job's variables, none of this machine's settings, and MaxRuntimeInSeconds stops
it."""

from __future__ import annotations

import json
import sys
import time

from local_mode.sagemaker.workspace import Workspace

PRINT_AWS_VARIABLES = "import json, os; print(json.dumps({k: v for k, v in os.environ.items() if k[:4] == 'AWS_'}))"


def test_the_script_sees_the_role_credentials_and_none_of_the_machines_aws_settings(tmp_path, monkeypatch):
    monkeypatch.setenv("AWS_PROFILE", "someone-elses")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "machine-key")
    workspace = Workspace(tmp_path / "job", tmp_path / "job.log", {"AWS_ACCESS_KEY_ID": "role-key"})

    exit_code = workspace.run([sys.executable, "-c", PRINT_AWS_VARIABLES], {"AWS_REGION": "eu-west-1"}, timeout=60)

    assert exit_code == 0
    assert json.loads(workspace.last_log_line()) == {"AWS_ACCESS_KEY_ID": "role-key", "AWS_REGION": "eu-west-1"}


def test_the_script_sees_none_of_the_variables_set_on_this_machine(tmp_path, monkeypatch):
    # The XGBoost handler sets OMP_WAIT_POLICY when Batch Transform loads it into the local cloud's process; a job
    # in its own container never sees it (it made the next sklearn training job 3 times slower).
    monkeypatch.setenv("OMP_WAIT_POLICY", "PASSIVE")
    monkeypatch.setenv("PYTHONPATH", "/somewhere/else")
    workspace = Workspace(tmp_path / "job", tmp_path / "job.log")
    show = "import json, os; print(json.dumps([os.environ.get(name) for name in ('OMP_WAIT_POLICY', 'PYTHONPATH')]"
    show += " + [os.path.expanduser('~')]))"

    exit_code = workspace.run([sys.executable, "-c", show], {"SM_MODEL_DIR": "/opt/ml/model"}, timeout=60)

    assert exit_code == 0
    # A home of its own, too: caches the script writes under ~ stay in the job's folder.
    assert json.loads(workspace.last_log_line()) == [None, None, str(workspace.root)]


def test_a_script_past_its_time_limit_is_stopped(tmp_path):
    workspace = Workspace(tmp_path / "job", tmp_path / "job.log")
    started = time.monotonic()

    exit_code = workspace.run([sys.executable, "-c", "import time; time.sleep(60)"], {}, timeout=1)

    assert exit_code is None
    assert time.monotonic() - started < 30
