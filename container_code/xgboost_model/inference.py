"""Serving container 2, XGBoost flavour: features (.npy from container 1, or CSV) -> one prediction a line.

Runs on the SageMaker XGBoost framework image in script mode: its server (sagemaker_xgboost_container/serving.py)
imports SAGEMAKER_PROGRAM from SAGEMAKER_SUBMIT_DIRECTORY and takes model_fn, input_fn, predict_fn and output_fn
from it (aws/sagemaker-xgboost-container, `_user_module_transformer`). The model is xgboost's own UBJSON format,
so no pickle is loaded and any xgboost >= 2.0 reads it.
"""

from __future__ import annotations

import os

import numpy as np
import xgboost as xgb

# input_fn and output_fn are the same in every model container: one file, model_io.py (see there).
from model_io import input_fn, output_fn  # noqa: F401 (the serving container looks them up in this module)

MODEL_FILE = "xgboost-model.ubj"


def model_fn(model_dir: str) -> xgb.Booster:
    booster = xgb.Booster()
    booster.load_model(os.path.join(model_dir, MODEL_FILE))
    return booster


def predict_fn(input_data: np.ndarray, model: xgb.Booster) -> np.ndarray:
    """Regression: the predicted value per row. In-place prediction skips building a DMatrix per request."""
    if len(input_data) == 0:
        return np.zeros(0)
    return np.asarray(model.inplace_predict(np.asarray(input_data, dtype=np.float32)), dtype=np.float64)
