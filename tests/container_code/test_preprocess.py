"""features/preprocess.py as the processing job runs it."""

import json
import tarfile

import numpy as np
import pandas as pd
import pytest

from tests.container_code.helpers import CODE, extract_transformer, preprocess, preprocess_arguments, run_script


@pytest.fixture(scope="module")
def mixed_processed(mixed_data, tmp_path_factory):
    work = tmp_path_factory.mktemp("mixed")
    return preprocess(mixed_data, work, "--target-column", "price", "--categorical-columns", "grade")


def test_splits_have_the_agreed_layout(mixed_data, mixed_processed):
    train = np.loadtxt(mixed_processed / "train" / "train.csv", delimiter=",")
    validation = np.loadtxt(mixed_processed / "validation" / "validation.csv", delimiter=",")
    test = pd.read_csv(mixed_processed / "test" / "test.csv")
    assert (len(train), len(validation), len(test)) == (280, 60, 60)
    # Target first, no header: every train target is one of the input targets.
    assert np.isin(train[:, 0].round(6), mixed_data["price"].round(6)).all()
    assert list(test.columns) == list(mixed_data.columns)  # raw, with header and target
    assert not np.isnan(train).any(), "missing values are imputed"


def test_transformer_holds_schema_and_parameters(mixed_data, mixed_processed):
    transformer = extract_transformer(mixed_processed)
    assert [(c["name"], c["kind"]) for c in transformer["columns"]] == [
        ("size", "numeric"),
        ("age", "numeric"),
        ("city", "categorical"),  # text: categorical without being listed
        ("grade", "categorical"),  # listed
    ]
    city = transformer["columns"][2]
    assert city["categories"] == ["Austin", "Boston", "Paris, TX"]
    assert transformer["columns"][3]["categories"] == ["1", "2", "3"]
    assert transformer["feature_names"][:3] == ["size", "age", "city=Austin"]
    train = np.loadtxt(mixed_processed / "train" / "train.csv", delimiter=",")
    assert train.shape[1] == 1 + len(transformer["feature_names"])
    np.testing.assert_allclose(train[:, 1:3].mean(axis=0), 0, atol=1e-6)
    np.testing.assert_allclose(train[:, 1:3].std(axis=0), 1, atol=1e-6)
    assert set(np.unique(train[:, 3:])) == {0.0, 1.0}
    assert (train[:, 3:6].sum(axis=1) == 1).all(), "one city each, missing ones imputed"


def test_split_depends_only_on_the_seed(mixed_data, tmp_path):
    def test_split(name, seed):
        out = preprocess(mixed_data, tmp_path / name, "--target-column", "price", "--seed", seed)
        return (out / "test" / "test.csv").read_text()

    assert test_split("a", "7") == test_split("b", "7")
    assert test_split("a", "7") != test_split("c", "8")


def test_reads_every_csv_below_the_input_folder(mixed_data, tmp_path):
    (tmp_path / "input" / "part").mkdir(parents=True)
    mixed_data[:100].to_csv(tmp_path / "input" / "one.csv", index=False)
    mixed_data[100:].to_csv(tmp_path / "input" / "part" / "two.csv", index=False)
    out = tmp_path / "out"
    run_script("features/preprocess.py", "--target-column", "price", *preprocess_arguments(tmp_path),
               "--output-dir", str(out), "--test-ratio", "0.25")  # fmt: skip
    assert len(pd.read_csv(out / "test" / "test.csv")) == 100


def test_missing_target_names_the_columns_found(mixed_data, tmp_path):
    (tmp_path / "input").mkdir()
    mixed_data.to_csv(tmp_path / "input" / "data.csv", index=False)
    result = run_script("features/preprocess.py", "--target-column", "Price", *preprocess_arguments(tmp_path),
                        "--output-dir", str(tmp_path / "out"), check=False)  # fmt: skip
    assert result.returncode == 2
    assert "target column 'Price' not found" in result.stderr
    assert "['size', 'age', 'city', 'grade', 'price']" in result.stderr
    assert "Traceback" not in result.stderr
    # The same sentence in the file SageMaker returns as the processing job's ExitMessage.
    message = (tmp_path / "output" / "message").read_text(encoding="utf-8")
    assert message.strip() == result.stderr.strip()
    assert len(message.encode()) <= 1024


def test_model_artifact_carries_the_serving_code_under_code(mixed_processed):
    """Network-isolated serving containers read their handlers from /opt/ml/model/code: the artifact holds them."""
    with tarfile.open(mixed_processed / "model" / "model.tar.gz") as archive:
        files = {member.name: archive.extractfile(member).read() for member in archive if member.isfile()}
    assert set(files) == {"transformer.json", "baseline.json", "code/inference.py", "code/preprocess.py"}
    assert files["code/inference.py"] == (CODE / "features" / "inference.py").read_bytes()
    assert files["code/preprocess.py"] == (CODE / "features" / "preprocess.py").read_bytes()


def test_model_artifact_carries_the_training_distribution_for_the_drift_check(mixed_processed):
    """baseline.json next to transformer.json: per raw column of the training split, numeric decile bins with their
    shares and the null rate, categorical level shares (README, "Drift check")."""
    with tarfile.open(mixed_processed / "model" / "model.tar.gz") as archive:
        baseline = json.loads(archive.extractfile("baseline.json").read())
        transformer = json.loads(archive.extractfile("transformer.json").read())
    assert [c["name"] for c in baseline["columns"]] == [c["name"] for c in transformer["columns"]]
    for column, fitted in zip(baseline["columns"], transformer["columns"], strict=True):
        assert column["kind"] == fitted["kind"]
        assert 0 <= column["null_rate"] <= 1
        shares = column["proportions"] if column["kind"] == "numeric" else list(column["frequencies"].values())
        assert abs(sum(shares) - 1) < 1e-9
        if column["kind"] == "numeric":
            assert len(column["proportions"]) == len(column["edges"]) + 1 and column["edges"] == sorted(column["edges"])


def test_missing_serving_code_is_one_sentence(mixed_data, tmp_path):
    (tmp_path / "input").mkdir()
    mixed_data.to_csv(tmp_path / "input" / "data.csv", index=False)
    result = run_script("features/preprocess.py", "--target-column", "price", "--input-dir", str(tmp_path / "input"),
                        "--serving-code-dir", str(tmp_path / "nothing"), "--output-dir", str(tmp_path / "out"),
                        "--message-file", str(tmp_path / "message"), check=False)  # fmt: skip
    assert result.returncode == 2
    assert "--serving-code-dir" in (tmp_path / "message").read_text()
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    "args, message",
    [
        (["--categorical-columns", "colour"], "categorical columns ['colour'] not found"),
        (["--validation-ratio", "0.6", "--test-ratio", "0.5"], "their sum < 1"),
    ],
)
def test_argument_mistakes_are_reported_without_traceback(mixed_data, tmp_path, args, message):
    (tmp_path / "input").mkdir()
    mixed_data.to_csv(tmp_path / "input" / "data.csv", index=False)
    result = run_script("features/preprocess.py", "--target-column", "price", *preprocess_arguments(tmp_path),
                        "--output-dir", str(tmp_path / "out"), *args, check=False)  # fmt: skip
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr
