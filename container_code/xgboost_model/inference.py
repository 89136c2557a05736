"""Serving container 2, XGBoost flavour: features (.npy from container 1, or CSV) -> one prediction a line
(regression: the value; classification: the label, then the class probabilities; see model_io.py).

Runs on the SageMaker XGBoost framework image in script mode: its server (sagemaker_xgboost_container/serving.py)
imports SAGEMAKER_PROGRAM from SAGEMAKER_SUBMIT_DIRECTORY and takes model_fn, input_fn, predict_fn and output_fn
from it (aws/sagemaker-xgboost-container, `_user_module_transformer`). The model is xgboost's own UBJSON format,
so no pickle is loaded and any xgboost >= 2.0 reads it.
"""

from __future__ import annotations

import os

# Threads that wait for work sleep instead of spinning: on a busy machine (CI, local mode) spinning OpenMP threads
# made a 200-round Iris fit take 17 s instead of 0.3 s. Must be set before xgboost loads libgomp.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np  # noqa: E402
import xgboost as xgb  # noqa: E402

# input_fn and output_fn are the same in every model container: one file, model_io.py (see there).
from model_io import (  # noqa: F401 (the serving container looks input_fn and output_fn up in this module)
    ClassProbabilities,
    input_fn,
    is_classification,
    load_schema,
    output_fn,
)

MODEL_FILE = "xgboost-model.ubj"


class Served:
    """The booster and the schema saved beside it."""

    def __init__(self, model_dir: str):
        self.booster = xgb.Booster()
        self.booster.load_model(os.path.join(model_dir, MODEL_FILE))
        self.schema = load_schema(model_dir)

    def predict(self, features: np.ndarray):
        """In-place prediction: no DMatrix built per request."""
        classes = self.schema["classes"]
        if len(features) == 0:
            return ClassProbabilities(np.zeros((0, len(classes))), classes) if classes else np.zeros(0)
        raw = np.asarray(self.booster.inplace_predict(np.asarray(features, dtype=np.float32)), dtype=np.float64)
        if not is_classification(self.schema):
            return raw
        if self.schema["problem_type"] == "binary":  # binary:logistic gives the probability of classes[1]
            raw = np.column_stack([1.0 - raw, raw])
        return ClassProbabilities(raw, classes)  # multi:softprob gives one column per class already


def model_fn(model_dir: str) -> Served:
    return Served(model_dir)


def predict_fn(input_data: np.ndarray, model: Served):
    return model.predict(input_data)
