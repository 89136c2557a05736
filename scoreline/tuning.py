"""Automatic model tuning (README, "Tuning"): what each flavour's search covers and how a trial is scored.

Each trial is one training job with sampled hyperparameters. Its objective is not the validation split's metric,
which a search of many trials overfits (on California housing, 20 configurations chosen on the one validation split
scored worse on test than the defaults), but the out-of-fold loss of k-fold cross-validation on the training and
validation rows together, computed inside the trial (container_code/common/model_io.py) and logged as
`objective-loss=<value>;`. Lower is better: RMSE for regression, log loss for classification, so one objective
serves every problem type (it is settled only at run time). The best trial's artifact, trained on the training split
with early stopping on the validation split like an untuned one, goes to Evaluate, the gate and Register.

The ranges are in the API's ParameterRanges shape (plain data, no SDK), the form the pipeline definition holds and
the local cloud samples from."""

from __future__ import annotations

# The objective, as the training scripts log it and the metric definition reads it.
OBJECTIVE_METRIC = "objective:loss"
OBJECTIVE_REGEX = r"objective-loss=([0-9\.eE+-]+);"
# Folds of the objective's cross-validation (one repeat). Small data is cross-validated anyway (5 folds x 3
# repeats, model_io.CV_FOLDS and CV_REPEATS); its trials take their objective from that.
OBJECTIVE_FOLDS = 3
# The tuning job's RandomSeed: the same data and settings search the same configurations.
TUNING_SEED = 7
# The strategies whose search needs no extra training contract: Grid takes categorical ranges only, and Hyperband
# stops trials early on intermediate objective values, which a cross-validated objective logged once has not.
STRATEGIES = ("Random", "Bayesian")


def _continuous(name: str, low: float, high: float, scaling: str = "Logarithmic") -> tuple[str, dict]:
    return "ContinuousParameterRanges", {
        "Name": name,
        "MinValue": str(low),
        "MaxValue": str(high),
        "ScalingType": scaling,
    }


def _integer(name: str, low: int, high: int, scaling: str = "Logarithmic") -> tuple[str, dict]:
    return "IntegerParameterRanges", {"Name": name, "MinValue": str(low), "MaxValue": str(high), "ScalingType": scaling}


def _categorical(name: str, *values: str) -> tuple[str, dict]:
    return "CategoricalParameterRanges", {"Name": name, "Values": list(values)}


# Per flavour: ranges around the defaults, wide enough for a few hundred rows (smaller leaves and trees, more
# regularisation) and for tens of thousands (bigger trees). Names are the scripts' options. The boosting step stays
# at 0.05 or more: below it a trial on 20,000 rows boosts for thousands of rounds in each of its four fits (one
# trial took 4 minutes on 2 cores) for a gain within the split-to-split spread.
SEARCH_SPACES = {
    "sklearn": (
        _continuous("learning-rate", 0.05, 0.3),
        _integer("max-leaf-nodes", 7, 127),
        _integer("min-samples-leaf", 2, 100),
        _continuous("l2-regularization", 0.001, 10.0),
    ),
    "xgboost": (
        _continuous("eta", 0.05, 0.3),
        _integer("max-depth", 3, 10, "Linear"),
        _continuous("min-child-weight", 0.5, 20.0),
        _continuous("subsample", 0.5, 1.0, "Linear"),
        _continuous("colsample-bytree", 0.5, 1.0, "Linear"),
        _continuous("reg-lambda", 0.01, 10.0),
    ),
    "pytorch": (
        _continuous("learning-rate", 3e-4, 3e-3),
        _continuous("weight-decay", 1e-3, 0.3),
        _continuous("embedding-sigma", 0.05, 2.0),
        _categorical("hidden-sizes", "64,64", "128,128", "256,256,256"),
    ),
}


def parameter_ranges(flavour: str, fixed: dict[str, str]) -> dict[str, list[dict]]:
    """The flavour's ranges in the API's ParameterRanges shape, without the hyperparameters the user fixed in
    training_hyperparameters (a fixed value is kept static in every trial)."""
    fixed_names = {name.replace("_", "-") for name in fixed}
    ranges: dict[str, list[dict]] = {}
    for kind, parameter in SEARCH_SPACES[flavour]:
        if parameter["Name"] not in fixed_names:
            ranges.setdefault(kind, []).append(parameter)
    return ranges
