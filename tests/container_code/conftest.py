"""Fixtures for the container code tests: data sets and the handler modules imported in-process."""

from __future__ import annotations

import importlib.util
import sys

import numpy as np
import pandas as pd
import pytest

from tests.container_code.helpers import CODE


def load_handlers(folder: str):
    """container_code/<folder>/inference.py as a module of its own (every container names its file inference.py)."""
    name = f"{folder}_inference"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, CODE / folder / "inference.py")
        module = importlib.util.module_from_spec(spec)
        sys.path.insert(0, str(CODE / folder))  # as in the serving container: the handler's folder is importable
        try:
            spec.loader.exec_module(module)
        finally:
            sys.path.remove(str(CODE / folder))
        sys.modules[name] = module
    return sys.modules[name]


@pytest.fixture(scope="session")
def housing() -> pd.DataFrame:
    """California housing from the copy in the repository: no network."""
    from demo.data import california_housing

    return california_housing()


@pytest.fixture(scope="session")
def mixed_data() -> pd.DataFrame:
    """A user's CSV: a text column (one value with a comma), a numeric-coded category, missing values."""
    rng = np.random.RandomState(0)
    rows = 400
    size = rng.normal(100, 30, rows)
    age = rng.uniform(0, 50, rows)
    city = rng.choice(["Austin", "Paris, TX", "Boston"], rows).astype(object)
    grade = rng.choice([1, 2, 3], rows)
    price = 2 * size - age + np.where(city == "Boston", 80, 0) + 15 * grade + rng.normal(0, 5, rows)
    age[rng.rand(rows) < 0.1] = np.nan
    city[rng.rand(rows) < 0.1] = None
    return pd.DataFrame({"size": size.round(1), "age": age.round(1), "city": city, "grade": grade, "price": price})
