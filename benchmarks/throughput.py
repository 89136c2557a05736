"""Serial-inference throughput: the two containers' handler chain on one ~6 MB CSV request, beside
(a) the limit: one process doing only the unavoidable work (parse the CSV once, transform, predict, format the
    CSV response), with no hand-off between containers, and
(b) the JSON hand-off common examples use (container 1 returns JSON lists, container 2 parses JSON).
(c) for the sklearn flavour, what users would pick instead: the same transformer and model as one scikit-learn
    Pipeline, behind the SageMaker inference toolkit's default CSV decoding and encoding (toolkit_pipeline).
All run alternately in the same process on the same request and the same fitted artifacts."""

from __future__ import annotations

import importlib.util
import io
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.artifacts import CODE, TARGET, Artifacts, housing
from benchmarks.timing import alternate

REQUEST_BYTES = 6 * 1024 * 1024


def _module(path: Path, name: str):
    sys.path.insert(0, str(path.parent))
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def request_body(max_bytes: int = REQUEST_BYTES) -> tuple[bytes, int]:
    """California housing feature rows (repeated as needed) as one CSV request of at most `max_bytes`."""
    rows = housing().drop(columns=[TARGET]).to_csv(index=False, header=False).encode().splitlines()
    lines, size = [], 0
    while size < max_bytes:
        for line in rows:
            if size + len(line) + 1 > max_bytes:
                break
            lines.append(line)
            size += len(line) + 1
        else:
            continue
        break
    return b"\n".join(lines) + b"\n", len(lines)


@dataclass
class Handlers:
    """Both containers' handlers loaded in this process, with their models."""

    features: Any
    transformer: dict
    model_code: Any
    model: Any

    def limit(self, body: bytes) -> bytes:
        """The one-process limit (P1): parse the CSV once, transform, predict, format the CSV response."""
        matrix = self.features.transform(self.features.parse_rows(body, self.transformer), self.transformer)
        return self.model_code.output_fn(self.model_code.predict_fn(matrix, self.model), "text/csv")[0]


def load_handlers(artifacts: Artifacts) -> Handlers:
    features = _module(CODE / "features" / "inference.py", "bench_features_inference")
    model_code = _module(CODE / f"{artifacts.flavour}_model" / "inference.py", f"bench_{artifacts.flavour}_inference")
    return Handlers(
        features,
        features.model_fn(str(artifacts.features_dir)),
        model_code,
        model_code.model_fn(str(artifacts.model_dir)),
    )


def measure(artifacts: Artifacts, repeats: int = 7, max_bytes: int = REQUEST_BYTES) -> dict:
    handlers = load_handlers(artifacts)
    features, transformer = handlers.features, handlers.transformer
    model_code, model = handlers.model_code, handlers.model
    body, rows = request_body(max_bytes)

    def ours() -> bytes:
        matrix, content_type = features.output_fn(
            features.predict_fn(features.input_fn(body, "text/csv"), transformer), "application/x-npy"
        )
        predictions = model_code.predict_fn(model_code.input_fn(matrix, content_type), model)
        return model_code.output_fn(predictions, "text/csv")[0]

    def json_hand_off() -> bytes:
        matrix = features.predict_fn(features.input_fn(body, "text/csv"), transformer)
        handed_over = json.dumps(matrix.tolist()).encode()
        received = np.asarray(json.loads(handed_over), dtype=np.float32)
        return model_code.output_fn(model_code.predict_fn(received, model), "text/csv")[0]

    # The hand-off alone (container 1's response encoded and decoded by container 2), and the model's share of
    # the limit: the ceiling on any ours/JSON ratio is (limit + JSON hand-off) / limit.
    matrix = features.predict_fn(features.input_fn(body, "text/csv"), transformer)

    def npy_hand_off_only():
        encoded, content_type = features.output_fn(matrix, "application/x-npy")
        return model_code.input_fn(encoded, content_type)

    def json_hand_off_only():
        return np.asarray(json.loads(json.dumps(matrix.tolist()).encode()), dtype=np.float32)

    assert ours() == handlers.limit(body), "the chain and the limit must give the same response"
    contenders = {
        "ours": ours,
        "limit": lambda: handlers.limit(body),
        "json": json_hand_off,
        "npy_hand_off": npy_hand_off_only,
        "json_hand_off": json_hand_off_only,
        "predict": lambda: model_code.predict_fn(matrix, model),
    }
    if artifacts.flavour == "sklearn":
        toolkit = toolkit_pipeline(transformer, model)
        differences = _compare_with_toolkit(toolkit, features, transformer, body, ours())
        contenders["toolkit"] = lambda: toolkit(body)
    medians = alternate(contenders, repeats)
    per_second = {name: rows / medians[name] for name in ("ours", "limit", "json", "toolkit") if name in medians}
    return {
        **(
            {
                "toolkit_rows_per_s": round(per_second["toolkit"]),
                "ours_over_toolkit": round(per_second["ours"] / per_second["toolkit"], 2),
                **differences,
            }
            if "toolkit" in per_second
            else {}
        ),
        "request_mb": round(len(body) / 1024 / 1024, 2),
        "rows": rows,
        "ours_rows_per_s": round(per_second["ours"]),
        "limit_rows_per_s": round(per_second["limit"]),
        "json_rows_per_s": round(per_second["json"]),
        "ours_over_limit": round(per_second["ours"] / per_second["limit"], 3),
        "ours_over_json": round(per_second["ours"] / per_second["json"], 2),
        "hand_off_npy_seconds": round(medians["npy_hand_off"], 4),
        "hand_off_json_seconds": round(medians["json_hand_off"], 4),
        "hand_off_json_over_npy": round(medians["json_hand_off"] / medians["npy_hand_off"], 1),
        "predict_share_of_limit": round(medians["predict"] / medians["limit"], 2),
        "runs_each": repeats,
    }


def toolkit_pipeline(transformer: dict, model):
    """The same transformer and model as one scikit-learn Pipeline (toolkit_estimator) served the way the SageMaker
    scikit-learn container serves a model without input_fn/output_fn: its default_input_fn decodes text/csv with
    np.genfromtxt(StringIO(text), delimiter=",") and casts to float32, its default_output_fn encodes with
    np.savetxt(stream, prediction, delimiter=",", fmt="%s") (aws/sagemaker-scikit-learn-container serving.py;
    sagemaker_inference decoder._csv_to_numpy and encoder._array_to_csv follow the same rules)."""
    pipeline = toolkit_estimator(transformer, model)

    def decode(body: bytes) -> np.ndarray:
        return np.genfromtxt(io.StringIO(body.decode("utf-8")), delimiter=",").astype(np.float32)

    def serve(body: bytes) -> bytes:
        stream = io.StringIO()
        np.savetxt(stream, pipeline.predict(decode(body)), delimiter=",", fmt="%s")
        return stream.getvalue().encode("utf-8")

    serve.features = lambda body: pipeline[:-1].transform(decode(body))
    return serve


def toolkit_estimator(transformer: dict, model):
    """A median imputer and a standard scaler carrying the fitted transformer's own statistics, so both paths
    compute the same features, then `model`."""
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    columns = transformer["columns"]
    if any(column["kind"] != "numeric" for column in columns):
        raise ValueError("the toolkit comparison covers numeric columns only (the demo data)")
    imputer = SimpleImputer(strategy="median").fit(np.zeros((1, len(columns))))
    imputer.statistics_ = np.array([column["median"] for column in columns])
    scaler = StandardScaler().fit(np.zeros((2, len(columns))))
    scaler.mean_ = np.array([column["mean"] for column in columns])
    scaler.scale_ = np.array([column["scale"] for column in columns])
    return Pipeline([("impute", imputer), ("scale", scaler), ("model", model)])


def _compare_with_toolkit(toolkit, features, transformer, body: bytes, ours: bytes) -> dict:
    """Same features (to float32 rounding), and how far the predictions move: the toolkit casts the raw values to
    float32 before scaling, and boosted trees put bin thresholds exactly on repeated training values, so a
    1e-7 shift moves some rows to the other side of a split."""
    ours_features = features.transform(features.parse_rows(body, transformer), transformer)
    assert np.allclose(toolkit.features(body), ours_features, atol=1e-5), "both paths must compute the same features"
    a, b = (np.loadtxt(io.BytesIO(response), ndmin=1) for response in (ours, toolkit(body)))
    assert a.shape == b.shape, "both paths must answer every row"
    return {
        "toolkit_predictions_differing_share": round(float(np.mean(np.abs(a - b) > 1e-6)), 3),
        "toolkit_max_abs_prediction_difference": round(float(np.abs(a - b).max()), 4),
    }
