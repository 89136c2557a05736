"""Training job, PyTorch flavour: an MLP on the transformed features, early stopping on the validation channel.

Channels: SM_CHANNEL_TRAIN, SM_CHANNEL_VALIDATION (CSV, no header, target first: the value, or the class index)
and SM_CHANNEL_SCHEMA (schema.json). Regression fits the standardised target with MSE; binary one logit with
binary cross-entropy; multiclass one logit per class with cross-entropy. Writes model.pth (state_dict),
model_config.json and schema.json to SM_MODEL_DIR, and the serving handlers to SM_MODEL_DIR/code.
Logs "validation-rmse=<float>;" (regression) or "validation-logloss=<float>;" (classification) once an epoch for
the pipeline's metric definitions. Bad input ends the job with one sentence in /opt/ml/output/failure.
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path

import numpy as np
import torch
from inference import CONFIG_FILE, WEIGHTS_FILE, TabularMLP, device
from model_io import (
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


def parse_args(argv=None):
    parser, option = hyperparameter_parser("Train the PyTorch MLP")
    option("hidden-sizes", default="256,256,256", help="comma-separated widths of the hidden layers")
    option("epochs", type=int, default=60)
    option("learning-rate", type=float, default=1e-3, help="peak of the one-cycle schedule")
    option("batch-size", type=int, default=256)
    option("weight-decay", type=float, default=1e-2, help="AdamW decoupled weight decay")
    option("patience", type=int, default=15, help="epochs without a better validation metric before stopping")
    option("embedding-frequencies", type=int, default=16, help="periodic embedding size per feature; 0 = none")
    option("embedding-width", type=int, default=16)
    option("embedding-sigma", type=float, default=1.0, help="spread of the initial embedding frequencies")
    option("input-clip", type=float, default=5.0, help="scaled inputs are clipped to +-this")
    option("seed", type=int, default=42)
    return parser.parse_args(argv)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def metric_name(schema: dict) -> str:
    return "logloss" if is_classification(schema) else "rmse"


def loss_function(problem_type: str):
    """MSE on the standardised target, binary cross-entropy on the positive logit, cross-entropy on the logits."""
    return {
        "regression": torch.nn.functional.mse_loss,
        "binary": torch.nn.functional.binary_cross_entropy_with_logits,
        "multiclass": torch.nn.functional.cross_entropy,
    }[problem_type]


def validation_score(model: TabularMLP, features, target) -> float:
    if model.problem_type == "regression":
        return rmse(model.predict(features), target)
    return log_loss(model.probabilities(features), target)


def fit(args, schema, features, target, validation_features, validation_target):
    """One-cycle AdamW; returns (best model, its config, its epoch, its validation RMSE or log loss)."""
    config = model_config(args, features.shape[1], target, schema)
    on = device()
    model = TabularMLP(config).to(on)
    x = torch.as_tensor(features, device=on)
    if config["problem_type"] == "multiclass":
        y = torch.as_tensor(target, dtype=torch.long, device=on)
    else:  # regression: the standardised target; binary: 0/1 (mean 0, scale 1)
        y = torch.as_tensor((target - config["target_mean"]) / config["target_scale"], dtype=torch.float32, device=on)
    loss = loss_function(config["problem_type"])
    metric = metric_name(schema)
    steps_per_epoch = (len(x) + args.batch_size - 1) // args.batch_size
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.learning_rate, weight_decay=args.weight_decay)
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=args.learning_rate, total_steps=args.epochs * steps_per_epoch
    )
    shuffle = torch.Generator().manual_seed(args.seed)
    best = (float("inf"), 0, None)
    for epoch in range(1, args.epochs + 1):
        model.train()
        for batch in torch.randperm(len(x), generator=shuffle).split(args.batch_size):
            batch = batch.to(on)
            optimizer.zero_grad()
            loss(model(x[batch]), y[batch]).backward()
            optimizer.step()
            schedule.step()
        model.eval()
        score = validation_score(model, validation_features, validation_target)
        print(f"epoch={epoch}; validation-{metric}={score:.6f};", flush=True)
        if score < best[0]:
            best = (score, epoch, {name: value.detach().clone() for name, value in model.state_dict().items()})
        elif epoch - best[1] >= args.patience:
            print(f"no better validation {metric} for {args.patience} epochs: stopping")
            break
    model.load_state_dict(best[2])
    return model, config, best[1], best[0]


def model_config(args, input_features: int, target: np.ndarray, schema: dict) -> dict:
    classify = is_classification(schema)
    return {
        "problem_type": schema["problem_type"],
        "outputs": len(schema["classes"]) if schema["problem_type"] == "multiclass" else 1,
        "input_features": int(input_features),
        "hidden_sizes": [int(size) for size in args.hidden_sizes.split(",") if size.strip()],
        "input_clip": args.input_clip,
        "embedding_frequencies": args.embedding_frequencies,
        "embedding_width": args.embedding_width,
        "embedding_sigma": args.embedding_sigma,
        # Classifiers' outputs are logits, not a scaled target.
        "target_mean": 0.0 if classify else float(np.mean(target)),
        "target_scale": 1.0 if classify else float(np.std(target)) or 1.0,
    }


def save(model, config: dict, schema: dict, model_dir: Path) -> None:
    model_dir.mkdir(parents=True, exist_ok=True)
    torch.save(model.cpu().state_dict(), model_dir / WEIGHTS_FILE)
    (model_dir / CONFIG_FILE).write_text(json.dumps(config, indent=1), encoding="utf-8")
    save_schema(schema, model_dir)
    ship_serving_code(model_dir, Path(__file__).parent)


def main(argv=None) -> int:
    return run_training(train, parse_args(argv))


def train(args) -> None:
    seed_everything(args.seed)
    schema, features, target, validation_features, validation_target = read_training_data(args)
    print(
        f"training on {len(target)} rows x {features.shape[1]} features ({schema['problem_type']}), device {device()}"
    )
    model, config, best_epoch, best_score = fit(args, schema, features, target, validation_features, validation_target)
    metric = metric_name(schema)
    print(f"best epoch {best_epoch}: validation-{metric}={best_score:.6f};")
    save(model, config, schema, args.model_dir)
    write_summary(args.output_data_dir, best_epoch=best_epoch, **{f"validation_{metric}": best_score})


if __name__ == "__main__":
    sys.exit(main())
