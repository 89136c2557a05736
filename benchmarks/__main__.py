"""`python -m benchmarks [--quick] [--output FILE]`: the measured figures, as a table and as JSON.

1. serial-inference throughput against its limit and against a JSON hand-off (every flavour)
2. synth time against an empty CDK app (warm and cold)
3. local end to end: the sklearn demo's seconds with a per-stage breakdown
4. model quality: test RMSE per flavour beside a linear-regression baseline
5. classification quality: each flavour against the majority-class and logistic-regression baselines
5b. quality with its spread: each flavour's test metric, mean ± sd over 5 split seeds, beside the baselines on the
   same splits, on California housing and the bundled classification sets (benchmarks/spread.py; `--spread` alone)
6. real-time serving: requests/s and p50/p99 latency through the local predictions API for 1-row and 100-row
   requests, against the two containers' handlers called directly in one process (every flavour)
7. batch transform per instance: rows/s through the local transform path at today's default, with one
   single-threaded worker and at the defaults' pairing of workers, threads and requests in flight, beside the
   one-process limit, and instance-hours per million rows (benchmarks/concurrency.py; `--concurrency` alone)
8. the registry page on a group of 100 versions: the group view first and again, and a version view
   (benchmarks/registry_page.py; `--registry` alone)
`--drift` instead measures the drift check (benchmarks/drift.py): its cost beside the transform at 20k, 200k and 2M
rows, false alarms at 1,000 and 100 rows and the smallest MedInc shift detected at 1,000 rows.
`--tuning` instead measures tuning (benchmarks/tuning.py): per flavour (`--tuning-flavours`), the best of
`--tuning-trials` trials by cross-validated objective against the defaults on the same 5 California split seeds,
and what the trials cost in training time.
`--scale` instead measures the scale curves (benchmarks/scale.py): seconds and peak memory of Preprocess, Train
and Transform at 20k, 200k and 2M rows, a plot (benchmarks/scale.png), and adds them to the results file.
Times are medians of alternating runs; ratios measured side by side are the figures that count."""

from __future__ import annotations

import argparse
import functools
import json
import os
import platform
import statistics
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from benchmarks import (
    artifacts,
    classification,
    concurrency,
    drift,
    realtime,
    registry_page,
    scale,
    spread,
    synth_time,
    throughput,
    tuning,
)
from scoreline.settings import FLAVOURS

# Short training for --quick: the smoke test checks the machinery, not the figures.
QUICK_HYPERPARAMETERS = {"sklearn": {"max-iter": "20"}, "pytorch": {"epochs": "2"}, "xgboost": {"num-round": "20"}}


def _row_counts(text: str) -> tuple[int, ...]:
    """--scale-rows: at least two positive row counts, as a curve needs two points."""
    try:
        counts = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not comma-separated whole numbers") from None
    if len(counts) < 2 or min(counts) < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: give at least two positive row counts (a curve needs two points)")
    return counts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="tiny inputs, one run each: checks that it all runs")
    parser.add_argument("--output", type=Path, default=Path(__file__).parent / "results.json")
    parser.add_argument("--scale", action="store_true", help="the scale curves only, added to the results file")
    parser.add_argument(
        "--scale-rows",
        type=_row_counts,
        default=scale.SIZES,
        help="row counts for --scale, comma-separated (default 20000,200000,2000000)",
    )
    parser.add_argument(
        "--scale-flavours",
        type=lambda text: tuple(text.split(",")),
        default=tuple(scale.TRAINING_HYPERPARAMETERS),
        help="training flavours for --scale, comma-separated (default: all)",
    )
    parser.add_argument("--plot", type=Path, default=Path(__file__).parent / "scale.png")
    parser.add_argument(
        "--realtime", action="store_true", help="the real-time serving figures only, added to the results file"
    )
    parser.add_argument(
        "--spread", action="store_true", help="the quality over split seeds only, added to the results file"
    )
    parser.add_argument(
        "--concurrency",
        action="store_true",
        help="the batch transform's workers and concurrency figures only, added to the results file",
    )
    parser.add_argument(
        "--drift", action="store_true", help="the drift check's figures only, added to the results file"
    )
    parser.add_argument(
        "--registry", action="store_true", help="the registry page on 100 versions only, added to the results file"
    )
    parser.add_argument("--tuning", action="store_true", help="tuning's quality and cost only, added to the results")
    parser.add_argument("--tuning-trials", type=int, default=tuning.TRIALS, help="trials per tuning job")
    parser.add_argument(
        "--tuning-flavours",
        type=lambda text: tuple(text.split(",")),
        default=FLAVOURS,
        help="flavours for --tuning, comma-separated (default: all)",
    )
    args = parser.parse_args(argv)
    if args.tuning:
        return _tuning(args)
    if args.registry:
        return _registry_alone(args)
    if args.drift:
        return _drift(args)
    if args.scale:
        return _scale(args)
    if args.realtime:
        return _alone(args, "realtime", _measure_realtime(args.quick), realtime.table_rows)
    if args.concurrency:
        return _alone(args, "concurrency", _measure_concurrency(args.quick), concurrency.table_rows)
    if args.spread:
        return _spread_alone(args)
    results = {"machine": _machine(), "quick": args.quick}
    with tempfile.TemporaryDirectory() as temporary:
        work = Path(temporary)
        results["quality"], trained = _quality(work, args.quick)
        results["throughput"] = {
            flavour: throughput.measure(
                trained[flavour],
                repeats=1 if args.quick else 7,
                max_bytes=256 * 1024 if args.quick else throughput.REQUEST_BYTES,
            )
            for flavour in FLAVOURS
        }
        results["realtime"] = {flavour: _measure_realtime(args.quick)(trained[flavour]) for flavour in FLAVOURS}
        results["concurrency"] = {flavour: _measure_concurrency(args.quick)(trained[flavour]) for flavour in FLAVOURS}
        quick = QUICK_HYPERPARAMETERS if args.quick else None
        results["classification"] = classification.measure(work, FLAVOURS, quick)
        results["spread"] = _measure_spread(work, args.quick)
    results["synth"] = synth_time.measure(1 if args.quick else 5)
    results["local_end_to_end"] = _local_end_to_end(1 if args.quick else 3)
    results["registry_page"] = registry_page.measure(repeats=1 if args.quick else 5)
    previous = json.loads(args.output.read_text()) if args.output.exists() else {}
    for alone in ("scale", "drift"):  # measured by --scale and --drift, on their own
        if alone in previous:
            results[alone] = previous[alone]
    args.output.write_text(json.dumps(results, indent=2) + "\n")
    print(table(results))
    print(f"\nwritten to {args.output}")
    return 0


def _scale(args) -> int:
    """The scale curves, added to the results file beside the other figures (kept as they are)."""
    measured = scale.measure(args.scale_rows, flavours=args.scale_flavours)
    results = json.loads(args.output.read_text()) if args.output.exists() else {}  # read after the long part
    # Stages measured now replace their earlier curves; the others (another flavour's, say) stay.
    previous = results.get("scale", {})
    stages = {**previous.get("stages", {}), **measured["stages"]}
    hyperparameters = {**previous.get("training_hyperparameters", {}), **measured["training_hyperparameters"]}
    results["scale"] = {
        "machine": _machine(),
        "training_hyperparameters": hyperparameters,
        "stages": stages,
        "sizing": scale.sizing(stages),
    }
    args.output.write_text(json.dumps(results, indent=2) + "\n")
    scale.plot(results["scale"], args.plot)
    print(scale.table(results["scale"]))
    print(f"\nwritten to {args.output} and {args.plot}")
    return 0


def _drift(args) -> int:
    """The drift check's figures, added to the results file beside the others."""
    measured = drift.measure(args.quick)
    return _add_to_results(
        args, "drift", {**measured, "quick": args.quick, "machine": _machine()}, drift.table(measured)
    )


def _tuning(args) -> int:
    """Tuning's figures, added to the results file; each flavour's beside the others measured before."""
    with tempfile.TemporaryDirectory() as temporary:
        quick = {"seeds": (1,), "trials": 2, "rows": 1500} if args.quick else {"trials": args.tuning_trials}
        measured = tuning.measure(Path(temporary), args.tuning_flavours, **quick)
    previous = json.loads(args.output.read_text()).get("tuning", {}) if args.output.exists() else {}
    measured = {**previous, **measured, "quick": args.quick, "machine": _machine()}
    return _add_to_results(args, "tuning", measured, _lines(tuning.table_rows(measured)))


def _registry_alone(args) -> int:
    measured = registry_page.measure(repeats=1 if args.quick else 5)
    return _add_to_results(args, "registry_page", measured, _lines(registry_page.table_rows(measured)))


def _alone(args, name: str, measure: Callable[[artifacts.Artifacts], dict], table_rows) -> int:
    """One benchmark's figures alone (each flavour trained as `make bench` trains it), added to the results file."""
    with tempfile.TemporaryDirectory() as temporary:
        work = Path(temporary)
        processed = artifacts.build_features(artifacts.housing(3000 if args.quick else None), work)
        measured = {}
        for flavour in FLAVOURS:
            trained = artifacts.train(flavour, processed, work, QUICK_HYPERPARAMETERS[flavour] if args.quick else None)
            measured[flavour] = measure(trained)
    return _add_to_results(args, name, {**measured, "machine": _machine()}, _lines(table_rows(measured)))


def _add_to_results(args, name: str, figures: dict, table_text: str) -> int:
    """One group's figures into the results file (read now, after the long part), beside the others; its table."""
    results = json.loads(args.output.read_text()) if args.output.exists() else {}
    results[name] = figures
    args.output.write_text(json.dumps(results, indent=2) + "\n")
    print(table_text)
    print(f"\nwritten to {args.output}")
    return 0


def _lines(rows: list[tuple[str, str, str]]) -> str:
    return "\n".join("  ".join(row).rstrip() for row in rows)


def _measure_spread(work: Path, quick: bool) -> dict:
    """Quick: 2 seeds on the first 600 rows, short training."""
    if quick:
        return spread.measure(work, FLAVOURS, seeds=spread.SEEDS[:2], hyperparameters=QUICK_HYPERPARAMETERS, rows=600)
    return spread.measure(work, FLAVOURS)


def _spread_alone(args) -> int:
    with tempfile.TemporaryDirectory() as temporary:
        measured = _measure_spread(Path(temporary), args.quick)
    return _add_to_results(args, "spread", {**measured, "machine": _machine()}, _lines(spread.table_rows(measured)))


def _measure_realtime(quick: bool) -> Callable[[artifacts.Artifacts], dict]:
    return functools.partial(realtime.measure, requests=20 if quick else 300)


def _measure_concurrency(quick: bool) -> Callable[[artifacts.Artifacts], dict]:
    """Quick: two ~1 MB requests, one round."""
    return functools.partial(
        concurrency.measure, **({"repeats": 1, "batches": 2, "max_bytes": 1024 * 1024} if quick else {})
    )


def _quality(work: Path, quick: bool) -> tuple[dict, dict]:
    data = artifacts.housing(3000 if quick else None)
    processed = artifacts.build_features(data, work)
    quality, trained = {}, {}
    for flavour in FLAVOURS:
        trained[flavour] = artifacts.train(flavour, processed, work, QUICK_HYPERPARAMETERS[flavour] if quick else None)
        metrics = artifacts.evaluate(trained[flavour], work)["regression_metrics"]
        quality[flavour] = {
            "rmse": round(metrics["rmse"]["value"], 4),
            "mae": round(metrics["mae"]["value"], 4),
            "r2": round(metrics["r2"]["value"], 4),
            "train_seconds": round(trained[flavour].train_seconds, 1),
        }
    quality["linear_baseline"] = {"rmse": round(artifacts.linear_baseline_rmse(processed, work / "features"), 4)}
    return quality, trained


def _local_end_to_end(repeats: int) -> dict:
    from demo.flow import run_demo

    runs = []
    for _ in range(repeats):
        with tempfile.TemporaryDirectory() as home:
            runs.append(run_demo("sklearn", home=Path(home), say=lambda _line: None))
    stages = {stage: round(statistics.median(r.stages[stage] for r in runs), 2) for stage in runs[0].stages}
    return {"seconds": round(statistics.median(r.seconds for r in runs), 1), "stages": stages, "runs": repeats}


def _machine() -> dict:
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d"),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(terse=True),
    }


def table(results: dict) -> str:
    rows = [("figure", "value", "goal")]
    for flavour, figures in results["throughput"].items():
        rows += [
            (f"throughput {flavour}: ours rows/s", f"{figures['ours_rows_per_s']:,}", ""),
            (f"throughput {flavour}: ours / limit", f"{figures['ours_over_limit']:.2f}", ">= 0.8"),
            (f"throughput {flavour}: ours / JSON hand-off", f"{figures['ours_over_json']:.1f}", ">= 5"),
            ("  hand-off alone: JSON / npy", f"{figures['hand_off_json_over_npy']:.0f}x", ""),
            ("  model predict share of the limit", f"{figures['predict_share_of_limit']:.0%}", ""),
        ]
        if "toolkit_rows_per_s" in figures:
            rows += [
                (f"throughput {flavour}: toolkit Pipeline rows/s", f"{figures['toolkit_rows_per_s']:,}", ""),
                (f"throughput {flavour}: ours / toolkit Pipeline", f"{figures['ours_over_toolkit']:.2f}", ""),
                (
                    "  toolkit predictions that differ (float32 decode)",
                    f"{figures['toolkit_predictions_differing_share']:.1%} "
                    f"(max {figures['toolkit_max_abs_prediction_difference']})",
                    "",
                ),
            ]
    synth = results["synth"]
    rows += [
        (
            "synth warm / empty app (both without CDK validation)",
            f"{synth['warm_ratio']:.2f} ({synth['warm_seconds']} s)",
            "<= 1.5",
        ),
        ("synth cold / empty app", f"{synth['cold_ratio']:.2f} ({synth['cold_seconds']} s)", "close to 1.5"),
        ("  empty app seconds", f"{synth['empty_app_seconds']}", ""),
        (
            "  floor: empty app + app.py's imports",
            f"{synth['imports_only_ratio']:.2f} ({synth['imports_only_seconds']} s)",
            "",
        ),
    ]
    end_to_end = results["local_end_to_end"]
    rows.append(("local demo (sklearn) seconds", f"{end_to_end['seconds']}", "<= 30"))
    rows += [(f"  {stage}", f"{seconds}", "") for stage, seconds in end_to_end["stages"].items()]
    for flavour, figures in results["quality"].items():
        goal = {"sklearn": "<= 0.46", "pytorch": "<= 0.52", "xgboost": "<= 0.46"}.get(flavour, "")
        extra = f" (trained in {figures['train_seconds']} s)" if "train_seconds" in figures else ""
        rows.append((f"test RMSE {flavour}", f"{figures['rmse']:.4f}{extra}", goal))
    rows += classification.table_rows(results.get("classification", {}))
    rows += spread.table_rows({k: v for k, v in results.get("spread", {}).items() if k != "machine"})
    rows += realtime.table_rows(results.get("realtime", {}))
    rows += concurrency.table_rows(results.get("concurrency", {}))
    rows += registry_page.table_rows(results.get("registry_page", {}))
    width = [max(len(row[i]) for row in rows) for i in range(3)]
    return "\n".join("  ".join(cell.ljust(width[i]) for i, cell in enumerate(row)).rstrip() for row in rows)


if __name__ == "__main__":
    raise SystemExit(main())
