"""Serving container 1 (scikit-learn image): raw CSV rows -> float32 feature matrix in .npy format.

Container 2 (the model) reads the same format, so the hand-over costs one np.save and one np.load.
"""

from __future__ import annotations

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
    """Keep the raw CSV bytes: parsing needs the fitted schema, which only predict_fn receives."""
    if request_content_type.split(";")[0].strip() != "text/csv":
        raise ValueError(f"unsupported content type {request_content_type!r}: send text/csv")
    return request_body.encode("utf-8") if isinstance(request_body, str) else bytes(request_body)


def predict_fn(input_data: bytes, model: dict) -> np.ndarray:
    return transform(parse_rows(input_data, model), model)


def output_fn(prediction: np.ndarray, accept: str):
    """Always .npy float32, whatever `accept` says: container 2 expects exactly this."""
    buffer = io.BytesIO()
    np.save(buffer, np.ascontiguousarray(prediction, dtype=np.float32), allow_pickle=False)
    return buffer.getvalue(), NPY
