"""How well each retrieval anchor places the held-out countries, with no answer from any model: the mean map
distance of the ``neighbours`` yardstick to the truth on split seed 0's test countries, per anchor and k, for
the models named (their embeddings of the country names serve the ``embedding`` and ``both`` anchors).

    python tools/compare_anchors.py qwen2.5-coder-0.5b gemma-3-270m

Embeddings are cached like answers, so a second run asks no model.
"""

from __future__ import annotations

import argparse

import numpy as np
import pandas as pd

from culturalign.map import reference
from culturalign.map.neighbours import ANCHORS, Retrieval
from culturalign.map.splits import country_splits
from culturalign.map.yardsticks import reference_predictions
from culturalign.models import ModelSession


def mean_distance(retrieval: Retrieval, train, test) -> float:
    ref = reference.countries().set_index("country")
    got = reference_predictions(test, known=train, retrieval=retrieval)
    got = got[got.condition == "neighbours"].set_index("country")
    return float(np.hypot(got.x - ref.loc[got.index, "x"], got.y - ref.loc[got.index, "y"]).mean())


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("models", nargs="+", help="registry names whose embeddings place the countries")
    parser.add_argument("--k", default="3,5", help="comma-separated neighbour counts (default 3,5)")
    args = parser.parse_args(argv)
    split = country_splits(0)
    train = split.loc[split.split == "train", "country"].tolist()
    test = split.loc[split.split == "test", "country"].tolist()
    names = list(reference.countries().country)
    rows = []
    for model in args.models:
        with ModelSession(model) as session:
            vectors = dict(zip(names, session.embed(names)))
        for k in (int(v) for v in args.k.split(",")):
            row = {"model": model, "k": k}
            for anchor in ANCHORS:
                row[anchor] = mean_distance(Retrieval(k=k, anchor=anchor).with_vectors(vectors), train, test)
            rows.append(row)
    print(f"mean distance of the neighbours yardstick on {len(test)} test countries (split seed 0):")
    print(pd.DataFrame(rows).to_string(index=False, float_format=lambda v: f"{v:.3f}"))


if __name__ == "__main__":
    main()
