"""`python -m demo demo --realtime`: the whole flow with the serving stack, ending with row 1's real-time
prediction (a signed request through the local predictions API) next to its batch prediction: the same text."""

from __future__ import annotations

import pytest

from demo.flow import run_demo


@pytest.mark.slow  # a whole demo (60-570 s under load); test_endpoints.py covers the signed request and comparison
def test_the_demo_ends_with_the_same_real_time_and_batch_prediction(tmp_path):
    said = []

    result = run_demo(home=tmp_path, say=said.append, realtime=True)

    compared = result.realtime
    assert (compared["realtime"], compared["match"]) == (compared["batch"], "identical")  # sklearn: no float32 path
    assert float(compared["realtime"]) > 0 and compared["url"].endswith("/v1/predictions")
    line = f"  row 1 ({compared['row']}): real-time {compared['realtime']}, batch {compared['batch']} (identical)"
    assert line in said
    assert "real-time prediction" in result.stages
