"""Training job, scikit-learn flavour: HistGradientBoostingRegressor, early stopping on the validation channel.

Channels (CSV, no header, target first): SM_CHANNEL_TRAIN, SM_CHANNEL_VALIDATION. Writes model.joblib to
SM_MODEL_DIR, and the serving handlers to SM_MODEL_DIR/code. Logs "validation-rmse=<float>;" once an iteration for the
pipeline's metric definition. Bad input ends the job with one sentence in /opt/ml/output/failure.
"""

from __future__ import annotations

import sys
from pathlib import Path

import joblib
from inference import MODEL_FILE
from model_io import (
    hyperparameter_parser,
    read_channel,
    rmse,
    run_training,
    ship_serving_code,
    write_summary,
)
from sklearn.ensemble import HistGradientBoostingRegressor

# scikit-learn 1.4 cannot early-stop on a given validation set (only on a random slice of the training data),
# so boosting grows in rounds of this many iterations, each scored on the validation channel.
ROUND = 50


def parse_args(argv=None):
    parser, option = hyperparameter_parser("Train the gradient-boosted trees")
    option("max-iter", type=int, default=2000, help="upper bound on boosting iterations")
    option("learning-rate", type=float, default=0.1)
    option("max-leaf-nodes", type=int, default=31)
    option("min-samples-leaf", type=int, default=20)
    option("l2-regularization", type=float, default=0.0)
    option("max-bins", type=int, default=255)
    option("n-iter-no-change", type=int, default=50, help="iterations without a better validation RMSE")
    option("seed", type=int, default=42)
    return parser.parse_args(argv)


def regressor(args, iterations: int, warm_start: bool = False) -> HistGradientBoostingRegressor:
    return HistGradientBoostingRegressor(
        max_iter=iterations,
        learning_rate=args.learning_rate,
        max_leaf_nodes=args.max_leaf_nodes,
        min_samples_leaf=args.min_samples_leaf,
        l2_regularization=args.l2_regularization,
        max_bins=args.max_bins,
        early_stopping=False,
        warm_start=warm_start,
        random_state=args.seed,
    )


def best_iteration(args, features, target, validation_features, validation_target):
    """Grow in rounds until the validation RMSE has not improved for n_iter_no_change iterations."""
    model = regressor(args, min(ROUND, args.max_iter), warm_start=True)
    best_rmse, best, scored = float("inf"), 0, 0
    while scored < args.max_iter and scored - best < args.n_iter_no_change:
        model.set_params(max_iter=min(scored + ROUND, args.max_iter))
        model.fit(features, target)
        for iteration, predictions in enumerate(model.staged_predict(validation_features), start=1):
            if iteration <= scored:
                continue
            score = rmse(predictions, validation_target)
            print(f"iteration={iteration}; validation-rmse={score:.6f};")
            if score < best_rmse:
                best_rmse, best = score, iteration
        scored = model.n_iter_
    return best, best_rmse


def main(argv=None) -> int:
    return run_training(train, parse_args(argv))


def train(args) -> None:
    features, target = read_channel(args.train)
    validation_features, validation_target = read_channel(args.validation)
    print(f"training on {len(target)} rows x {features.shape[1]} features", flush=True)
    best, best_rmse = best_iteration(args, features, target, validation_features, validation_target)
    # Boosting without early stopping or subsampling is deterministic: refitting to the best iteration gives
    # exactly the model that scored best.
    model = regressor(args, best).fit(features, target)
    print(f"best iteration {best}: validation-rmse={best_rmse:.6f};")
    args.model_dir.mkdir(parents=True, exist_ok=True)
    joblib.dump(model, args.model_dir / MODEL_FILE)
    ship_serving_code(args.model_dir, Path(__file__).parent)
    write_summary(args.output_data_dir, best_iteration=best, validation_rmse=best_rmse)


if __name__ == "__main__":
    sys.exit(main())
