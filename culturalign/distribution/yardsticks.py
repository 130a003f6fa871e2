"""Model-free distributional yardsticks: what a condition's answer distributions must beat.

* ``uniform``          every substantive option equally likely.
* ``marginal``         the unweighted mean of the distributions of the societies the predictor may know for
  that question: the training split under a split, otherwise every other society with data (leave-one-out,
  exactly as ``centroid`` on the map). The target itself is never used. In one study this population
  marginal beat every language model tested (DTEF).
* ``region_marginal``  the same within the target's cultural region, falling back to ``marginal`` where the
  region has no known society (and for societies off the map, which have no region).
* ``neighbours``       the (weighted) mean distribution of the known societies a retrieving program is shown for
  the question (:mod:`culturalign.map.neighbours`), the same retrieval with no model; ``marginal`` for a
  society off the map (it has no region to be placed by) or where no neighbour answered the question.

They are respondents of kind ``reference`` in the one scoring path
(:func:`culturalign.elicitation.scoring.score`), like the map's ``centroid``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import CulturalignError
from ..instrument.populations import question_keys, societies, target_distributions
from ..map import reference
from ..map.neighbours import Retrieval, neighbours

DISTRIBUTION_PREDICTORS = ("uniform", "marginal", "region_marginal", "neighbours")
COLUMNS = ["condition", "kind", "country", "item", "part", "question", "option", "p"]


def predictions(
    survey, countries, known=None, names=DISTRIBUTION_PREDICTORS, retrieval: Retrieval = Retrieval()
) -> pd.DataFrame:
    """The yardsticks' distribution for every target country and question with data (tidy: ``COLUMNS``).
    ``known``: the societies they may learn from (None: every other society with data); ``retrieval``: how
    ``neighbours`` retrieves."""
    bad = [n for n in names if n not in DISTRIBUTION_PREDICTORS]
    if bad:
        raise CulturalignError(f"unknown distributional yardstick(s) {bad}; use {', '.join(DISTRIBUTION_PREDICTORS)}")
    shares = _shares_by_question(survey)
    region = societies().set_index("society").region
    known = None if known is None else set(known)
    on_map = set(reference.countries().country)
    found_neighbours = {}
    if "neighbours" in names:  # retrieval draws on map countries the predictor may know, never the target
        for country in countries:
            pool = on_map if known is None else known & on_map
            found_neighbours[country] = dict(neighbours(country, pool, retrieval)) if country in on_map else {}
    rows = []
    for key in question_keys(survey).itertuples():
        wide = shares.get((key.item, key.part))
        if wide is None:
            continue
        wide = wide.reindex(columns=list(key.codes)).fillna(0.0)
        for country in countries:
            pool = wide.drop(index=country, errors="ignore")
            if known is not None:
                pool = pool[pool.index.isin(known)]
            k = len(key.codes)
            found = {"uniform": np.full(k, 1 / k)}
            if len(pool):
                found["marginal"] = pool.to_numpy().mean(axis=0)
                mine = region.get(country, "")
                same = pool[[bool(mine) and region.get(c, "") == mine for c in pool.index]]
                found["region_marginal"] = same.to_numpy().mean(axis=0) if len(same) else found["marginal"]
                weights = pd.Series(found_neighbours.get(country, {}), dtype=float)
                weights = weights[weights.index.isin(pool.index)]
                found["neighbours"] = (
                    (weights / weights.sum()) @ pool.loc[weights.index].to_numpy()
                    if len(weights)
                    else found["marginal"]
                )
            for name in names:
                if name in found:
                    rows += [
                        {
                            "condition": name,
                            "kind": "reference",
                            "country": country,
                            "item": key.item,
                            "part": key.part,
                            "question": key.question,
                            "option": code,
                            "p": float(p),
                        }
                        for code, p in zip(key.codes, found[name])
                    ]
    return pd.DataFrame(rows, columns=COLUMNS)


_SHARES: dict[str, dict] = {}


def _shares_by_question(survey) -> dict[tuple, pd.DataFrame]:
    """(item, part) -> the societies' answer shares (country x option), built once per survey and process: every
    yardstick asks for them, and a pivot per question of WVS-7 per yardstick took seconds."""
    if survey.digest not in _SHARES:
        _SHARES[survey.digest] = {
            key: sub.pivot_table(index="country", columns="option", values="share", aggfunc="first")
            for key, sub in target_distributions(survey).groupby(["item", "part"], sort=False)
        }
    return _SHARES[survey.digest]


class DistributionYardstick:
    """A distributional yardstick by name as a model-free respondent that predicts distributions (no map
    point), knowing the societies ``known`` (None: every other society with data)."""

    def __init__(self, name: str, known=None, retrieval: Retrieval = Retrieval()):
        if name not in DISTRIBUTION_PREDICTORS:
            raise CulturalignError(
                f"unknown distributional yardstick {name!r}; use one of {', '.join(DISTRIBUTION_PREDICTORS)}"
            )
        self.name, self.known, self.retrieval = name, None if known is None else list(known), retrieval

    def distributions(self, survey, countries) -> pd.DataFrame:
        return predictions(survey, countries, self.known, names=(self.name,), retrieval=self.retrieval).drop(
            columns=["condition", "kind"]
        )


def distribution_respondents(
    known=None, retrieval: Retrieval = Retrieval()
) -> list[tuple[str, str, DistributionYardstick]]:
    """The yardsticks as ``(name, kind, respondent)`` triples for the scoring path."""
    return [(name, "reference", DistributionYardstick(name, known, retrieval)) for name in DISTRIBUTION_PREDICTORS]
