"""Local-mode commands answer a mistake with one sentence, not a traceback."""

import socket

from local_mode.__main__ import main


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_fire_schedule_without_a_running_cloud_says_how_to_start_one(capsys):
    port = _free_port()
    assert main(["fire-schedule", "scoreline-scoring", "--port", str(port)]) == 1
    error = capsys.readouterr().err
    assert error.startswith(f"local mode: no local cloud answers on port {port} (")
    assert error.rstrip().endswith("start one with `make serve`")
    assert "Traceback" not in error
