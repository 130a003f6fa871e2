#!/usr/bin/env python3
"""How the contrastive objective's width tau changes what it rewards, on the 107 reference countries (no model).

For each tau it prints the mean contrastive score of three model-free predictions — a point on the target
itself, the region lookup (leave-one-out mean of the target's region) and the centroid (leave-one-out mean of
every other country) — with chance (1/N), how many times the target's own point beats the centroid, and
how often a point 0.3 map units off the target in a random direction still scores above the centroid.

    python tools/objective_landscape.py [--tau 0.25 0.5 1.0] [--json]
"""

import argparse
import json

import numpy as np

from culturalign.map import reference
from culturalign.map.yardsticks import reference_predictions
from culturalign.optimization.objectives import contrastive_score


def landscape(tau: float) -> dict:
    ref = reference.countries().set_index("country")
    preds = reference_predictions(ref.index.tolist()).set_index(["condition", "country"])
    rng = np.random.default_rng(0)
    rows = []
    for country in ref.index:
        tx, ty = ref.at[country, "x"], ref.at[country, "y"]
        angle = rng.uniform(0, 2 * np.pi)
        scores = {
            "target": contrastive_score(tx, ty, country, tau=tau),
            "off_0.3": contrastive_score(tx + 0.3 * np.cos(angle), ty + 0.3 * np.sin(angle), country, tau=tau),
            **{
                name: contrastive_score(
                    preds.at[(name, country), "x"], preds.at[(name, country), "y"], country, tau=tau
                )
                for name in ("region_centroid", "centroid")
            },
        }
        rows.append(scores)
    mean = {k: float(np.mean([r[k] for r in rows])) for k in rows[0]}
    ratio = np.array([r["target"] / r["centroid"] for r in rows])
    return {
        "tau": tau,
        "chance": 1 / len(ref),
        "mean_score": mean,
        "median_target_over_centroid": float(np.median(ratio)),
        "share_target_10x_centroid": float(np.mean(ratio > 10)),
        "share_off_target_beats_centroid": float(np.mean([r["off_0.3"] > r["centroid"] for r in rows])),
        "share_region_beats_centroid": float(np.mean([r["region_centroid"] > r["centroid"] for r in rows])),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tau", type=float, nargs="+", default=[0.25, 0.5, 1.0])
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    out = [landscape(t) for t in args.tau]
    if args.json:
        print(json.dumps(out, indent=2))
        return
    print(
        f"{'tau':>5} {'target':>8} {'0.3 off':>8} {'region':>8} {'centroid':>9} {'chance':>7} "
        f"{'target/centroid':>16} {'>10x':>5} {'region>centroid':>16}"
    )
    for r in out:
        m = r["mean_score"]
        print(
            f"{r['tau']:>5.2f} {m['target']:>8.3f} {m['off_0.3']:>8.3f} {m['region_centroid']:>8.3f} "
            f"{m['centroid']:>9.4f} {r['chance']:>7.4f} {r['median_target_over_centroid']:>15.0f}x "
            f"{r['share_target_10x_centroid']:>5.0%} {r['share_region_beats_centroid']:>16.0%}"
        )


if __name__ == "__main__":
    main()
