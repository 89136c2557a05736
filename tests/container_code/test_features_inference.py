"""features/inference.py: the handlers of serving container 1."""

import io
import tarfile

import numpy as np
import pytest

from tests.container_code.conftest import load_handlers
from tests.container_code.helpers import extract_transformer, preprocess

TRANSFORMER = {
    "format_version": 1,
    "target_column": "price",
    "columns": [
        {"name": "size", "kind": "numeric", "median": 10.0, "mean": 12.0, "scale": 4.0},
        {"name": "city", "kind": "categorical", "most_frequent": "Boston", "categories": ["Austin", "Boston"]},
        {"name": "age", "kind": "numeric", "median": 3.0, "mean": 2.0, "scale": 2.0},
    ],
    "feature_names": ["size", "age", "city=Austin", "city=Boston"],
}


@pytest.fixture(scope="module")
def features():
    return load_handlers("features")


def handle(features, body, content_type="text/csv"):
    """input_fn -> predict_fn -> output_fn as the serving container calls them; returns the decoded matrix."""
    data, response_type = features.output_fn(
        features.predict_fn(features.input_fn(body, content_type), TRANSFORMER), "text/csv"
    )
    assert response_type == "application/x-npy"
    return np.load(io.BytesIO(data), allow_pickle=False)


def test_model_fn_reads_the_transformer_json(features, mixed_data, tmp_path):
    processed = preprocess(mixed_data, tmp_path, "--target-column", "price")
    (tmp_path / "model").mkdir()
    with tarfile.open(processed / "model" / "model.tar.gz") as tar:
        tar.extractall(tmp_path / "model", filter="data")
    assert features.model_fn(str(tmp_path / "model")) == extract_transformer(processed)


def test_transform_imputes_scales_and_one_hot_encodes(features):
    matrix = handle(features, "14,Austin,5\n,,\n12,Chicago,2\n")
    assert matrix.dtype == np.float32
    np.testing.assert_array_equal(
        matrix,
        [
            [0.5, 1.5, 1, 0],  # (14-12)/4, (5-2)/2, Austin
            [-0.5, 0.5, 0, 1],  # medians imputed, most frequent city
            [0.0, 0.0, 0, 0],  # an unseen city: all zeros
        ],
    )


def test_bytes_and_str_bodies_and_csv_quoting_agree(features):
    text = '14,"Austin",5\r\n8,Boston,1\r\n'
    np.testing.assert_array_equal(handle(features, text), handle(features, text.encode()))
    np.testing.assert_array_equal(handle(features, text), handle(features, "14,Austin,5\n8,Boston,1"))


def test_empty_request_gives_an_empty_matrix(features):
    assert handle(features, b"").shape == (0, 4)


@pytest.mark.parametrize(
    "body, message",
    [
        ("1,Austin,2\n3,Boston,4,5\n", "row 2: expected 3 fields, got 4"),
        ("1,Austin,2,3\n3,Boston,4\n", "row 1: expected 3 fields, got 4"),
        ("1,Austin,2\n3,Boston,4\n5,Boston\n", "row 3: expected 3 fields, got 2"),
        ("1,Austin\n", "row 1: expected 3 fields, got 2"),
        ("1,Austin,2\n\n3,Boston,4\n", "row 2: expected 3 fields, got 0"),
        ('1,"Austin, TX",2\n3,"Boston",4,\n', "row 2: expected 3 fields, got 4"),
        ("1,Austin,2\n3,Boston,4\n5,Boston,six\n", "row 3: column 'age' has a non-numeric value 'six'"),
        ("1,Austin,2\n3,Boston,4\n5,Boston,six\nx,Austin,1\n", "row 3: column 'age' has a non-numeric value 'six'"),
        ("1,Austin,2\nten,Boston,4\n", "row 2: column 'size' has a non-numeric value 'ten'"),
    ],
)
def test_bad_rows_name_the_row_and_the_column(features, body, message):
    with pytest.raises(ValueError) as raised:
        handle(features, body)
    assert str(raised.value) == message


def test_unsupported_content_type_is_refused(features):
    with pytest.raises(ValueError, match="unsupported content type 'application/xml'"):
        features.input_fn(b"<rows/>", "application/xml")


@pytest.mark.parametrize(
    "body, message",
    [
        (b"rooms=3", "bad request: the body is not JSON"),
        (b'{"rooms": 3}', "bad request: a JSON request must be a list of objects keyed by column name"),
    ],
)
def test_a_json_body_that_is_not_a_list_of_rows_is_refused(features, body, message):
    with pytest.raises(ValueError) as refused:
        features.input_fn(body, "application/json")
    assert str(refused.value).startswith(message)


def test_json_rows_give_the_same_features_as_the_same_csv_rows(features, mixed_data, tmp_path):
    model = extract_transformer(preprocess(mixed_data, tmp_path, "--target-column", "price"))
    names = [column["name"] for column in model["columns"]]
    rows = mixed_data[names].head(5)
    csv_body = rows.to_csv(header=False, index=False).encode()
    json_body = rows.to_json(orient="records").encode()  # NaN becomes null: a missing value, as an empty CSV field
    from_csv = features.predict_fn(features.input_fn(csv_body, "text/csv"), model)
    from_json = features.predict_fn(features.input_fn(json_body, "application/json"), model)
    np.testing.assert_array_equal(from_json, from_csv)
    with pytest.raises(ValueError, match=r"row 2: unknown columns \['colour'\]"):
        features.predict_fn(features.input_fn(b'[{}, {"colour": "red"}]', "application/json"), model)
