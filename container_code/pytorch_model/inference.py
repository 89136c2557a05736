"""Serving container 2, PyTorch flavour: features (.npy from container 1, or CSV) -> one prediction a line
(regression: the value; classification: the label, then the class probabilities; see model_io.py).

Also defines the network, so training (train.py imports it) and serving build the same module from
model_config.json before loading the state_dict: no pickled module, loads in any torch version.
"""

from __future__ import annotations

import json
import math
import os

import numpy as np
import torch

# input_fn and output_fn are the same in every model container: one file, model_io.py (see there).
from model_io import (  # noqa: F401 (the serving container looks input_fn and output_fn up in this module)
    ClassProbabilities,
    input_fn,
    load_schema,
    output_fn,
)
from torch import nn

WEIGHTS_FILE = "model.pth"
CONFIG_FILE = "model_config.json"


class PeriodicEmbedding(nn.Module):
    """Each input feature -> cos/sin of learned frequencies -> a small linear layer + ReLU.

    An MLP on raw scaled features fits smooth functions; house prices jump along latitude/longitude. Periodic
    embeddings (Gorishniy et al. 2022, "On Embeddings for Numerical Features") let it fit those steps."""

    def __init__(self, features: int, frequencies: int, width: int, sigma: float = 1.0):
        super().__init__()
        self.frequencies = nn.Parameter(torch.randn(features, frequencies) * sigma)
        self.weight = nn.Parameter(torch.randn(features, 2 * frequencies, width) / math.sqrt(2 * frequencies))
        self.bias = nn.Parameter(torch.zeros(features, width))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        angles = 2 * math.pi * self.frequencies[None] * x[..., None]
        periodic = torch.cat([torch.cos(angles), torch.sin(angles)], dim=-1)
        return torch.relu(torch.einsum("bfk,fkw->bfw", periodic, self.weight) + self.bias).flatten(1)


class TabularMLP(nn.Module):
    """Clip scaled inputs (heavy-tailed columns such as occupancy reach hundreds of standard deviations), embed
    them, then an MLP. Regression: one output, the standardised target, which `predict` maps back. Binary: one
    logit of the positive class (classes[1]). Multiclass: one logit per class; `probabilities` applies the
    sigmoid or softmax."""

    def __init__(self, config: dict):
        super().__init__()
        self.input_clip = float(config["input_clip"])
        layers = []
        width = config["input_features"]
        if config["embedding_frequencies"] > 0:
            layers.append(
                PeriodicEmbedding(
                    width, config["embedding_frequencies"], config["embedding_width"], config["embedding_sigma"]
                )
            )
            width *= config["embedding_width"]
        for hidden in config["hidden_sizes"]:
            layers += [nn.Linear(width, hidden), nn.SiLU()]
            width = hidden
        self.problem_type = config.get("problem_type", "regression")  # model_config.json before classification
        self.outputs = int(config.get("outputs", 1))
        layers.append(nn.Linear(width, self.outputs))
        self.layers = nn.Sequential(*layers)
        self.target_mean = float(config["target_mean"])
        self.target_scale = float(config["target_scale"])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.layers(x.clamp(-self.input_clip, self.input_clip))
        return out.squeeze(1) if self.outputs == 1 else out

    def _outputs(self, features: np.ndarray) -> torch.Tensor:
        device = next(self.parameters()).device
        with torch.no_grad():
            return self(torch.as_tensor(np.asarray(features, dtype=np.float32), device=device)).double().cpu()

    def predict(self, features: np.ndarray) -> np.ndarray:
        return self._outputs(features).numpy() * self.target_scale + self.target_mean

    def probabilities(self, features: np.ndarray) -> np.ndarray:
        """(rows, classes) probabilities: [1 - p, p] from the binary logit, the softmax of the multiclass logits."""
        logits = self._outputs(features)
        if self.problem_type == "binary":
            positive = torch.sigmoid(logits).numpy()
            return np.column_stack([1.0 - positive, positive])
        return torch.softmax(logits, dim=1).numpy()


def device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def model_fn(model_dir: str) -> TabularMLP:
    with open(os.path.join(model_dir, CONFIG_FILE), encoding="utf-8") as handle:
        model = TabularMLP(json.load(handle))
    weights = torch.load(os.path.join(model_dir, WEIGHTS_FILE), map_location="cpu", weights_only=True)
    model.load_state_dict(weights)
    model.classes = load_schema(model_dir)["classes"]
    return model.to(device()).eval()


def predict_fn(input_data: np.ndarray, model: TabularMLP):
    if model.problem_type == "regression":
        return model.predict(input_data)
    return ClassProbabilities(model.probabilities(input_data), model.classes)
