"""Datasets the demo, the tests and the benchmarks use, read from the repository: nothing is downloaded."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

DATA_DIR = Path(__file__).resolve().parents[1] / "data"
CALIFORNIA_HOUSING_TARGET = "MedHouseVal"


def california_housing() -> pd.DataFrame:
    """California housing (StatLib; Pace and Barry, 1997): 20,640 rows of 8 features and MedHouseVal, exactly
    as scikit-learn's `fetch_california_housing(as_frame=True).frame` gives them."""
    return pd.read_csv(DATA_DIR / "california_housing.csv.gz")
