"""Feature builder (SageMaker processing job, scikit-learn image).

Reads every CSV under the input folder, splits train / validation / test with a fixed seed, fits the feature
transformer on the training split and writes:
  <out>/train/train.csv, <out>/validation/validation.csv  transformed, target first, no header
  <out>/test/test.csv                                      the raw test split, with header
  <out>/model/model.tar.gz                                 transformer.json (fitted parameters + input schema,
                                                           and "schema" below) and code/ (the serving handlers,
                                                           from --serving-code-dir), and baseline.json
                                                           (the training split's distribution, below)
  <out>/schema/schema.json                                 what is predicted: {"target_column", "problem_type",
                                                           "classes", "feature_names"}

Problem type (--problem-type auto, the default, infers it from the target column's values that are present):
  any non-numeric value (text labels)       -> binary with 2 distinct values, multiclass with 3..100
  numbers, exactly 2 distinct values        -> binary
  whole numbers, 3..10 distinct values      -> multiclass
  any other numbers                         -> regression
An explicit --problem-type must fit the data (regression: numbers; binary: exactly 2 distinct values;
multiclass: 3..100), or the job fails with one sentence naming the setting and the column.
Classes are the distinct labels as text, sorted (numbers by value, written without a trailing .0; text by code
point); for binary, classes[1] is the positive class. In train/validation the target is the class index 0..K-1.

The serving container runs with network isolation, so its code travels inside the model artifact under code/
(SAGEMAKER_SUBMIT_DIRECTORY=/opt/ml/model/code) instead of being downloaded from S3.

baseline.json, the drift check's reference (README, "Drift check"): per raw feature column of the training split,
numeric: the interior decile edges (distinct), the share of non-null values in each bin (bin i holds edges[i-1] <= x
< edges[i]) and the null rate; categorical: each level's share of the non-null values and the null rate. It travels
inside the features artifact, so each registered version carries the distribution it was trained on; Evaluate adds
the predictions' distribution and writes the file the registered version points at (drift_baseline.json).

The transformer is plain JSON applied with numpy (no pickle), so it loads in any library version. The
processing job receives this file alone, so the request parser and the transform used at serving time live
here too and features/inference.py imports them: training data and requests go through the same code.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import sys
import tarfile
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

TRANSFORMER_FILE = "transformer.json"
BASELINE_FILE = "baseline.json"
BASELINE_QUANTILES = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]  # decile bins, the usual PSI binning
SCHEMA_FILE = "schema.json"
FORMAT_VERSION = 1
PROBLEM_TYPES = ("auto", "regression", "binary", "multiclass")
# Whole-number targets with at most this many distinct values are inferred to be classes (codes such as 0..9).
MAX_INFERRED_NUMERIC_CLASSES = 10
# More distinct labels than this are not classes (an id or a free-text column, or a mistyped number).
MAX_CLASSES = 100


class InputError(Exception):
    """A problem with the user's data or arguments: reported as one line, exit status 2."""


# ---------------------------------------------------------------------------------------------------------------
# Shared with serving (features/inference.py): parse CSV rows, apply the fitted transformer.


def parse_rows(body: bytes, transformer: dict) -> pd.DataFrame:
    """CSV rows of the raw feature columns (training order, no header, no target) -> one column per feature.

    Fast path: pandas' C parser with fixed dtypes and vectorised checks; only on failure is the bad row located.
    """
    names = [column["name"] for column in transformer["columns"]]
    dtypes = {column["name"]: _dtype(column) for column in transformer["columns"]}
    if not body or body.isspace():
        return pd.DataFrame({name: pd.Series([], dtype=dtype) for name, dtype in dtypes.items()})
    try:
        with warnings.catch_warnings():
            # Too many fields in the first row is only a warning (pandas drops the extra fields): make it an error.
            warnings.simplefilter("error", pd.errors.ParserWarning)
            frame = pd.read_csv(
                io.BytesIO(body), header=None, names=names, dtype=dtypes, skip_blank_lines=False, index_col=False
            )
    except (ValueError, pd.errors.ParserWarning) as error:  # pandas' ParserError is a ValueError too
        raise _locate_bad_row(body, transformer, error) from None
    # pandas rejects rows with too many fields but pads short ones with NaN, which reaches the last column:
    # count fields only when that column has a missing value.
    if frame[names[-1]].isna().any() and not _field_counts_match(body, len(frame), len(names)):
        raise _locate_bad_row(body, transformer, None)
    return frame


def transform(frame: pd.DataFrame, transformer: dict) -> np.ndarray:
    """Numeric columns: median impute + standard scale; categorical: most-frequent impute + one-hot.

    Returns a float32 matrix: the numeric block first, then each categorical column's one-hot block."""
    numeric = [column for column in transformer["columns"] if column["kind"] == "numeric"]
    categorical = [column for column in transformer["columns"] if column["kind"] == "categorical"]
    width = len(numeric) + sum(len(column["categories"]) for column in categorical)
    features = np.zeros((len(frame), width), dtype=np.float32)
    if numeric:
        values = frame[[column["name"] for column in numeric]].to_numpy(dtype=np.float64)
        medians, means, scales = (np.array([column[key] for column in numeric]) for key in ("median", "mean", "scale"))
        values = np.where(np.isnan(values), medians, values)
        features[:, : len(numeric)] = (values - means) / scales
    offset = len(numeric)
    for column in categorical:
        _one_hot(frame[column["name"]], column, features[:, offset : offset + len(column["categories"])])
        offset += len(column["categories"])
    return features


def _one_hot(values: pd.Series, column: dict, block: np.ndarray) -> None:
    """Write the one-hot encoding of `values` into `block`; unseen categories stay all-zero."""
    if not column["categories"]:
        return
    filled = np.asarray(values.fillna(column["most_frequent"]).to_numpy(dtype=object), dtype=str)
    categories = np.array(column["categories"], dtype=str)  # sorted when fitted, so searchsorted finds them
    positions = np.minimum(np.searchsorted(categories, filled), len(categories) - 1)
    known = categories[positions] == filled
    block[np.flatnonzero(known), positions[known]] = 1.0


def _dtype(column: dict):
    return np.float64 if column["kind"] == "numeric" else object


def _field_counts_match(body: bytes, row_count: int, field_count: int) -> bool:
    if b'"' in body:  # quoted fields may hold commas or newlines: count properly
        return all(len(fields) == field_count for fields in _csv_records(body))
    return body.count(b",") == row_count * (field_count - 1)


def _csv_records(body: bytes):
    return csv.reader(io.StringIO(body.decode("utf-8")))


def _locate_bad_row(body: bytes, transformer: dict, parser_error) -> ValueError:
    """The first row with the wrong number of fields or a non-numeric value in a numeric column (1-based)."""
    names = [column["name"] for column in transformer["columns"]]
    for row, fields in enumerate(_csv_records(body), start=1):
        if len(fields) != len(names):
            return ValueError(f"row {row}: expected {len(names)} fields, got {len(fields)}")
    text = pd.read_csv(io.BytesIO(body), header=None, names=names, dtype=object, skip_blank_lines=False)
    first_bad = []
    for column in transformer["columns"]:
        if column["kind"] == "numeric":
            raw = text[column["name"]]
            bad = np.flatnonzero((pd.to_numeric(raw, errors="coerce").isna() & raw.notna()).to_numpy())
            if len(bad):
                first_bad.append((bad[0], column["name"], raw.iloc[bad[0]]))
    if first_bad:
        row, name, value = min(first_bad, key=lambda item: item[0])
        return ValueError(f"row {row + 1}: column '{name}' has a non-numeric value {value!r}")
    return ValueError(f"could not parse the request as CSV: {parser_error}")


# ---------------------------------------------------------------------------------------------------------------
# The processing job.


def main(argv=None) -> int:
    args = _parse_args(argv)
    try:
        build_features(args)
    except InputError as error:
        report_failure(args.message_file, f"preprocess: {error}")
        return 2
    return 0


def report_failure(message_file: Path, sentence: str) -> None:
    """The sentence on stderr (the job log) and in the processing job's message file: SageMaker returns its first
    1 KB as DescribeProcessingJob's ExitMessage ("Save and Access Metadata Information About Your Processing Job")."""
    print(sentence, file=sys.stderr)
    message_file.parent.mkdir(parents=True, exist_ok=True)
    message_file.write_text(sentence + "\n", encoding="utf-8")


def _parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--target-column", required=True)
    parser.add_argument(
        "--problem-type", default="auto", help="auto (infer from the target), " + ", ".join(PROBLEM_TYPES[1:])
    )
    parser.add_argument("--categorical-columns", default="", help='comma-separated, e.g. "a,b"; may be empty')
    parser.add_argument("--validation-ratio", type=float, default=0.15)
    parser.add_argument("--test-ratio", type=float, default=0.15)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--input-dir", type=Path, default=Path("/opt/ml/processing/input/data"))
    parser.add_argument("--output-dir", type=Path, default=Path("/opt/ml/processing/output"))
    parser.add_argument(
        "--serving-code-dir",
        type=Path,
        default=Path("/opt/ml/processing/input/serving_code"),
        help="folder with the features container's code archive (*.gz), packed into model.tar.gz under code/",
    )
    parser.add_argument("--message-file", type=Path, default=Path("/opt/ml/output/message"))
    return parser.parse_args(argv)


def build_features(args) -> None:
    _check_ratios(args.validation_ratio, args.test_ratio)
    if args.problem_type not in PROBLEM_TYPES:
        raise InputError(f"--problem-type {args.problem_type!r} is not one of {', '.join(PROBLEM_TYPES)}")
    serving_code = _serving_code(args.serving_code_dir)
    data, target, frame, problem_type, classes = _load(args)
    train, validation, test = _split(len(frame), args.validation_ratio, args.test_ratio, args.seed)
    if min(len(train), len(validation)) == 0:
        raise InputError(f"{len(frame)} rows are too few to split into train, validation and test")
    transformer = fit(frame.iloc[train], args.target_column)
    schema = {
        "target_column": args.target_column,
        "problem_type": problem_type,
        "classes": classes,
        "feature_names": transformer["feature_names"],
    }
    transformer["schema"] = schema  # the label encoding travels with the features artifact too
    out = args.output_dir
    for name, rows in (("train", train), ("validation", validation)):
        _write_matrix(out / name / f"{name}.csv", target[rows], transform(frame.iloc[rows], transformer))
    (out / "test").mkdir(parents=True, exist_ok=True)
    data.iloc[test].to_csv(out / "test" / "test.csv", index=False)
    (out / "schema").mkdir(parents=True, exist_ok=True)
    (out / "schema" / SCHEMA_FILE).write_text(json.dumps(schema, indent=1), encoding="utf-8")
    baseline = feature_baseline(frame.iloc[train])
    _write_model_artifact(out / "model" / "model.tar.gz", transformer, serving_code, baseline)
    print(
        f"rows: train={len(train)} validation={len(validation)} test={len(test)}; "
        f"features: {len(transformer['feature_names'])} from {len(transformer['columns'])} columns; "
        f"problem type: {problem_type}" + (f" ({len(classes)} classes: {', '.join(classes[:10])})" if classes else "")
    )


def _load(args):
    """(raw rows that have a target, their encoded target, the typed feature columns, problem type, classes)."""
    data = _read_inputs(args.input_dir)
    raw = _target_column(data, args.target_column)
    data = data[raw.notna().to_numpy()]
    problem_type, classes, target = encode_target(raw[raw.notna()], args.target_column, args.problem_type)
    listed = [name.strip() for name in args.categorical_columns.split(",") if name.strip()]
    frame = _typed_features(data.drop(columns=[args.target_column]), listed)
    if frame.shape[1] == 0:
        raise InputError(f"no feature columns besides the target {args.target_column!r}")
    return data, target, frame, problem_type, classes


def _check_ratios(validation_ratio: float, test_ratio: float) -> None:
    if not (0 < validation_ratio < 1 and 0 <= test_ratio < 1 and validation_ratio + test_ratio < 1):
        raise InputError(
            f"--validation-ratio {validation_ratio} and --test-ratio {test_ratio}: need 0 < validation < 1, "
            "0 <= test < 1 and their sum < 1"
        )


def _read_inputs(input_dir: Path) -> pd.DataFrame:
    """Every *.csv below input_dir, as text (missing values as NaN), concatenated in path order."""
    paths = sorted(input_dir.rglob("*.csv"))
    if not paths:
        raise InputError(f"no *.csv files under {input_dir}")
    frames = []
    for path in paths:
        frame = pd.read_csv(path, dtype=object)
        if frames and list(frame.columns) != list(frames[0].columns):
            raise InputError(f"{path} has columns {list(frame.columns)}, but {paths[0]} has {list(frames[0].columns)}")
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def _target_column(data: pd.DataFrame, target_column: str) -> pd.Series:
    """The target column as text; rows without a value are dropped (and counted)."""
    if target_column not in data.columns:
        raise InputError(f"target column {target_column!r} not found; the columns are {list(data.columns)}")
    raw = data[target_column]
    if raw.notna().sum() == 0:
        raise InputError(f"target column {target_column!r} has no values")
    if raw.isna().any():
        print(f"dropping {int(raw.isna().sum())} rows without a target value")
    return raw


def encode_target(raw: pd.Series, target_column: str, problem_type: str = "auto"):
    """(problem type, classes, target as float64: the value, or the class index) for the present target values."""
    numbers = pd.to_numeric(raw, errors="coerce")
    text = numbers.isna()  # present but not a number
    labels = raw.astype(str) if text.any() else numbers.map(_number_label)
    distinct = labels.nunique()
    resolved = problem_type if problem_type != "auto" else _infer(numbers, text, distinct)
    _check_fits(resolved, problem_type, target_column, raw, text, distinct)
    if resolved == "regression":
        return resolved, [], numbers.to_numpy(dtype=np.float64)
    # Numbers sort by value (2 before 10), text by code point.
    classes = sorted(labels.unique()) if text.any() else [_number_label(value) for value in sorted(numbers.unique())]
    index = {label: position for position, label in enumerate(classes)}
    return resolved, classes, labels.map(index).to_numpy(dtype=np.float64)


def _number_label(value: float) -> str:
    """A numeric label as text: 1.0 -> "1", 0.5 -> "0.5"."""
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def _infer(numbers: pd.Series, text: pd.Series, distinct: int) -> str:
    if text.any() or distinct == 2:
        return "binary" if distinct == 2 else "multiclass"
    whole = bool((numbers == numbers.round()).all())
    return "multiclass" if whole and 3 <= distinct <= MAX_INFERRED_NUMERIC_CLASSES else "regression"


def _check_fits(resolved: str, requested: str, target_column: str, raw: pd.Series, text: pd.Series, distinct: int):
    """One sentence when the target's values do not fit the (requested or inferred) problem type."""
    if requested == "auto":
        where = f"target column {target_column!r} (problem type inferred as {resolved}, setting problem_type=auto)"
    else:
        where = f"setting problem_type={requested}, but target column {target_column!r}"
    if resolved == "regression" and text.any():
        row = int(np.flatnonzero(text.to_numpy())[0])
        raise InputError(f"{where} has the non-numeric value {raw.iloc[row]!r} (row {row + 1})")
    if resolved == "binary" and distinct != 2:
        raise InputError(f"{where} has {distinct} distinct values; binary needs exactly 2")
    if resolved == "multiclass" and not 3 <= distinct <= MAX_CLASSES:
        advice = "use binary for 2" if distinct == 2 else f"multiclass needs 3 to {MAX_CLASSES}"
        if text.any() and distinct > MAX_CLASSES:
            row = int(np.flatnonzero(text.to_numpy())[0])
            advice += f"; its first non-numeric value is {raw.iloc[row]!r} (row {row + 1}), fix it for regression"
        raise InputError(f"{where} has {distinct} distinct values; {advice}")


def _typed_features(features: pd.DataFrame, listed_categorical: list) -> pd.DataFrame:
    """Numeric columns as float64; listed columns and any column with a non-numeric value stay text."""
    unknown = sorted(set(listed_categorical) - set(features.columns))
    if unknown:
        raise InputError(f"categorical columns {unknown} not found; the feature columns are {list(features.columns)}")
    typed = {}
    for name in features.columns:
        numbers = pd.to_numeric(features[name], errors="coerce")
        is_numeric = name not in listed_categorical and numbers.notna().sum() == features[name].notna().sum()
        typed[name] = numbers.astype(np.float64) if is_numeric else features[name].astype(object)
    return pd.DataFrame(typed)


def _split(row_count: int, validation_ratio: float, test_ratio: float, seed: int):
    """Row positions for train, validation, test: a seeded permutation (RandomState is stable across numpy)."""
    order = np.random.RandomState(seed).permutation(row_count)
    test_count = int(round(row_count * test_ratio))
    validation_count = int(round(row_count * validation_ratio))
    test, validation = order[:test_count], order[test_count : test_count + validation_count]
    return np.sort(order[test_count + validation_count :]), np.sort(validation), np.sort(test)


def fit(train: pd.DataFrame, target_column: str) -> dict:
    """Fitted parameters and the input schema, as JSON-ready values."""
    columns = [
        _fit_numeric(name, train[name]) if train[name].dtype == np.float64 else _fit_categorical(name, train[name])
        for name in train.columns
    ]
    numeric = [column["name"] for column in columns if column["kind"] == "numeric"]
    one_hot = [f"{column['name']}={category}" for column in columns if column["kind"] == "categorical"
               for category in column["categories"]]  # fmt: skip
    return {
        "format_version": FORMAT_VERSION,
        "target_column": target_column,
        "columns": columns,
        "feature_names": numeric + one_hot,
    }


def _fit_numeric(name: str, values: pd.Series) -> dict:
    observed = values.dropna().to_numpy()
    median = float(np.median(observed)) if len(observed) else 0.0
    imputed = values.fillna(median).to_numpy()
    scale = float(np.std(imputed))
    return {
        "name": name,
        "kind": "numeric",
        "median": median,
        "mean": float(np.mean(imputed)),
        "scale": scale if scale > 0 else 1.0,  # a constant column: centre only, as StandardScaler does
    }


def _fit_categorical(name: str, values: pd.Series) -> dict:
    counts = values.dropna().astype(str).value_counts()
    # Most frequent, ties to the smallest value (as scikit-learn's SimpleImputer does).
    most_frequent = min(counts.index[counts == counts.max()]) if len(counts) else "missing"
    categories = sorted(set(counts.index) | {most_frequent})
    return {"name": name, "kind": "categorical", "most_frequent": most_frequent, "categories": categories}


def feature_baseline(train: pd.DataFrame) -> dict:
    """baseline.json: each raw feature column's distribution on the training split (module docstring)."""
    columns = [
        {"name": name, **(numeric_baseline(train[name].to_numpy()) if train[name].dtype == np.float64
                           else categorical_baseline(train[name]))}
        for name in train.columns
    ]  # fmt: skip
    return {"format_version": FORMAT_VERSION, "rows": len(train), "columns": columns}


def numeric_baseline(values: np.ndarray) -> dict:
    """Decile bin edges and shares of the non-null values, and the null rate (evaluate.py keeps a copy for the
    predictions; the drift check bins scored rows with the same rule)."""
    values = np.asarray(values, dtype=float)
    present = values[~np.isnan(values)]
    edges = np.unique(np.quantile(present, BASELINE_QUANTILES)) if len(present) else np.array([])
    counts = np.bincount(np.searchsorted(edges, present, side="right"), minlength=len(edges) + 1)
    return {
        "kind": "numeric",
        "edges": [float(edge) for edge in edges],
        "proportions": [float(count) / max(len(present), 1) for count in counts],
        "null_rate": 1.0 - len(present) / len(values) if len(values) else 0.0,
    }


def categorical_baseline(values: pd.Series) -> dict:
    present = values.dropna().astype(str)
    shares = present.value_counts(normalize=True)
    return {
        "kind": "categorical",
        "frequencies": {str(level): float(share) for level, share in sorted(shares.items())},
        "null_rate": 1.0 - len(present) / len(values) if len(values) else 0.0,
    }


def _write_matrix(path: Path, target: np.ndarray, features: np.ndarray) -> None:
    """Target first, no header: the layout SageMaker's built-in algorithms read too.
    Features are float32, so 9 significant digits write them exactly."""
    path.parent.mkdir(parents=True, exist_ok=True)
    formats = ["%.15g"] + ["%.9g"] * features.shape[1]
    np.savetxt(path, np.column_stack([target, features.astype(np.float64)]), fmt=formats, delimiter=",")


def _serving_code(folder: Path) -> dict[str, bytes]:
    """{file name: content} of the one code archive in `folder` (CDK stores a .tar.gz asset as "<hash>.gz")."""
    archives = sorted(folder.glob("*.gz")) if folder.is_dir() else []
    if len(archives) != 1:
        raise InputError(
            f"--serving-code-dir {folder} must hold exactly one code archive (*.gz), found {len(archives)}"
        )
    with tarfile.open(archives[0], "r:gz") as archive:
        files = {
            os.path.normpath(member.name): archive.extractfile(member).read() for member in archive if member.isfile()
        }
    if "inference.py" not in files or any(name.startswith("..") or os.path.isabs(name) for name in files):
        raise InputError(f"{archives[0]} must hold inference.py at its root and no paths outside it")
    return files


def _write_model_artifact(path: Path, transformer: dict, serving_code: dict[str, bytes], baseline: dict) -> None:
    """transformer.json and baseline.json at the root, the serving code under code/ (where
    SAGEMAKER_SUBMIT_DIRECTORY points)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    entries = {
        TRANSFORMER_FILE: json.dumps(transformer, indent=1).encode("utf-8"),
        BASELINE_FILE: json.dumps(baseline, indent=1).encode("utf-8"),
    }
    entries.update({f"code/{name}": data for name, data in sorted(serving_code.items())})
    with tarfile.open(path, "w:gz") as archive:
        for name, data in entries.items():
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o644
            archive.addfile(info, io.BytesIO(data))


if __name__ == "__main__":
    sys.exit(main())
