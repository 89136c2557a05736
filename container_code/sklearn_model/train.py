"""Training job, scikit-learn flavour: gradient-boosted trees (HistGradientBoostingRegressor for regression,
HistGradientBoostingClassifier for binary and multiclass), early stopping on the validation channel.

Channels: SM_CHANNEL_TRAIN, SM_CHANNEL_VALIDATION (CSV, no header, target first: the value, or the class index)
and SM_CHANNEL_SCHEMA (schema.json: the problem type and classes). Writes model.joblib and schema.json to
SM_MODEL_DIR, and the serving handlers to SM_MODEL_DIR/code. Logs "validation-rmse=<float>;" (regression) or
"validation-logloss=<float>;" (classification) once an iteration for the pipeline's metric definitions. Bad input
ends the job with one sentence in /opt/ml/output/failure.
"""

from __future__ import annotations

import sys
from pathlib import Path

import joblib
from inference import MODEL_FILE
from model_io import (
    full_probabilities,
    hyperparameter_parser,
    is_classification,
    log_loss,
    read_training_data,
    rmse,
    run_training,
    save_schema,
    ship_serving_code,
    write_summary,
)
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

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
    option("n-iter-no-change", type=int, default=50, help="iterations without a better validation metric")
    option("seed", type=int, default=42)
    return parser.parse_args(argv)


class Task:
    """What differs between regression and classification: the estimator, its staged predictions, the metric."""

    def __init__(self, schema: dict):
        self.schema = schema
        self.classify = is_classification(schema)
        self.metric = "logloss" if self.classify else "rmse"

    def estimator(self, args, iterations: int, warm_start: bool = False):
        kind = HistGradientBoostingClassifier if self.classify else HistGradientBoostingRegressor
        return kind(
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

    def staged_scores(self, model, features, target):
        """The validation metric after each iteration (lower is better)."""
        if not self.classify:
            return (rmse(predictions, target) for predictions in model.staged_predict(features))
        count = len(self.schema["classes"])
        return (
            log_loss(full_probabilities(probabilities, model.classes_, count), target)
            for probabilities in model.staged_predict_proba(features)
        )


def best_iteration(args, task: Task, features, target, validation_features, validation_target):
    """Grow in rounds until the validation metric has not improved for n_iter_no_change iterations."""
    model = task.estimator(args, min(ROUND, args.max_iter), warm_start=True)
    best_score, best, scored = float("inf"), 0, 0
    while scored < args.max_iter and scored - best < args.n_iter_no_change:
        model.set_params(max_iter=min(scored + ROUND, args.max_iter))
        model.fit(features, target)
        for iteration, score in enumerate(task.staged_scores(model, validation_features, validation_target), 1):
            if iteration <= scored:
                continue
            print(f"iteration={iteration}; validation-{task.metric}={score:.6f};")
            if score < best_score:
                best_score, best = score, iteration
        scored = model.n_iter_
    return best, best_score


def main(argv=None) -> int:
    return run_training(train, parse_args(argv))


def train(args) -> None:
    schema, features, target, validation_features, validation_target = read_training_data(args)
    task = Task(schema)
    print(f"training on {len(target)} rows x {features.shape[1]} features ({schema['problem_type']})", flush=True)
    best, best_score = best_iteration(args, task, features, target, validation_features, validation_target)
    # Boosting without early stopping or subsampling is deterministic: refitting to the best iteration gives
    # exactly the model that scored best.
    model = task.estimator(args, best).fit(features, target)
    print(f"best iteration {best}: validation-{task.metric}={best_score:.6f};")
    args.model_dir.mkdir(parents=True, exist_ok=True)
    joblib.dump(model, args.model_dir / MODEL_FILE)
    save_schema(schema, args.model_dir)
    ship_serving_code(args.model_dir, Path(__file__).parent)
    write_summary(args.output_data_dir, best_iteration=best, **{f"validation_{task.metric}": best_score})


if __name__ == "__main__":
    sys.exit(main())
