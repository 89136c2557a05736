"""The demo's data: the bundled data sets (read from the repository or from scikit-learn's package: nothing is
downloaded), which the tests and benchmarks use too, and the user's own CSV, checked up front."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from demo.errors import DataError

DATA_DIR = Path(__file__).resolve().parents[1] / "data"
_COMPRESSED = {".gz", ".bz2", ".zip", ".xz", ".zst"}
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


def load_data(data: Path | None, target: str | None, dataset: str = "california") -> tuple[pd.DataFrame, str]:
    """The demo's rows and the column to predict: a bundled data set, or the user's CSV checked up front."""
    if data is None:
        loader, column = DATASETS[dataset]
        return loader(), column
    if not target:
        raise DataError("--data needs --target naming the column to predict.")
    frame = _read_csv(data)
    if target not in frame.columns:
        raise DataError(
            f"--target {target!r} is not a column of {data.name}; its columns are {', '.join(frame.columns)}."
        )
    if frame[target].notna().sum() == 0:
        raise DataError(f"--target {target!r} has no values in {data.name}: the column to predict needs some.")
    return frame, target


def _read_csv(data: Path) -> pd.DataFrame:
    """The user's CSV, or DataError with one sentence saying what is wrong with the file."""
    if not data.exists():
        raise DataError(f"--data {data}: no such file.")
    if not data.is_file():
        raise DataError(f"--data {data}: not a file.")
    compressed = data.suffix.lower() in _COMPRESSED  # pandas unpacks these by their extension
    try:
        if not compressed and b"\x00" in data.open("rb").read(65536):
            raise DataError(f"--data {data}: a binary file, not CSV text.")
        frame = pd.read_csv(data)
    except pd.errors.EmptyDataError:
        raise DataError(f"--data {data}: the file is empty; it needs a header row and data rows.") from None
    except UnicodeDecodeError:
        raise DataError(f"--data {data}: not UTF-8 text; save it as a UTF-8 CSV file.") from None
    except (pd.errors.ParserError, OSError, EOFError) as error:
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise DataError(f"--data {data}: cannot be read as CSV ({reason}).") from None
    if frame.empty:
        raise DataError(f"--data {data}: has a header row but no data rows.")
    return frame
