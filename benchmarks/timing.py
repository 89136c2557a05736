"""Small helpers shared by the benchmarks: medians of alternating runs, measured side by side."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable


def seconds(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def alternate(actions: dict[str, Callable[[], object]], repeats: int) -> dict[str, float]:
    """Run each action once per round, in turn, `repeats` rounds; return each one's median seconds.

    Alternating spreads the machine's noise over every contender instead of favouring whichever ran last.
    """
    samples: dict[str, list[float]] = {name: [] for name in actions}
    for _ in range(repeats):
        for name, action in actions.items():
            samples[name].append(seconds(action))
    return {name: statistics.median(values) for name, values in samples.items()}
