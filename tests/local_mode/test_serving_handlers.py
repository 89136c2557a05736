"""Serving follows the framework containers' handler rules (sagemaker-inference-toolkit's Transformer and the
scikit-learn container's default handler): input_fn, predict_fn and output_fn are optional with their defaults, or
one transform_fn handles the request; transform_fn with any of the three is refused; CSV and JSON bodies reach the
handlers decoded."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest
from sklearn.linear_model import LinearRegression

from local_mode.sagemaker.model_server import Container, TransformError, handlers_of


@pytest.fixture(scope="module")
def model():
    return LinearRegression().fit(np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]]), np.array([1.0, 3.0, 5.0]))


def container(module, model) -> Container:
    return Container("container 1", handlers_of(module, "inference.py"), model)


def test_a_module_with_model_fn_only_is_served_by_the_default_handlers(model):
    body, content_type = container(SimpleNamespace(), model).invoke(b"1,0\n0,1\n", "text/csv", "text/csv")
    assert content_type == "text/csv"
    assert [round(float(v), 6) for v in body.decode().split()] == [3.0, 5.0]


def test_the_defaults_fill_in_only_what_the_module_lacks(model):
    module = SimpleNamespace(output_fn=lambda prediction, accept: (",".join(f"{v:.1f}" for v in prediction), accept))
    assert container(module, model).invoke(b"1,0\n0,1\n", "text/csv", "text/csv") == (b"3.0,5.0", "text/csv")


def test_the_default_handlers_read_and_write_json(model):
    body, _ = container(SimpleNamespace(), model).invoke(b"[[0, 1]]", "application/json", "application/json")
    assert [round(v, 6) for v in json.loads(body)] == [5.0]


def test_transform_fn_alone_handles_the_request_with_the_body_decoded(model):
    seen = {}

    def transform_fn(loaded, body, content_type, accept):
        seen.update(model=loaded, body=body, content_type=content_type)
        return "ok", "text/plain"

    assert container(SimpleNamespace(transform_fn=transform_fn), model).invoke(b"1,2\n", "text/csv", "text/csv") == (
        b"ok",
        "text/plain",
    )
    assert seen == {"model": model, "body": "1,2\n", "content_type": "text/csv"}


def test_transform_fn_with_another_handler_is_refused_as_the_toolkit_refuses_it(model):
    module = SimpleNamespace(transform_fn=lambda *args: "", predict_fn=lambda data, loaded: data)
    with pytest.raises(TransformError, match="Cannot use transform_fn implementation in conjunction with input_fn"):
        handlers_of(module, "inference.py")
