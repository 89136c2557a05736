"""Training job, PyTorch flavour: an MLP on the transformed features, early stopping on the validation channel.

Channels: SM_CHANNEL_TRAIN, SM_CHANNEL_VALIDATION (CSV, no header, target first: the value, or the class index)
and SM_CHANNEL_SCHEMA (schema.json). Regression fits the standardised target with MSE; binary one logit with
binary cross-entropy; multiclass one logit per class with cross-entropy. Writes model.pth (state_dict),
model_config.json and schema.json to SM_MODEL_DIR, and the serving handlers to SM_MODEL_DIR/code.
Logs "validation-rmse=<float>;" (regression) or "validation-logloss=<float>;" (classification) once an epoch for
the pipeline's metric definitions. Bad input ends the job with one sentence in /opt/ml/output/failure.

Distributed data parallel: started by torchrun (the training job's torch_distributed distribution on N instances,
one process per CPU instance), WORLD_SIZE > 1 and every rank holds all the rows (FullyReplicated channels). Each
epoch every rank draws the same shuffled batches and computes the gradient of its own share of each batch's rows;
DistributedDataParallel (gloo, CPU) sums the shares, so each step sees the same batch as one process would. The
validation rows are split the same way and their summed error all-reduced, so every rank takes the same early
stopping decision; rank 0 alone writes the model and the summary. WORLD_SIZE 1 trains exactly as one process.
"""

from __future__ import annotations

import gc
import json
import os
import random
import sys
from datetime import timedelta
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
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
    with_row_defaults,
    write_summary,
)


def parse_args(argv=None):
    parser, option = hyperparameter_parser("Train the PyTorch MLP")
    option("hidden-sizes", default=None, help="comma-separated widths of the hidden layers (default: by rows)")
    option("epochs", type=int, default=60)
    option("learning-rate", type=float, default=1e-3, help="peak of the one-cycle schedule")
    option("batch-size", type=int, default=None, help="default: by rows")
    option("weight-decay", type=float, default=None, help="AdamW decoupled weight decay (default: by rows)")
    option("patience", type=int, default=15, help="epochs without a better validation metric before stopping")
    option("embedding-frequencies", type=int, default=16, help="periodic embedding size per feature; 0 = none")
    option("embedding-width", type=int, default=16)
    option("embedding-sigma", type=float, default=None, help="spread of the initial embedding frequencies (by rows)")
    option("input-clip", type=float, default=5.0, help="scaled inputs are clipped to +-this")
    option("seed", type=int, default=42)
    return parser.parse_args(argv)


# Hyperparameters whose default depends on the rows (model_io.SMALL_DATA_ROWS): on a few hundred rows the network
# tuned for 20,000 overfits (a 400-row sample of California housing, 5-fold cross-validation x 3: RMSE 0.88 with
# these defaults, 0.62 with the small-data ones, against the linear model's 0.68).
DEFAULTS = {"hidden_sizes": "256,256,256", "batch_size": 256, "weight_decay": 1e-2, "embedding_sigma": 1.0}
SMALL_DATA_DEFAULTS = {"hidden_sizes": "64,64", "batch_size": 32, "weight_decay": 0.1, "embedding_sigma": 0.1}


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def metric_name(schema: dict) -> str:
    return "logloss" if is_classification(schema) else "rmse"


# How long a rank waits for the others in a collective (gloo) before failing: a rank that died must not keep the
# others waiting for PyTorch's 30-minute default. An epoch of the largest benchmark size is well under it.
COLLECTIVE_TIMEOUT = timedelta(minutes=10)


def loss_function(problem_type: str, reduction: str = "mean"):
    """MSE on the standardised target, binary cross-entropy on the positive logit, cross-entropy on the logits."""
    function = {
        "regression": torch.nn.functional.mse_loss,
        "binary": torch.nn.functional.binary_cross_entropy_with_logits,
        "multiclass": torch.nn.functional.cross_entropy,
    }[problem_type]
    return lambda outputs, targets: function(outputs, targets, reduction=reduction)


def batch_loss(loss, ranks: "Ranks", batch_rows: int):
    """One process: the batch's mean loss. Several: this rank's share's summed loss over the batch's mean, times
    the rank count, since DDP averages the ranks' gradients: the step's gradient is then the whole batch's mean
    loss gradient whatever the shares' sizes (a share may even be empty)."""
    if not ranks.distributed:
        return loss
    return lambda outputs, targets: loss(outputs, targets) * (ranks.size / batch_rows)


class Ranks:
    """This process's place among the training processes torchrun started (rank 0 of 1 without torchrun)."""

    def __init__(self):
        self.rank = int(os.environ.get("RANK", "0"))
        self.size = int(os.environ.get("WORLD_SIZE", "1"))

    @property
    def distributed(self) -> bool:
        return self.size > 1

    @property
    def leader(self) -> bool:
        return self.rank == 0

    def share(self, rows: torch.Tensor) -> torch.Tensor:
        """This rank's rows of a batch: every size-th row from its rank on (DistributedSampler's interleaving)."""
        return rows[self.rank :: self.size]

    def total(self, values: list[float]) -> list[float]:
        """The element-wise sum over the ranks (the values themselves with one process)."""
        if not self.distributed:
            return values
        summed = torch.tensor(values, dtype=torch.float64)
        dist.all_reduce(summed, op=dist.ReduceOp.SUM)
        return summed.tolist()


def validation_score(model: TabularMLP, features, target, ranks: Ranks) -> float:
    """RMSE (regression) or log loss (classification) on the validation rows; with several ranks each scores its
    share of the rows and the sums are all-reduced, so every rank gets the same score."""
    if not ranks.distributed:
        if model.problem_type == "regression":
            return rmse(model.predict(features), target)
        return log_loss(model.probabilities(features), target)
    mine = ranks.share(torch.arange(len(target))).numpy()
    if model.problem_type == "regression":
        error = float(np.sum((model.predict(features[mine]) - target[mine]) ** 2)) if len(mine) else 0.0
        total, rows = ranks.total([error, float(len(mine))])
        return float(np.sqrt(total / rows))
    error = log_loss(model.probabilities(features[mine]), target[mine]) * len(mine) if len(mine) else 0.0
    total, rows = ranks.total([error, float(len(mine))])
    return total / rows


def fit(args, schema, features, target, validation_features, validation_target, ranks: Ranks):
    """One-cycle AdamW; returns (best model, its config, its epoch, its validation RMSE or log loss)."""
    config = model_config(args, features.shape[1], target, schema)
    on = device()
    model = TabularMLP(config).to(on)
    # DistributedDataParallel starts every rank from rank 0's weights and all-reduces the gradients (mean).
    trained = torch.nn.parallel.DistributedDataParallel(model) if ranks.distributed else model
    x = torch.as_tensor(features, device=on)
    if config["problem_type"] == "multiclass":
        y = torch.as_tensor(target, dtype=torch.long, device=on)
    else:  # regression: the standardised target; binary: 0/1 (mean 0, scale 1)
        y = torch.as_tensor((target - config["target_mean"]) / config["target_scale"], dtype=torch.float32, device=on)
    loss = loss_function(config["problem_type"], "sum" if ranks.distributed else "mean")
    metric = metric_name(schema)
    steps_per_epoch = (len(x) + args.batch_size - 1) // args.batch_size
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.learning_rate, weight_decay=args.weight_decay)
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=args.learning_rate, total_steps=args.epochs * steps_per_epoch
    )
    shuffle = torch.Generator().manual_seed(args.seed)  # the same batches on every rank
    best = (float("inf"), 0, None)
    for epoch in range(1, args.epochs + 1):
        model.train()
        for batch in torch.randperm(len(x), generator=shuffle).split(args.batch_size):
            rows = ranks.share(batch).to(on)
            optimizer.zero_grad()
            batch_loss(loss, ranks, len(batch))(trained(x[rows]), y[rows]).backward()
            optimizer.step()
            schedule.step()
        model.eval()
        score = validation_score(model, validation_features, validation_target, ranks)
        if ranks.leader:
            print(f"epoch={epoch}; validation-{metric}={score:.6f};", flush=True)
        if score < best[0]:
            best = (score, epoch, {name: value.detach().clone() for name, value in model.state_dict().items()})
        elif epoch - best[1] >= args.patience:
            if ranks.leader:
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


def network_interface() -> str | None:
    """SageMaker's interface for this instance (the toolkit's SM_NETWORK_INTERFACE_NAME, from resourceconfig.json)."""
    config = Path(os.environ.get("SM_INPUT_CONFIG_DIR", "/opt/ml/input/config")) / "resourceconfig.json"
    if "SM_NETWORK_INTERFACE_NAME" in os.environ or not config.exists():
        return os.environ.get("SM_NETWORK_INTERFACE_NAME")
    return json.loads(config.read_text(encoding="utf-8")).get("network_interface_name")


def train(args) -> None:
    ranks = Ranks()
    if ranks.distributed:
        # torchrun sets RANK, WORLD_SIZE, MASTER_ADDR and MASTER_PORT; gloo is PyTorch's CPU backend. The toolkit
        # names only NCCL's interface (NCCL_SOCKET_IFNAME): gloo gets SageMaker's too rather than the one its
        # hostname resolves to (resourceconfig.json network_interface_name, "Distributed Training Configuration").
        interface = network_interface()
        if interface:
            os.environ.setdefault("GLOO_SOCKET_IFNAME", interface)
        dist.init_process_group("gloo", timeout=COLLECTIVE_TIMEOUT)
        if torch.cuda.is_available():  # a GPU instance runs a process per GPU: each uses its own
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    try:
        train_on_this_rank(args, ranks)
        if ranks.distributed:  # end together: a rank tearing gloo down while rank 0 still saves can abort either
            dist.barrier()
    finally:
        if ranks.distributed:
            gc.collect()  # DDP's reducer (in a reference cycle) must go while its process group still exists
            dist.destroy_process_group()


def train_on_this_rank(args, ranks: Ranks) -> None:
    seed_everything(args.seed)
    schema, features, target, validation_features, validation_target = read_training_data(args)
    args = with_row_defaults(args, len(target) + len(validation_target), DEFAULTS, SMALL_DATA_DEFAULTS)
    print(
        f"training on {len(target)} rows x {features.shape[1]} features ({schema['problem_type']}), device {device()}"
        + (f", rank {ranks.rank} of {ranks.size}" if ranks.distributed else "")
    )
    model, config, best_epoch, best_score = fit(
        args, schema, features, target, validation_features, validation_target, ranks
    )
    if not ranks.leader:
        return
    metric = metric_name(schema)
    print(f"best epoch {best_epoch}: validation-{metric}={best_score:.6f};")
    save(model, config, schema, args.model_dir)
    write_summary(args.output_data_dir, best_epoch=best_epoch, **{f"validation_{metric}": best_score})


if __name__ == "__main__":
    sys.exit(main())
