"""The transform concurrency benchmark's settings: the defaults' pairing is the app's own sizing for this machine's
size of the default instance family, and its table names what each figure is."""

from __future__ import annotations

from benchmarks import concurrency


def test_the_defaults_pairing_is_the_apps_sizing_of_a_type_with_this_machines_vcpus():
    assert concurrency._like_here(2) == "ml.m5.large"
    assert concurrency._like_here(4) == "ml.m5.xlarge"
    one_each = {"SAGEMAKER_MODEL_SERVER_WORKERS": "2", "OMP_NUM_THREADS": "1"}
    assert concurrency.settings("sklearn", 2) == {
        "today_default": (1, [{}, {}]),
        "single_thread_worker": (1, [{"SAGEMAKER_MODEL_SERVER_WORKERS": "1", "OMP_NUM_THREADS": "1"}] * 2),
        "defaults_pairing": (2, [one_each, one_each]),
    }


def _figures(spread: dict, ratio: dict) -> dict:
    return {
        "cores": 2,
        "rows_per_s": dict.fromkeys(
            ("today_default", "single_thread_worker", "defaults_pairing", "one_process_limit"), spread
        ),
        "defaults_pairing": {
            "instance_type": "ml.m5.large",
            "in_flight": 2,
            "environments": [{"SAGEMAKER_MODEL_SERVER_WORKERS": "2", "OMP_NUM_THREADS": "1"}] * 2,
        },
        "defaults_over_single_thread_worker": ratio,
        "defaults_over_today_default": ratio,
        "defaults_over_one_process_limit": ratio,
        "instance_seconds_per_million_rows": {"ml.m5.xlarge": 5.78, "ml.g5.xlarge": None},
    }


def test_the_table_gives_means_with_their_range_and_the_goals():
    spread = {"mean": 86565, "min": 80694, "max": 91090}
    ratio = {"mean": 1.94, "min": 1.87, "max": 2.1}
    figures = _figures(spread, ratio)
    rows = concurrency.table_rows({"sklearn": figures, "machine": {}})
    assert rows[2] == (
        "transform sklearn, 2 in flight, 2 workers x 1 thread (ml.m5.large's defaults): rows/s",
        "86,565 (80,694-91,090)",
        "",
    )
    assert rows[4] == ("  defaults' pairing / 1 single-threaded worker", "1.94 (1.87-2.10)", ">= 1.9")
    assert rows[-1][1] == "5.78 / -"


def test_the_scikit_learn_table_compares_the_pairing_with_the_toolkits_default_path():
    spread, ratio = {"mean": 40000, "min": 39000, "max": 41000}, {"mean": 2.2, "min": 2.1, "max": 2.3}
    figures = _figures(spread, ratio)
    figures["rows_per_s"]["toolkit_default"] = spread
    figures["defaults_over_toolkit_default"] = ratio
    rows = concurrency.table_rows({"sklearn": figures})
    assert (
        "transform sklearn, toolkit default CSV, one Pipeline, 1 in flight, 2 workers, default threads: rows/s",
        "40,000 (39,000-41,000)",
        "",
    ) in rows
    assert ("  defaults' pairing / toolkit's default", "2.20 (2.10-2.30)", ">= 2") in rows
