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


# Classification demos: data sets that ship inside scikit-learn (sklearn/datasets/data/*.csv), read from the
# installed package, so nothing is downloaded either.
IRIS_TARGET = "species"
BREAST_CANCER_TARGET = "diagnosis"


def iris() -> pd.DataFrame:
    """Iris (Fisher, 1936): 150 rows of 4 measurements, the species as text labels (setosa, versicolor, virginica):
    a multiclass problem with text labels."""
    from sklearn.datasets import load_iris

    bunch = load_iris(as_frame=True)
    frame = bunch.data.rename(columns=lambda name: name.replace(" (cm)", "").replace(" ", "_"))
    frame[IRIS_TARGET] = bunch.target_names[bunch.target.to_numpy()]
    return frame


def breast_cancer() -> pd.DataFrame:
    """Breast cancer Wisconsin (diagnostic; Street, Wolberg and Mangasarian, 1993): 569 rows of 30 measurements, the
    diagnosis as scikit-learn codes it, 0 = malignant, 1 = benign: a binary problem with numeric labels."""
    from sklearn.datasets import load_breast_cancer

    bunch = load_breast_cancer(as_frame=True)
    frame = bunch.data.rename(columns=lambda name: name.replace(" ", "_"))
    frame[BREAST_CANCER_TARGET] = bunch.target.to_numpy()
    return frame


# --dataset name -> (loader, target column).
DATASETS = {
    "california": (california_housing, CALIFORNIA_HOUSING_TARGET),
    "iris": (iris, IRIS_TARGET),
    "breast-cancer": (breast_cancer, BREAST_CANCER_TARGET),
}
