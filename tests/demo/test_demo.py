"""`python -m demo demo`, as a user runs it: the whole flow ends in one summary line and a report."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from demo.__main__ import main
from demo.data import load_data
from tests.conftest import REPO_ROOT

SUMMARY = re.compile(
    r"^demo: ok flavour=(\w+) version=(\d+) rmse=([0-9.]+) scored_rows=(\d+) output=(s3://\S+) seconds=([0-9.]+)$"
)
CLASSIFICATION_SUMMARY = re.compile(
    r"^demo: ok flavour=(\w+) dataset=(\S+) problem_type=(binary|multiclass) version=(\d+) accuracy=([0-9.]+) "
    r"(auc|weighted_f1)=([0-9.]+) scored_rows=(\d+) output=(s3://\S+) seconds=([0-9.]+)$"
)


def run_demo(home, *arguments: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "demo", "demo", "--home", str(home), *arguments],
        cwd=REPO_ROOT,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.mark.slow
def test_sklearn_demo_trains_approves_scores_and_reports(tmp_path):
    process = run_demo(tmp_path)
    assert process.returncode == 0, process.stderr[-2000:]
    last_line = process.stdout.strip().splitlines()[-1]
    match = SUMMARY.match(last_line)
    assert match, last_line
    flavour, _version, rmse, scored_rows, _output, _seconds = match.groups()
    assert flavour == "sklearn"
    assert float(rmse) <= 0.6
    assert int(scored_rows) == 1000
    assert (tmp_path / "report.png").stat().st_size > 10_000
    for step in ("Preprocess", "Train", "Evaluate", "CheckQuality", "Register"):
        assert f"{step} Succeeded" in process.stdout
    # The drift check of the job it scored: rows drawn from the training data, so nothing drifted (README, Local mode).
    assert re.search(
        r"drift: rows=1000 drifted_features=none prediction_drifted=false largest_psi=0\.\d+", process.stdout
    )


@pytest.mark.slow
def test_pytorch_demo_serves_the_model_code_shipped_inside_its_artifact(tmp_path):
    """The PyTorch model container reads its handlers from /opt/ml/model/code, not from a code asset.
    A short training setting keeps it quick: this checks the path end to end, test_quality checks the model."""
    process = run_demo(tmp_path, "--flavour", "pytorch", "-c", "training_hyperparameters=epochs=6,patience=3")
    assert process.returncode == 0, process.stderr[-2000:]
    match = SUMMARY.match(process.stdout.strip().splitlines()[-1])
    assert match, process.stdout[-1000:]
    assert match.group(1) == "pytorch"
    assert float(match.group(3)) <= 0.6
    assert int(match.group(4)) == 1000


@pytest.mark.slow
def test_breast_cancer_demo_classifies_with_probabilities_and_draws_the_roc_curve(tmp_path):
    """Binary classification end to end: inferred from the 0/1 target, gated on AUC, scored rows joined with the
    label and both class probabilities."""
    process = run_demo(tmp_path, "--dataset", "breast-cancer")
    assert process.returncode == 0, process.stderr[-2000:]
    match = CLASSIFICATION_SUMMARY.match(process.stdout.strip().splitlines()[-1])
    assert match, process.stdout[-1000:]
    flavour, dataset, problem_type, _, accuracy, metric, auc, scored_rows = match.groups()[:8]
    assert (flavour, dataset, problem_type, metric) == ("sklearn", "breast-cancer", "binary", "auc")
    assert float(accuracy) >= 0.9 and float(auc) >= 0.95
    assert int(scored_rows) == 56
    assert (tmp_path / "report.png").stat().st_size > 10_000
    assert "min_improvement_over_baseline=-0.5" in process.stdout  # the demo says what it relaxed


@pytest.mark.slow
def test_own_csv_with_a_categorical_column_and_missing_values(tmp_path):
    rng = np.random.default_rng(0)
    rows = 3000
    frame = pd.DataFrame(
        {
            "size": rng.uniform(20, 200, rows),
            "rooms": rng.integers(1, 8, rows).astype(float),
            "district": rng.choice(["north", "south", "harbour"], rows),
        }
    )
    # The price per size depends on the district: a linear model cannot fit it, so the model must beat that
    # baseline to be registered (the quality gate compares).
    frame["price"] = frame["size"] * 0.03 * frame["district"].map({"north": 1.5, "south": 1.0, "harbour": 2.0})
    frame.loc[rng.choice(rows, 300, replace=False), "rooms"] = np.nan
    frame.loc[rng.choice(rows, 300, replace=False), "district"] = np.nan
    data = tmp_path / "flats.csv"
    frame.to_csv(data, index=False)
    process = run_demo(tmp_path / "demo", "--data", str(data), "--target", "price")
    assert process.returncode == 0, process.stderr[-2000:]
    match = SUMMARY.match(process.stdout.strip().splitlines()[-1])
    assert match, process.stdout[-1000:]
    assert int(match.group(4)) == 300
    assert float(match.group(3)) < frame["price"].std()  # better than predicting the mean
    assert "drift: not judged (300 rows are fewer than the minimum of 500)" in process.stdout  # README, Drift check


def test_unknown_target_column_fails_with_the_columns_found(tmp_path):
    data = tmp_path / "rows.csv"
    data.write_text("a,b\n1,2\n")
    process = run_demo(tmp_path / "demo", "--data", str(data), "--target", "price")
    assert process.returncode == 2
    assert process.stderr.strip() == "demo: --target 'price' is not a column of rows.csv; its columns are a, b."


def _write(path, content: bytes):
    path.write_bytes(content)
    return path


# (what the file holds, the sentence the user gets after "--data <path>: ")
DATA_MISTAKES = {
    "empty": (b"", "the file is empty; it needs a header row and data rows."),
    "header_only": (b"size,price\n", "has a header row but no data rows."),
    "binary": (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00", "a binary file, not CSV text."),
    "latin1": ("size,price\n1,caf\u00e9\n".encode("latin-1"), "not UTF-8 text; save it as a UTF-8 CSV file."),
}


@pytest.mark.parametrize("mistake", sorted(DATA_MISTAKES))
def test_data_mistakes_are_one_sentence_and_exit_status_2(mistake, tmp_path, capsys):
    content, sentence = DATA_MISTAKES[mistake]
    data = _write(tmp_path / "rows.csv", content)
    status = main(["demo", "--data", str(data), "--target", "price", "--home", str(tmp_path / "demo")])
    assert status == 2
    assert capsys.readouterr().err == f"demo: --data {data}: {sentence}\n"
    assert not (tmp_path / "demo").exists()  # stopped before synth: nothing to clean up


def test_a_missing_file_is_named(tmp_path, capsys):
    missing = tmp_path / "nowhere.csv"
    assert main(["demo", "--data", str(missing), "--target", "price"]) == 2
    assert capsys.readouterr().err == f"demo: --data {missing}: no such file.\n"


def test_a_target_without_values_is_refused(tmp_path, capsys):
    """Text targets are classes now; a column with no value at all cannot be learned."""
    data = _write(tmp_path / "rows.csv", b"size,price\n1,\n2,\n")
    assert main(["demo", "--data", str(data), "--target", "price"]) == 2
    assert capsys.readouterr().err == (
        "demo: --target 'price' has no values in rows.csv: the column to predict needs some.\n"
    )


def test_a_setting_without_a_value_is_refused(capsys):
    assert main(["demo", "-c", "rmse_threshold"]) == 2
    assert "settings are given as name=value" in capsys.readouterr().err


def test_bundled_classification_sets_need_no_network():
    from demo.data import DATASETS

    iris, target = DATASETS["iris"][0](), DATASETS["iris"][1]
    assert sorted(iris[target].unique()) == ["setosa", "versicolor", "virginica"]  # text labels
    cancer, target = DATASETS["breast-cancer"][0](), DATASETS["breast-cancer"][1]
    assert (len(cancer), sorted(cancer[target].unique())) == (569, [0, 1])


def test_classification_summary_line_gives_the_type_and_its_metrics():
    from demo.flow import DemoResult

    result = DemoResult("sklearn", 3, None, 15, "s3://b/o/", 12.34, REPO_ROOT, {}, "iris", "multiclass",
                        {"accuracy": 0.95, "weighted_f1": 0.9512})  # fmt: skip
    match = CLASSIFICATION_SUMMARY.match(result.summary_line())
    assert match, result.summary_line()
    assert match.groups()[:8] == ("sklearn", "iris", "multiclass", "3", "0.9500", "weighted_f1", "0.9512", "15")


def test_classification_report_draws_the_confusion_matrix_and_the_roc_curve(tmp_path):
    from demo.flow import _check_joined
    from demo.reports import classification_report

    features = pd.DataFrame({"a": [1, 2, 3, 4]})
    lines = [
        ["1", "yes", "0.2", "0.8"],
        ["2", "no", "0.7", "0.3"],
        ["3", "yes", "0.4", "0.6"],
        ["4", "no", "0.9", "0.1"],
    ]
    _check_joined(lines, features, class_count=2)
    with pytest.raises(Exception, match="followed by 3 fields"):
        _check_joined([line[:-1] for line in lines], features, class_count=2)
    actual = pd.Series(["yes", "no", "no", "no"])
    path = classification_report(tmp_path / "report.png", actual, lines, ["no", "yes"], "test")
    assert path.stat().st_size > 10_000


def _penguins(rows: int = 400, seed: int = 1) -> pd.DataFrame:
    """A penguins-like CSV: text and numeric columns and a text target, sex, that depends on the measurements, the
    body mass through the species (heavier males, except in this made-up Chinstrap): a signal trees capture and a
    linear model only partly, so the default gate, which judges these 400 rows cross-validated, registers it."""
    rng = np.random.default_rng(seed)
    male = rng.random(rows) < 0.5
    species = rng.choice(["Adelie", "Gentoo", "Chinstrap"], rows)
    heavier = np.where(male == (species != "Chinstrap"), 350, -350)
    return pd.DataFrame(
        {
            "species": species,
            "island": rng.choice(["Biscoe", "Dream", "Torgersen"], rows),
            "bill_length_mm": (44 + np.where(male, 1.0, -1.0) + rng.normal(0, 1.5, rows)).round(1),
            "body_mass_g": (4200 + heavier + rng.normal(0, 250, rows)).round(0),
            "sex": np.where(male, "male", "female").astype(object),
        }
    )


def _without_some_targets(frame: pd.DataFrame, target: str, path) -> pd.DataFrame:
    """`frame` as a CSV at `path` with a tenth of its target cells empty or NA (both missing to pandas), read back
    as the demo reads --data."""
    blank = np.random.default_rng(2).choice(len(frame), len(frame) // 10, replace=False)
    text = frame.astype(object)
    text.loc[blank[::2], target] = ""
    text.loc[blank[1::2], target] = "NA"
    text.to_csv(path, index=False)
    return load_data(path, target)[0]


@pytest.mark.parametrize("problem", ["classification", "regression"])
def test_rows_without_a_target_are_neither_scored_nor_reported(problem, tmp_path):
    """Preprocess trains and tests only on rows with a target; the demo used to score some rows without one and
    end in a traceback drawing the report ("'nan' is not in list"; regression: an RMSE of nan). Rows without a
    target now go to training, where Preprocess leaves them out, and the scored rows are all comparable."""
    from demo.flow import _check_joined, _split_for_scoring
    from demo.reports import classification_report, regression_report

    penguins = _penguins()
    target = "sex" if problem == "classification" else "body_mass_g"
    frame = _without_some_targets(penguins, target, tmp_path / "penguins.csv")
    training, scoring = _split_for_scoring(frame, target)
    labelled = int(frame[target].notna().sum())
    assert scoring[target].notna().all()
    assert len(scoring) == labelled // 10
    assert training[target].isna().sum() == len(frame) - labelled
    assert _preprocess_finds_missing(training, target, tmp_path) == len(frame) - labelled
    features = scoring.drop(columns=[target])
    inputs = features.astype(str).to_numpy().tolist()
    if problem == "classification":  # the model container's label and probabilities: here a perfect model's
        lines = [[*row, label, "0.5", "0.5"] for row, label in zip(inputs, scoring[target], strict=True)]
        _check_joined(lines, features, class_count=2)
        classification_report(tmp_path / "report.png", scoring[target], lines, ["female", "male"], "penguins")
    else:
        lines = [[*row, str(value + 10)] for row, value in zip(inputs, scoring[target], strict=True)]
        _check_joined(lines, features)
        regression_report(
            tmp_path / "report.png", scoring[target].to_numpy(), [float(row[-1]) for row in lines], "sklearn"
        )
    assert (tmp_path / "report.png").stat().st_size > 10_000


def _preprocess_finds_missing(training: pd.DataFrame, target: str, tmp_path) -> int:
    """How many target values Preprocess's own reader finds missing in the demo's training upload."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("preprocess", REPO_ROOT / "container_code/features/preprocess.py")
    preprocess = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(preprocess)
    (tmp_path / "input").mkdir()
    (tmp_path / "input" / "data.csv").write_bytes(training.to_csv(index=False).encode())
    return int(preprocess._read_inputs(tmp_path / "input")[target].isna().sum())


@pytest.mark.slow
def test_own_classification_csv_with_blank_target_cells_ends_in_the_summary(tmp_path):
    frame = _penguins()
    frame.loc[np.random.default_rng(3).choice(len(frame), 40, replace=False), "sex"] = None
    data = tmp_path / "penguins.csv"
    frame.to_csv(data, index=False)
    process = run_demo(tmp_path / "demo", "--data", str(data), "--target", "sex")
    assert process.returncode == 0, process.stderr[-2000:]
    assert "Traceback" not in process.stderr
    assert "predicting sex (40 without a target value: Preprocess and the report leave them out)" in process.stdout
    match = CLASSIFICATION_SUMMARY.match(process.stdout.strip().splitlines()[-1])
    assert match, process.stdout[-1000:]
    assert match.group(3) == "binary" and int(match.group(8)) == 36  # a tenth of the 360 rows with a target
