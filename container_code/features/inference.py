"""Serving container 1 (scikit-learn image): raw rows -> float32 feature matrix in .npy format.

Rows arrive as CSV (text/csv: the raw feature columns in training order, no header) or, for the real-time API, as a
JSON list of objects keyed by column name (application/json), which is written as CSV in the fitted column order so
both go through the same parser.

Container 2 (the model) reads the same format, so the hand-over costs one np.save and one np.load.
"""

from __future__ import annotations

import csv
import io
import json
import os
import sys

import numpy as np

# The parser and transform are shared with the processing job, which receives preprocess.py alone.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from preprocess import TRANSFORMER_FILE, parse_rows, transform  # noqa: E402

NPY = "application/x-npy"


def model_fn(model_dir: str) -> dict:
    with open(os.path.join(model_dir, TRANSFORMER_FILE), encoding="utf-8") as handle:
        return json.load(handle)


def input_fn(request_body, request_content_type: str):
    """Keep the raw CSV bytes, or the decoded JSON rows: parsing needs the fitted schema, which only predict_fn
    receives."""
    content_type = request_content_type.split(";")[0].strip()
    if content_type == "application/json":
        try:
            rows = json.loads(request_body)
        except ValueError as error:
            raise ValueError(f"bad request: the body is not JSON ({error})") from None
        if not isinstance(rows, list):
            raise ValueError("bad request: a JSON request must be a list of objects keyed by column name")
        return rows
    if content_type != "text/csv":
        raise ValueError(f"unsupported content type {request_content_type!r}: send text/csv or application/json")
    return request_body.encode("utf-8") if isinstance(request_body, str) else bytes(request_body)


def predict_fn(input_data, model: dict) -> np.ndarray:
    body = input_data if isinstance(input_data, bytes) else _json_rows_as_csv(input_data, model)
    return transform(parse_rows(body, model), model)


def _json_rows_as_csv(rows: list, model: dict) -> bytes:
    """Each object's values in the fitted column order; null or an absent key is a missing value."""
    names = [column["name"] for column in model["columns"]]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    for number, row in enumerate(rows, start=1):
        if not isinstance(row, dict):
            raise ValueError(f"row {number}: expected an object keyed by column name, got {type(row).__name__}")
        unknown = sorted(set(row) - set(names))
        if unknown:
            raise ValueError(f"row {number}: unknown columns {unknown}; the columns are {names}")
        writer.writerow(["" if row.get(name) is None else row[name] for name in names])
    return buffer.getvalue().encode("utf-8")


def output_fn(prediction: np.ndarray, accept: str):
    """Always .npy float32, whatever `accept` says: container 2 expects exactly this."""
    buffer = io.BytesIO()
    np.save(buffer, np.ascontiguousarray(prediction, dtype=np.float32), allow_pickle=False)
    return buffer.getvalue(), NPY
