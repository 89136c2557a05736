"""Training job, PyTorch flavour: an MLP on the transformed features, early stopping on the validation channel.

Channels (CSV, no header, target first): SM_CHANNEL_TRAIN, SM_CHANNEL_VALIDATION. Writes model.pth (state_dict)
and model_config.json to SM_MODEL_DIR, and the serving handlers to SM_MODEL_DIR/code.
Logs "validation-rmse=<float>;" once an epoch for the pipeline's metric definition. Bad input ends the job with one
sentence in /opt/ml/output/failure.
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
    read_channel,
    rmse,
    run_training,
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
    option("patience", type=int, default=15, help="epochs without a better validation RMSE before stopping")
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


def fit(args, features, target, validation_features, validation_target):
    """One-cycle AdamW on the standardised target; returns (best model, its epoch, its validation RMSE)."""
    config = model_config(args, features.shape[1], target)
    on = device()
    model = TabularMLP(config).to(on)
    x = torch.as_tensor(features, device=on)
    y = torch.as_tensor((target - config["target_mean"]) / config["target_scale"], dtype=torch.float32, device=on)
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
            torch.nn.functional.mse_loss(model(x[batch]), y[batch]).backward()
            optimizer.step()
            schedule.step()
        model.eval()
        score = rmse(model.predict(validation_features), validation_target)
        print(f"epoch={epoch}; validation-rmse={score:.6f};", flush=True)
        if score < best[0]:
            best = (score, epoch, {name: value.detach().clone() for name, value in model.state_dict().items()})
        elif epoch - best[1] >= args.patience:
            print(f"no better validation RMSE for {args.patience} epochs: stopping")
            break
    model.load_state_dict(best[2])
    return model, config, best[1], best[0]


def model_config(args, input_features: int, target: np.ndarray) -> dict:
    return {
        "input_features": int(input_features),
        "hidden_sizes": [int(size) for size in args.hidden_sizes.split(",") if size.strip()],
        "input_clip": args.input_clip,
        "embedding_frequencies": args.embedding_frequencies,
        "embedding_width": args.embedding_width,
        "embedding_sigma": args.embedding_sigma,
        "target_mean": float(np.mean(target)),
        "target_scale": float(np.std(target)) or 1.0,
    }


def save(model, config: dict, model_dir: Path) -> None:
    model_dir.mkdir(parents=True, exist_ok=True)
    torch.save(model.cpu().state_dict(), model_dir / WEIGHTS_FILE)
    (model_dir / CONFIG_FILE).write_text(json.dumps(config, indent=1), encoding="utf-8")
    ship_serving_code(model_dir, Path(__file__).parent)


def main(argv=None) -> int:
    return run_training(train, parse_args(argv))


def train(args) -> None:
    seed_everything(args.seed)
    features, target = read_channel(args.train)
    validation_features, validation_target = read_channel(args.validation)
    print(f"training on {len(target)} rows x {features.shape[1]} features, device {device()}")
    model, config, best_epoch, best_rmse = fit(args, features, target, validation_features, validation_target)
    print(f"best epoch {best_epoch}: validation-rmse={best_rmse:.6f};")
    save(model, config, args.model_dir)
    write_summary(args.output_data_dir, best_epoch=best_epoch, validation_rmse=best_rmse)


if __name__ == "__main__":
    sys.exit(main())
