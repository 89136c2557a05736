"""Serving container 2, scikit-learn flavour: features (.npy from container 1, or CSV) -> one prediction a line."""

from __future__ import annotations

import os

import joblib
import numpy as np

# input_fn and output_fn are the same in both model containers: one file, model_io.py (see there).
from model_io import input_fn, output_fn  # noqa: F401 (the serving container looks them up in this module)

MODEL_FILE = "model.joblib"


def model_fn(model_dir: str):
    return joblib.load(os.path.join(model_dir, MODEL_FILE))


def predict_fn(input_data: np.ndarray, model) -> np.ndarray:
    if len(input_data) == 0:
        return np.zeros(0)
    return model.predict(input_data)
