"""Drift check (SageMaker processing job, run in the approved version's features image).

Compares the rows one scoring transform job scored, and its predictions, with the version's training baseline
(drift_baseline.json: Preprocess's baseline.json plus Evaluate's prediction distribution) and writes drift.json:
  /opt/ml/processing/baseline/drift_baseline.json   the version's baseline (DriftCheckBaselines.ModelDataQuality)
  /opt/ml/processing/input/**/*.out                  the transform job's output: each input row, then its prediction
  /opt/ml/processing/output/drift.json               per feature the statistics, threshold and `drifted`

Per numeric feature: the population stability index (PSI) on the training decile bins, the Kolmogorov-Smirnov
distance evaluated at those bin edges (the largest gap between the two cumulative shares), and the null rate; per
categorical feature: PSI over the training levels plus one bin for unseen levels, the L-infinity distance of the
level shares (Model Monitor's categorical distance), the share of unseen levels; and the same for the predictions
(numbers binned like a numeric feature, labels like a categorical one). A feature has drifted when its PSI is above
--psi-threshold or its null rate moved by more than --null-rate-threshold. Fewer rows than --min-rows are not
judged (PSI of a small sample is large by chance: README, "Drift check").

The output is read in blocks of BLOCK_BYTES by one process per vCPU and only counts are kept, so memory does not
grow with the rows. The features are the last fields before the prediction fields of each line, so an id column an
InputFilter skipped stays out of the way. Paths are arguments (defaults: the SageMaker paths above), so the script runs
the same on a laptop, in local mode and in AWS.
"""

from __future__ import annotations

import argparse
import csv
import functools
import io
import json
import multiprocessing
import os
import sys
from pathlib import Path

import numpy as np
import pandas as pd

BASELINE_FILE = "drift_baseline.json"
DRIFT_FILE = "drift.json"
PROCESSING = Path("/opt/ml/processing")
# Bytes per block a worker parses at once (about 250,000 lines of 8 features): each worker holds one block and its
# frame, so memory does not grow with the rows.
BLOCK_BYTES = 16 * 1024 * 1024


class InputError(ValueError):
    """Input the check cannot use; the job fails with this sentence."""


def bin_counts(values: np.ndarray, edges: list[float]) -> np.ndarray:
    """Counts per bin of the non-null `values`; bin i holds edges[i-1] <= x < edges[i] (len(edges) + 1 bins), the
    rule Preprocess's baseline.json uses (container_code/features/preprocess.py, numeric_baseline). Counted as
    "how many are below each edge", a few vectorized comparisons, three times faster than a search per value."""
    present = values[~np.isnan(values)]
    below = [int(np.count_nonzero(present < edge)) for edge in edges]
    return np.diff(np.array([0, *below, len(present)], dtype=np.int64))


def psi(expected: np.ndarray, actual_counts: np.ndarray) -> float:
    """Population stability index: sum of (a - e) * ln(a / e) over the bins, with the sample's shares smoothed by
    half a count per bin and both floored, so an empty bin gives a large but finite term."""
    total = actual_counts.sum()
    actual = (actual_counts + 0.5) / (total + 0.5 * len(actual_counts))
    expected = np.maximum(np.asarray(expected, dtype=float), 1e-6)
    return float(np.sum((actual - expected) * np.log(actual / expected)))


def ks_at_edges(expected: np.ndarray, actual_counts: np.ndarray) -> float:
    """Largest gap between the two cumulative shares at the bin edges."""
    total = actual_counts.sum()
    if total == 0:
        return 0.0
    return float(np.max(np.abs(np.cumsum(expected) - np.cumsum(actual_counts / total))))


class _Numeric:
    def __init__(self, baseline: dict):
        self.baseline = baseline
        self.counts = np.zeros(len(baseline["edges"]) + 1, dtype=np.int64)
        self.nulls = 0

    def add(self, values: pd.Series) -> None:
        numbers = values.to_numpy(dtype=float)
        self.nulls += int(np.isnan(numbers).sum())
        self.counts += bin_counts(numbers, self.baseline["edges"])

    def merge(self, other: _Numeric) -> None:
        self.counts += other.counts
        self.nulls += other.nulls

    def result(self, rows: int) -> dict:
        expected = np.asarray(self.baseline["proportions"], dtype=float)
        return {
            "kind": "numeric",
            "psi": _round(psi(expected, self.counts)) if self.counts.sum() else 0.0,
            "ks": _round(ks_at_edges(expected, self.counts)),
            **_null_rates(self.nulls, rows, self.baseline),
        }


class _Categorical:
    def __init__(self, baseline: dict):
        self.baseline = baseline
        self.counts: dict[str, int] = {}
        self.nulls = 0

    def add(self, values: pd.Series) -> None:
        self.nulls += int(values.isna().sum())
        for level, count in values.dropna().astype(str).value_counts().items():
            self.counts[level] = self.counts.get(level, 0) + int(count)

    def merge(self, other: _Categorical) -> None:
        for level, count in other.counts.items():
            self.counts[level] = self.counts.get(level, 0) + count
        self.nulls += other.nulls

    def result(self, rows: int) -> dict:
        known = self.baseline["frequencies"]
        levels = sorted(known)
        seen = sum(self.counts.values())
        unseen = {level: count for level, count in self.counts.items() if level not in known}
        counts = np.array([self.counts.get(level, 0) for level in levels] + [sum(unseen.values())])
        expected = np.array([known[level] for level in levels] + [0.0])
        shares = counts / seen if seen else np.zeros(len(counts))
        return {
            "kind": "categorical",
            "psi": _round(psi(expected, counts)) if seen else 0.0,
            "linf": _round(float(np.max(np.abs(shares - expected)))),
            "unseen_share": _round(counts[-1] / seen) if seen else 0.0,
            "unseen_levels": sorted(unseen, key=lambda level: (-unseen[level], level))[:5],
            **_null_rates(self.nulls, rows, self.baseline),
        }


def _null_rates(nulls: int, rows: int, baseline: dict) -> dict:
    rate = nulls / rows if rows else 0.0
    return {
        "null_rate": _round(rate),
        "baseline_null_rate": baseline["null_rate"],
        "null_rate_change": _round(abs(rate - baseline["null_rate"])),
    }


def _round(value: float) -> float:
    return round(float(value), 6)


def _summary(baseline: dict) -> dict:
    return _Numeric(baseline) if baseline["kind"] == "numeric" else _Categorical(baseline)


def check(
    baseline: dict, files: list[Path], thresholds: dict, workers: int = 1, block_bytes: int = BLOCK_BYTES
) -> dict:
    """drift.json's content for the transform output `files`, read in blocks of about `block_bytes` by `workers`
    processes (the instance's vCPUs: parsing the numbers is most of the work)."""
    blocks = list(_blocks(files, baseline, block_bytes))
    if workers > 1 and len(blocks) > 1:
        with multiprocessing.get_context("fork").Pool(min(workers, len(blocks))) as pool:
            parts = pool.imap_unordered(functools.partial(count_block, baseline), blocks)
            total = functools.reduce(_merge, parts, _Counts(baseline))
    else:
        total = functools.reduce(_merge, (count_block(baseline, block) for block in blocks), _Counts(baseline))
    return _report(total, thresholds)


class _Counts:
    """Row count and one summary per feature column and for the prediction: what a block adds up to."""

    def __init__(self, baseline: dict):
        self.rows = 0
        self.features = {column["name"]: _summary(column) for column in baseline["columns"]}
        self.prediction = _summary(baseline["prediction"])


def _merge(total: _Counts, part: _Counts) -> _Counts:
    total.rows += part.rows
    for name, summary in part.features.items():
        total.features[name].merge(summary)
    total.prediction.merge(part.prediction)
    return total


def count_block(baseline: dict, block: tuple) -> _Counts:
    """The counts of one block (path, start, end, first feature field): the lines that start in [start, end)."""
    path, start, end, first = block
    columns = baseline["columns"]
    kinds = [column["kind"] for column in columns] + [baseline["prediction"]["kind"]]
    types = {first + index: float if kind == "numeric" else str for index, kind in enumerate(kinds)}
    counts = _Counts(baseline)
    data = _read_lines(path, start, end)
    if not data.strip():
        return counts
    try:
        frame = pd.read_csv(
            io.BytesIO(data), header=None, usecols=list(types), dtype=types, keep_default_na=False, na_values=[""]
        )
    except ValueError as error:
        raise InputError(f"{path.name}: a numeric feature has a value that is not a number ({error})") from None
    counts.rows = len(frame)
    for index, column in enumerate(columns):
        counts.features[column["name"]].add(frame.iloc[:, index])
    counts.prediction.add(frame.iloc[:, len(columns)])
    return counts


def _read_lines(path: Path, start: int, end: int) -> bytes:
    """The bytes of the lines that start at an offset in [start, end): the line running over `start` belongs to
    the block before, the one running over `end` to this one."""
    with path.open("rb") as handle:
        if start > 0:
            handle.seek(start - 1)
            handle.readline()
        position = handle.tell()
        if position >= end:
            return b""
        data = handle.read(end - position)
        return data if data.endswith(b"\n") else data + handle.readline()


def _blocks(files: list[Path], baseline: dict, block_bytes: int):
    """(path, start, end, first feature field) per block of each non-empty file."""
    feature_count, prediction_fields = len(baseline["columns"]), baseline["prediction_fields"]
    for path in files:
        width = _field_count(path)
        if width is None:
            continue
        first = width - prediction_fields - feature_count
        if first < 0:
            raise InputError(
                f"{path.name} has {width} fields per line, fewer than the baseline's {feature_count} features "
                f"and {prediction_fields} prediction fields"
            )
        size = path.stat().st_size
        for start in range(0, size, block_bytes):
            yield path, start, min(start + block_bytes, size), first


def _report(total: _Counts, thresholds: dict) -> dict:
    rows = total.rows
    judged = rows >= thresholds["min_rows"]
    results = {name: _judge(summary.result(rows), thresholds, judged) for name, summary in total.features.items()}
    predicted = _judge(total.prediction.result(rows), thresholds, judged)
    drifted = [name for name, result in results.items() if result["drifted"]]
    return {
        "rows": rows,
        "checked": judged,
        "reason": "" if judged else f"{rows} rows are fewer than the minimum of {thresholds['min_rows']}",
        "thresholds": thresholds,
        "drifted": bool(drifted or predicted["drifted"]),
        "drifted_features": drifted,
        "prediction_drifted": predicted["drifted"],
        "features": results,
        "prediction": predicted,
    }


def _judge(result: dict, thresholds: dict, judged: bool) -> dict:
    result["psi_threshold"] = thresholds["psi"]
    result["drifted"] = judged and (
        result["psi"] > thresholds["psi"] or result["null_rate_change"] > thresholds["null_rate"]
    )
    return result


def _field_count(path: Path) -> int | None:
    """Fields of the first line, read as CSV (a quoted text value may hold commas); None for an empty file."""
    with path.open(encoding="utf-8", newline="") as handle:
        first_line = handle.readline().rstrip("\r\n")
    return len(next(csv.reader([first_line]))) if first_line else None


def main(argv=None) -> int:
    args = _parse_args(argv)
    try:
        report = _run(args)
    except InputError as error:
        _report_failure(args.message_file, f"drift check: {error}")
        return 2
    args.output_dir.mkdir(parents=True, exist_ok=True)
    (args.output_dir / DRIFT_FILE).write_text(json.dumps(report, indent=1), encoding="utf-8")
    print(
        f"drift: rows={report['rows']} checked={str(report['checked']).lower()} "
        f"drifted_features={','.join(report['drifted_features']) or 'none'} "
        f"prediction_drifted={str(report['prediction_drifted']).lower()}"
    )
    return 0


def _run(args) -> dict:
    baseline_file = args.baseline_dir / BASELINE_FILE
    if not baseline_file.is_file():
        raise InputError(f"no baseline: {baseline_file} is missing")
    baseline = json.loads(baseline_file.read_text(encoding="utf-8"))
    files = sorted(path for path in args.input_dir.rglob("*") if path.is_file())
    if not files:
        raise InputError(f"no transform output under {args.input_dir}")
    thresholds = {"psi": args.psi_threshold, "null_rate": args.null_rate_threshold, "min_rows": args.min_rows}
    workers = args.workers or os.cpu_count() or 1
    return {"transform_job": args.transform_job, **check(baseline, files, thresholds, workers)}


def _report_failure(message_file: Path, sentence: str) -> None:
    """As Preprocess does: the job log, and the message file whose first 1 KB is the job's ExitMessage."""
    print(sentence, file=sys.stderr)
    message_file.parent.mkdir(parents=True, exist_ok=True)
    message_file.write_text(sentence + "\n", encoding="utf-8")


def _parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--transform-job", required=True, help="the scoring transform job whose output is checked")
    parser.add_argument("--psi-threshold", type=float, default=0.2)
    parser.add_argument("--null-rate-threshold", type=float, default=0.1)
    parser.add_argument("--min-rows", type=int, default=500)
    parser.add_argument("--workers", type=int, default=0, help="processes that parse blocks; 0 = one per vCPU")
    parser.add_argument("--baseline-dir", type=Path, default=PROCESSING / "baseline")
    parser.add_argument("--input-dir", type=Path, default=PROCESSING / "input")
    parser.add_argument("--output-dir", type=Path, default=PROCESSING / "output")
    parser.add_argument("--message-file", type=Path, default=Path("/opt/ml/output/message"))
    return parser.parse_args(argv)


if __name__ == "__main__":
    sys.exit(main())
