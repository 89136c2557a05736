"""container_code/xgboost_model/train.py on two training instances, as local mode's training cluster runs them (one
process per instance, the instances' names resolving to their own loopback addresses): XGBoost's collective joins
them, both grow the trees from all rows, the validation metric matches one instance's, and algo-1 alone writes the
model."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from local_mode.modules import load_module
from tests.container_code.helpers import CODE, METRIC, preprocess

pytest.importorskip("xgboost")

QUICK = ["--num_round", "80", "--early-stopping-rounds", "10", "--eta", "0.3", "--max-depth", "4"]


@pytest.fixture(scope="module")
def processed(tmp_path_factory):
    rng = np.random.RandomState(0)
    a, b = rng.normal(size=2000), rng.normal(size=2000)
    frame = pd.DataFrame({"a": a, "b": b, "y": 3 * a - 2 * b * b + rng.normal(0, 0.1, 2000)})
    return preprocess(frame, tmp_path_factory.mktemp("data"), "--target-column", "y")


@pytest.mark.local_cloud  # local mode's training cluster starts the instances
def test_two_instances_train_one_model_from_all_rows(processed, tmp_path):
    from benchmarks.distributed import run_xgboost_job

    exit_one, one = run_xgboost_job(processed, tmp_path / "one", 1, QUICK)
    exit_two, two = run_xgboost_job(processed, tmp_path / "two", 2, QUICK)
    assert exit_one == 0, one.log_file.read_text()[-2000:]
    assert exit_two == 0, two.log_file.read_text()[-2000:]
    log_algo_1, log_algo_2 = two.log_file.read_text(), two.log_file.with_name("job-algo-2.log").read_text()
    assert "rank 0 of 2" in log_algo_1 and "rank 1 of 2" in log_algo_2
    # The metric is over all validation rows on every instance; the trees differ slightly from one instance's as
    # subsample draws from each instance's own rows (and the bins come from a sketch merged over the instances).
    single, double = ([float(value) for value in METRIC.findall(log)] for log in (one.log_file.read_text(), log_algo_1))
    assert double[-1] == pytest.approx(single[-1], rel=0.05)
    assert [float(value) for value in METRIC.findall(log_algo_2)] == double[:-1]  # algo-1 adds the best round's
    assert (two.opt_ml / "model" / "xgboost-model.ubj").is_file()
    assert not any((two.root / "hosts" / "algo-2" / "opt" / "ml" / "model").iterdir())


def test_the_first_instance_is_looked_up_again_while_the_cluster_boots(monkeypatch):
    """SageMaker: hostname information might not be available at once; the script retries the lookup."""
    import socket

    train = load_module(CODE / "xgboost_model" / "train.py", "xgboost_train")  # its neighbours stay its own
    answers = iter([socket.gaierror("not yet"), socket.gaierror("not yet"), "10.0.0.7"])

    def lookup(host):
        answer = next(answers)
        if isinstance(answer, Exception):
            raise answer
        return answer

    monkeypatch.setattr(train.socket, "gethostbyname", lookup)
    monkeypatch.setattr(train.time, "sleep", lambda seconds: None)
    assert train.address_of("algo-1") == "10.0.0.7"
