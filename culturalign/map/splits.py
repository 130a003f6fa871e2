"""Country splits for compiling programs: train / validation / test, stratified by cultural region.

The split is a pure function of the seed and the fractions, so every run, machine and manifest agrees on
which countries an optimizer may see. Test countries are never shown to an optimizer.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import CulturalignError
from . import reference

SPLITS = ("train", "val", "test")
# evaluate's extra choice: the training and the test countries together, for the four held-out cells
TRAIN_AND_TEST = "train+test"


def country_splits(seed: int = 0, val: float = 0.2, test: float = 0.2) -> pd.DataFrame:
    """One row per reference country: country, region, split. Each region is shuffled with ``seed`` and
    divided in the given proportions (every region of three or more countries has at least one country in
    each split)."""
    if not (0 <= val < 1 and 0 <= test < 1 and val + test < 1):
        raise CulturalignError(
            f"split fractions must be in [0, 1) and leave room for training; got val={val}, test={test}"
        )
    rng = np.random.default_rng(seed)
    rows = []
    for region, group in reference.countries().groupby("region", sort=True):
        names = sorted(group.country)
        rng.shuffle(names)
        n = len(names)
        n_test = max(1, round(n * test)) if test > 0 and n >= 3 else 0
        n_val = max(1, round(n * val)) if val > 0 and n >= 3 else 0
        for i, name in enumerate(names):
            split = "test" if i < n_test else "val" if i < n_test + n_val else "train"
            rows.append({"country": name, "region": region, "split": split})
    return pd.DataFrame(rows).sort_values(["split", "region", "country"]).reset_index(drop=True)


def split_countries(split: str, seed: int = 0, **fractions) -> list[str]:
    if split not in SPLITS:
        raise CulturalignError(f"unknown split {split!r}; use one of {', '.join(SPLITS)}")
    table = country_splits(seed, **fractions)
    return table.loc[table.split == split, "country"].tolist()
