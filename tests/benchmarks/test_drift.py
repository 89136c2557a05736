"""The drift benchmark's own parts (benchmarks/drift.py); `make bench BENCH_ARGS=--drift` measures."""

from benchmarks import drift


def test_the_check_reads_each_input_line_followed_by_its_prediction(tmp_path):
    (tmp_path / "rows.csv").write_text("1,2\n3,4\n")
    (tmp_path / "predictions.csv").write_text("0.5\n0.7\n")
    drift._join(tmp_path / "rows.csv", tmp_path / "predictions.csv", tmp_path / "out")
    assert (tmp_path / "out").read_text() == "1,2,0.5\n3,4,0.7\n"


def test_the_table_gives_the_share_false_alarms_and_the_smallest_detected_shift():
    cost = {"transform_seconds": 10.0, "transform_peak_mb": 250, "check_seconds": 0.5, "check_peak_mb": 120}
    figures = {
        "cost": {"20000": {**cost, "share": 0.05}},
        "false_alarms": {
            "100": {
                "runs": 1000,
                "judged_whatever_the_size": 0.16,
                "features_flagged_per_run": 0.15,
                "as_the_app_judges": 0.0,
            },
        },  # fmt: skip
        "detection_at_1000_rows": {"runs": 100, "rate_by_shift": {"1.2": 0.09, "1.3": 1.0}, "smallest_detected": 1.3},
        "min_rows": 500,
    }
    table = drift.table(figures)
    assert "    20,000        10.00    250      0.50    120    5.0%" in table
    assert "16.0% judged whatever the size" in table and "0.0% as the app judges (drift_min_rows=500)" in table
    assert "smallest shift detected in >= 95%: x1.3" in table
