"""Training job, XGBoost flavour: gradient-boosted trees (xgboost.train) with the objective of the problem type,
early stopping on the validation channel.

Runs on the SageMaker XGBoost framework image in script mode (sagemaker_program=train.py). Channels:
SM_CHANNEL_TRAIN, SM_CHANNEL_VALIDATION (CSV, no header, target first: the value, or the class index) and
SM_CHANNEL_SCHEMA (schema.json: the problem type and classes). Writes the booster in xgboost's UBJSON format (no
pickle) and schema.json to SM_MODEL_DIR, and the serving handlers to SM_MODEL_DIR/code. Logs
"validation-rmse=<float>;" (regression) or "validation-logloss=<float>;" (classification) once a round for the
pipeline's metric definitions. Bad input ends the job with one sentence in /opt/ml/output/failure (which the
image's toolkit replaces by its own ExecuteUserScriptError text; the sentence stays in the job's log).

On several instances (SM_HOSTS) the script trains one model with XGBoost's own distributed training: the image's
toolkit runs this script on every instance, each takes every N-th row of the (fully replicated) channels, and
xgboost's collective joins them (the first instance runs the tracker, as the image's own sagemaker_xgboost_container
.distributed does on port 9099); the histogram bins come from a sketch merged over all instances and the hist method
sums the gradient histograms over all of them, so every instance grows the same trees from all rows and sees the
same validation metric. The first instance writes the model.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import sys
import time
from pathlib import Path

# inference.py sets OMP_WAIT_POLICY=PASSIVE before xgboost loads (see there).
from inference import MODEL_FILE, xgb
from model_io import (
    InputError,
    hyperparameter_parser,
    is_classification,
    read_training_data,
    run_training,
    save_schema,
    ship_serving_code,
    with_row_defaults,
    write_summary,
)
from xgboost import collective
from xgboost.tracker import RabitTracker

TRACKER_PORT = 9099  # the XGBoost image's choice: training instances are single-tenant, so the port is free
CONNECT_RETRIES = 30  # xgboost's retries (with growing waits) while the other instances and the tracker start
# Seconds between name lookups while the cluster boots: about 15 minutes in all, as the image's own helper waits
# (sagemaker_xgboost_container.distributed._dns_lookup).
RESOLVE_WAITS = (1, 2, 4, 8, 15) + (30,) * 28

# Per problem type: the objective, xgboost's validation metric early stopping watches, the name the job logs it
# under (the pipeline's metric definitions: validation-rmse, validation-logloss).
OBJECTIVES = {
    "regression": ("reg:squarederror", "rmse", "rmse"),
    "binary": ("binary:logistic", "logloss", "logloss"),
    "multiclass": ("multi:softprob", "mlogloss", "logloss"),
}


def parse_args(argv=None):
    parser, option = hyperparameter_parser("Train the XGBoost trees")
    option("num-round", type=int, default=2000, help="upper bound on boosting rounds")
    option("early-stopping-rounds", type=int, default=50, help="rounds without a better validation metric")
    option(
        "min-delta",
        type=float,
        default=None,
        help="a better validation metric is lower by more than this; default 0.001 for log loss, 0 for RMSE",
    )
    option("eta", type=float, default=0.1, help="learning rate")
    option("max-depth", type=int, default=None, help="default: 7, or 4 below model_io.SMALL_DATA_ROWS rows")
    option("min-child-weight", type=float, default=3.0)
    option("subsample", type=float, default=0.8)
    option("colsample-bytree", type=float, default=0.8)
    option("reg-lambda", type=float, default=1.0, help="L2 regularization on leaf weights")
    option("reg-alpha", type=float, default=0.0, help="L1 regularization on leaf weights")
    option("max-bin", type=int, default=256)
    option("nthread", type=int, default=0, help="threads; 0 = every core of the instance")
    option("seed", type=int, default=42)
    return parser.parse_args(argv)


class EarlyStoppingThatLogs(xgb.callback.EarlyStopping):
    """Early stopping that first logs the round's "validation-<name>=<value>;", the form the pipeline's metric
    definitions read. One callback, not two: xgboost keeps its callbacks in a set, so the one that stops training could
    run first and leave the last round unlogged."""

    def __init__(self, metric: str, name: str, **stopping):
        super().__init__(**stopping)
        self.metric, self.name = metric, name

    def after_iteration(self, model, epoch: int, evals_log: dict) -> bool:
        value = evals_log["validation"][self.metric][-1]
        print(f"round={epoch + 1}; validation-{self.name}={value:.6f};", flush=True)
        return super().after_iteration(model, epoch, evals_log)


def booster_parameters(args, schema: dict) -> dict:
    objective, metric, _ = OBJECTIVES[schema["problem_type"]]
    multiclass = {"num_class": len(schema["classes"])} if schema["problem_type"] == "multiclass" else {}
    return {
        **multiclass,
        "objective": objective,
        "eval_metric": metric,
        "eta": args.eta,
        "max_depth": args.max_depth,
        "min_child_weight": args.min_child_weight,
        "subsample": args.subsample,
        "colsample_bytree": args.colsample_bytree,
        "lambda": args.reg_lambda,
        "alpha": args.reg_alpha,
        "max_bin": args.max_bin,
        "tree_method": "hist",
        # The image runs on GPU types too: SageMaker sets SM_NUM_GPUS, xgboost >= 2.0 trains on one with device=cuda.
        "device": "cuda" if int(os.environ.get("SM_NUM_GPUS", "0") or 0) > 0 else "cpu",
        "seed": args.seed,
        **({"nthread": args.nthread} if args.nthread > 0 else {}),
    }


def fit(args, schema: dict, train_set: xgb.DMatrix, validation_set: xgb.DMatrix):
    """(booster cut to its best round, best round, best validation metric)."""
    _, metric, name = OBJECTIVES[schema["problem_type"]]
    if args.num_round < 1 or args.early_stopping_rounds < 1:
        raise InputError("num_round and early_stopping_rounds must be at least 1")
    # Log loss keeps falling while trees push separable classes' probabilities towards 0 and 1 (Iris would run all
    # num_round rounds): improvements below min_delta do not count. RMSE is in the target's units: no default delta.
    min_delta = args.min_delta if args.min_delta is not None else (1e-3 if is_classification(schema) else 0.0)
    stopping = EarlyStoppingThatLogs(
        metric, name, rounds=args.early_stopping_rounds, min_delta=min_delta, save_best=False
    )
    try:
        booster = xgb.train(
            booster_parameters(args, schema),
            train_set,
            num_boost_round=args.num_round,
            evals=[(validation_set, "validation")],
            verbose_eval=False,
            callbacks=[stopping],
        )
    except xgb.core.XGBoostError as error:  # e.g. a hyperparameter out of its range
        raise InputError(f"xgboost refused the training parameters: {str(error).splitlines()[0]}") from None
    best = booster.best_iteration + 1
    # Slicing keeps exactly the rounds up to the best one, so serving needs no iteration range.
    return booster[:best], best, float(booster.best_score)


def main(argv=None) -> int:
    return run_training(train, parse_args(argv))


def cluster() -> tuple[int, list[str]]:
    """(this instance's rank, every instance's name): SageMaker's SM_HOSTS and SM_CURRENT_HOST, sorted as the
    image's own distributed helper sorts them; one instance when they are absent."""
    hosts = sorted(json.loads(os.environ.get("SM_HOSTS") or '["algo-1"]'))
    return hosts.index(os.environ.get("SM_CURRENT_HOST") or hosts[0]), hosts


def address_of(host: str) -> str:
    """`host`'s address, retried: "Hostname information might not be immediately available to the container. We
    recommend adding a retry policy on hostname resolution operations as nodes become available in the cluster"
    (How Amazon SageMaker AI Provides Training Information, Distributed Training Configuration)."""
    for wait in RESOLVE_WAITS:
        try:
            return socket.gethostbyname(host)
        except socket.gaierror:
            print(f"{host} does not resolve yet; trying again in {wait} s", flush=True)
            time.sleep(wait)
    return socket.gethostbyname(host)  # the last attempt's error ends the job


@contextlib.contextmanager
def collective_training(rank: int, hosts: list[str]):
    """xgboost's collective across the instances; the first one runs the tracker that pairs them up."""
    address = address_of(hosts[0])  # the instances reach each other by name on the training network
    tracker = None
    if rank == 0:
        tracker = RabitTracker(n_workers=len(hosts), host_ip=address, port=TRACKER_PORT, sortby="task")
        tracker.start()
    with collective.CommunicatorContext(
        dmlc_communicator="rabit",
        dmlc_tracker_uri=address,
        dmlc_tracker_port=TRACKER_PORT,
        dmlc_task_id=str(rank),
        dmlc_retry=CONNECT_RETRIES,
    ):
        print(f"rank {collective.get_rank()} of {collective.get_world_size()}", flush=True)
        yield
    if tracker is not None:
        tracker.wait_for()


def train(args) -> None:
    rank, hosts = cluster()
    if len(hosts) == 1:
        train_on_rows(args, rank, 1)
        return
    with collective_training(rank, hosts):
        train_on_rows(args, rank, len(hosts))


def train_on_rows(args, rank: int, instances: int) -> None:
    """Train on every `instances`-th row starting at `rank` (all rows on one instance); rank 0 writes the model."""
    schema, features, target, validation_features, validation_target = read_training_data(args)
    # Shallower trees on a few hundred rows (a 400-row sample of California housing, 5-fold cross-validation x 3:
    # RMSE 0.631 at depth 7, 0.611 at depth 4; the linear model's 0.681).
    args = with_row_defaults(args, len(target) + len(validation_target), {"max_depth": 7}, {"max_depth": 4})
    rows = slice(rank, None, instances)
    share = f" (this instance's share: {len(target[rows])})" if instances > 1 else ""
    shape = f"{len(target)} rows{share} x {features.shape[1]} features"
    print(f"training on {shape} ({schema['problem_type']})", flush=True)
    train_set = xgb.DMatrix(features[rows], label=target[rows])
    validation_set = xgb.DMatrix(validation_features[rows], label=validation_target[rows])
    booster, best_round, best_score = fit(args, schema, train_set, validation_set)
    if rank > 0:
        return
    name = OBJECTIVES[schema["problem_type"]][2]
    print(f"best round {best_round}: validation-{name}={best_score:.6f};")
    args.model_dir.mkdir(parents=True, exist_ok=True)
    booster.save_model(str(args.model_dir / MODEL_FILE))
    save_schema(schema, args.model_dir)
    ship_serving_code(args.model_dir, Path(__file__).parent)
    write_summary(args.output_data_dir, best_round=best_round, **{f"validation_{name}": best_score})


if __name__ == "__main__":
    sys.exit(main())
