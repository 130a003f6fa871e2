"""Explanation tasks: (user, recommended item, target country) triples, split by user.

The item is the user's top item-kNN recommendation (trained on everyone's earlier ratings, so it is one
a real system would show); the history is the user's most recent well-rated films; target countries are
drawn from the 107 reference societies. Users are split train / val / test with a fixed seed, so no
test user's history or recommendation is ever shown to an optimizer.
"""

from __future__ import annotations

import zlib

import numpy as np
import pandas as pd

from ..errors import CulturalignError
from ..map import reference
from . import recommender
from .catalog import Catalog
from .gate import display_title

HISTORY_SIZE = 4
LIKED = 4  # a rating of 4 or 5 counts as liked


def user_history(catalog: Catalog, ratings: pd.DataFrame, user: int, size: int = HISTORY_SIZE) -> list[dict]:
    """The user's most recent liked films (facts), newest first."""
    liked = ratings[(ratings.user == user) & (ratings.rating >= LIKED)].sort_values("timestamp", ascending=False)
    return [catalog.facts(i) for i in liked["item"].head(size)]


def explanation_tasks(
    catalog: Catalog, *, seed: int = 0, sizes: dict | None = None, with_kg_facts: bool = False
) -> pd.DataFrame:
    """One row per task: split, user, item, country, history (list of facts), facts (the item's).

    ``sizes`` caps the tasks per split (default train 40, val 20, test 40). Countries and languages from
    the knowledge graph are left out of the facts unless ``with_kg_facts`` (MovieLens's links are often
    wrong; see surveys/SOURCES.md)."""
    sizes = {"train": 40, "val": 20, "test": 40, **(sizes or {})}
    bad = sorted(set(sizes) - {"train", "val", "test"})
    if bad:
        raise CulturalignError(f"unknown split(s) {', '.join(bad)}; use train, val, test")
    train_ratings, _ = recommender.temporal_split(catalog.ratings)
    model = recommender.ItemKNN().fit(train_ratings, catalog.items["item"])
    rng = np.random.default_rng(seed)
    users = rng.permutation(sorted(train_ratings.user.unique()))
    cut1, cut2 = int(0.6 * len(users)), int(0.8 * len(users))
    parts = {"train": users[:cut1], "val": users[cut1:cut2], "test": users[cut2:]}
    countries = reference.countries().country.tolist()
    rows = []
    for split, members in parts.items():
        picked = 0
        for user in members:
            if picked >= sizes[split]:
                break
            history = user_history(catalog, train_ratings, int(user))
            if len(history) < 2:
                continue  # nothing to ground an explanation in
            item = recommender.recommend(model, int(user), k=1)[0]
            facts = catalog.facts(item)
            if not with_kg_facts:
                facts = {**facts, "countries": (), "languages": ()}
                history = [{**h, "countries": (), "languages": ()} for h in history]
            rows.append(
                {
                    "split": split,
                    "user": int(user),
                    "item": item,
                    "country": str(rng.choice(countries)),
                    "history": history,
                    "facts": facts,
                }
            )
            picked += 1
    return pd.DataFrame(rows)


def describe_item(facts: dict) -> str:
    """The item as the explainer sees it."""
    parts = [
        f"{display_title(facts['title'])} ({facts['year']})" if facts.get("year") else display_title(facts["title"]),
        f"genres: {', '.join(facts['genres']) or 'unknown'}",
    ]
    if facts.get("countries"):
        parts.append(f"countries: {', '.join(facts['countries'])}")
    if facts.get("languages"):
        parts.append(f"languages: {', '.join(facts['languages'])}")
    return "; ".join(parts)


def describe_history(history: list[dict]) -> str:
    return "\n".join(f"- {describe_item(h)}" for h in history)


# How each genre reads in a sentence; the gate's first synonym, so the gate recognises what it checks.
GENRE_PHRASE = {"Film-Noir": "noir", "War": "war", "Children's": "children's", "Sci-Fi": "sci-fi"}
REFERENCE_FORMS = (
    "You enjoyed {liked}. {item} ({year}) is {article} {genres} film, so it should suit you too.",
    "Because {liked} stayed with you, try {item}, {article} {genres} film from {year}.",
    "{item} ({year}) is {article} {genres} film for a viewer who liked {liked}.",
)


def _genre_phrase(genres) -> str:
    words = [GENRE_PHRASE.get(g, g.lower()) for g in genres[:2]]
    return " and ".join(words) if words else "feature"


def reference_explanation(task: dict) -> str:
    """A plain explanation built only from the task's facts: the labelled demo for training tasks.

    It names one or two history films and states the item's own year and genres, so it passes the
    faithfulness gate by construction; optimizers may show it as a demo (``max_labeled_demos``), which
    teaches a small model the grounded form. It says nothing cultural: that part is the program's to learn."""
    facts = task["facts"]
    liked = " and ".join(display_title(h["title"]) for h in task["history"][:2])
    genres = _genre_phrase(facts.get("genres", ()))
    form = REFERENCE_FORMS[zlib.crc32(f"{task['user']}-{facts['item']}".encode()) % len(REFERENCE_FORMS)]
    return form.format(
        liked=liked,
        item=display_title(facts["title"]),
        year=facts.get("year") or "an unknown year",
        article="an" if genres[0] in "aeiou" else "a",
        genres=genres,
    )
