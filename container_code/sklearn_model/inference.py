"""Serving container 2, scikit-learn flavour: features (.npy from container 1, or CSV) -> one prediction a line
(regression: the value; classification: the label, then the class probabilities; see model_io.py)."""

from __future__ import annotations

import os

import joblib
import numpy as np

# input_fn and output_fn are the same in every model container: one file, model_io.py (see there).
from model_io import (  # noqa: F401 (the serving container looks input_fn and output_fn up in this module)
    ClassProbabilities,
    full_probabilities,
    input_fn,
    is_classification,
    load_schema,
    output_fn,
)

MODEL_FILE = "model.joblib"


class Served:
    """The fitted estimator and the schema saved beside it."""

    def __init__(self, model_dir: str):
        self.estimator = joblib.load(os.path.join(model_dir, MODEL_FILE))
        self.schema = load_schema(model_dir)

    def predict(self, features: np.ndarray):
        if not is_classification(self.schema):
            return self.estimator.predict(features) if len(features) else np.zeros(0)
        classes = self.schema["classes"]
        if len(features) == 0:
            return ClassProbabilities(np.zeros((0, len(classes))), classes)
        probabilities = self.estimator.predict_proba(features)
        return ClassProbabilities(full_probabilities(probabilities, self.estimator.classes_, len(classes)), classes)


def model_fn(model_dir: str) -> Served:
    return Served(model_dir)


def predict_fn(input_data: np.ndarray, model: Served):
    return model.predict(input_data)
