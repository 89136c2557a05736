"""`python -m local_mode demo --realtime`: the whole flow with the serving stack, ending with row 1's real-time
prediction (a signed request through the local predictions API) next to its batch prediction: the same text."""

from __future__ import annotations

import pytest

from local_mode.demo import run_demo


@pytest.mark.slow  # a whole demo (~60 s); tests/local_mode/test_endpoints.py covers the signed request and comparison
def test_the_demo_ends_with_the_same_real_time_and_batch_prediction(tmp_path):
    said = []

    result = run_demo(home=tmp_path, say=said.append, realtime=True)

    compared = result.realtime
    assert compared["realtime"] == compared["batch"] and float(compared["realtime"]) > 0
    assert compared["url"].endswith("/v1/predictions")
    assert (
        f"  row 1 ({compared['row']}): real-time {compared['realtime']}, batch {compared['batch']} (the same)" in said
    )
    assert "real-time prediction" in result.stages
