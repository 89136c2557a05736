"""Quality figures with their spread: mean ± sd over split seeds, with the seeds and rows behind each."""

from __future__ import annotations

import pytest

from benchmarks import spread


def test_summary_is_the_mean_and_the_sample_standard_deviation():
    figures = spread.summary([0.44, 0.45, 0.43, 0.46, 0.42])
    assert (figures["mean"], figures["sd"]) == (0.44, pytest.approx(0.0158, abs=1e-4))
    assert spread.summary([0.5])["sd"] == 0.0


def test_table_says_how_many_seeds_and_rows_stand_behind_each_figure():
    entry = {"metric": "rmse", "rows": 20640, "test_rows": 3096, "seeds": [1, 2, 3, 4, 5]}
    entry |= {"sklearn": spread.summary([0.44, 0.45]), "sklearn_train_seconds": spread.summary([5.0, 6.0])}
    entry |= {"linear": spread.summary([0.73, 0.72])}
    rows = spread.table_rows({"california": entry})
    assert rows == [
        ("california test rmse sklearn (5 seeds, 3,096 test rows of 20,640)", "0.4450 ± 0.0071", "trained in 5.5 s"),
        ("california test rmse linear (5 seeds, 3,096 test rows of 20,640)", "0.7250 ± 0.0071", "baseline"),
    ]


@pytest.mark.slow
def test_each_seed_is_another_split_and_the_baselines_share_its_rows(tmp_path):
    results = spread.measure(tmp_path, ["sklearn"], seeds=(1, 2), hyperparameters={"sklearn": {"max-iter": "20"}})
    for name, (metric, baselines) in spread.DATA_SETS.items():
        entry = results[name]
        assert entry["metric"] == metric and entry["seeds"] == [1, 2]
        for key in ("sklearn", *baselines):
            assert len(entry[key]["values"]) == 2
        # Another split, other test rows: the baselines' figures move with the seed.
        assert entry[baselines[1]]["values"][0] != entry[baselines[1]]["values"][1]
