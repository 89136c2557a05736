"""Small helpers shared by the benchmarks: alternating runs, measured side by side."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable


def seconds(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def rounds(actions: dict[str, Callable[[], object]], repeats: int) -> dict[str, list[float]]:
    """Run each action once per round, in turn, `repeats` rounds; return each one's seconds, round by round.

    Alternating spreads the machine's noise over every contender instead of favouring whichever ran last.
    """
    samples: dict[str, list[float]] = {name: [] for name in actions}
    for _ in range(repeats):
        for name, action in actions.items():
            samples[name].append(seconds(action))
    return samples


def alternate(actions: dict[str, Callable[[], object]], repeats: int) -> dict[str, float]:
    """Each action's median seconds over alternating rounds (`rounds`)."""
    return {name: statistics.median(values) for name, values in rounds(actions, repeats).items()}
