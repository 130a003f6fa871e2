"""How far one answer distribution is from another, per question: the field's distributional metrics.

For a model's distribution ``p`` and a society's ``q`` over the same substantive options:

* ``one_minus_jsd``   1 - the Jensen-Shannon *distance* (square root of the divergence), base 2, in [0, 1]:
  the field's convention (Durmus et al.; DTEF).
* ``one_minus_jsd_e`` the same with the natural log, which is what Cao et al.'s code computes (scipy's
  default base), so their published figures compare.
* ``tv``              total variation, 1/2 sum |p - q| (Meister et al.; SimBench).
* ``emd``             earth mover's distance over ordered options, sum |CDF_p - CDF_q| / (k - 1), in [0, 1];
  ordinal questions only (NaN for nominal ones).

The **sampling noise floor** is what even a perfect predictor scores against survey data: the expected tv and
1 - JSD between a society's distribution and the empirical distribution of n = 1,200 respondents drawn from it.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial.distance import jensenshannon

METRICS = ("one_minus_jsd", "one_minus_jsd_e", "tv", "emd")
SURVEY_N = 1200  # a typical WVS-7 national sample
FLOOR_DRAWS, FLOOR_SEED = 400, 0


def compare(p, q, ordinal: bool = True) -> dict[str, float]:
    """Every metric of model distribution ``p`` against society distribution ``q`` (same option order)."""
    p, q = np.asarray(p, float), np.asarray(q, float)
    p, q = p / p.sum(), q / q.sum()
    k = len(p)
    emd = float(np.abs(np.cumsum(p) - np.cumsum(q))[:-1].sum() / (k - 1)) if ordinal and k > 1 else float("nan")
    return {
        "one_minus_jsd": float(1 - jensenshannon(p, q, base=2)),
        "one_minus_jsd_e": float(1 - jensenshannon(p, q)),
        "tv": float(0.5 * np.abs(p - q).sum()),
        "emd": emd,
    }


def noise_floor(q, n: int = SURVEY_N, draws: int = FLOOR_DRAWS, seed: int = FLOOR_SEED) -> dict[str, float]:
    """Expected tv and 1 - JSD (base 2) of a sample of ``n`` respondents from ``q`` against ``q`` itself
    (seeded Monte Carlo over ``draws`` samples)."""
    q = np.asarray(q, float)
    q = q / q.sum()
    sample = np.random.default_rng(seed).multinomial(n, q, size=draws) / n
    tv = 0.5 * np.abs(sample - q).sum(axis=1)
    jsd = jensenshannon(sample, np.broadcast_to(q, sample.shape), base=2, axis=1)
    return {"tv": float(tv.mean()), "one_minus_jsd": float(1 - np.nan_to_num(jsd).mean())}
