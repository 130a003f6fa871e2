"""A recommendation catalogue in tidy form: who rated what, and the facts about each item.

Any catalogue in this form plugs in — a folder with

* ``ratings.parquet`` (or ``.csv``): ``user, item, rating, timestamp``
* ``items.parquet`` (or ``.csv``): ``item, title, year, genres, countries, languages``; list-valued facts are
  ``|``-joined strings (empty when unknown)
* ``users.parquet`` (or ``.csv``), optional: ``user`` plus any attributes
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from ..errors import CulturalignError
from ..fileio import atomic_write, read_table

RATING_COLUMNS = ("user", "item", "rating", "timestamp")
ITEM_COLUMNS = ("item", "title", "year", "genres", "countries", "languages")
LIST_COLUMNS = ("genres", "countries", "languages")


@dataclass
class Catalog:
    name: str
    ratings: pd.DataFrame
    items: pd.DataFrame  # list-valued facts as tuples
    users: pd.DataFrame | None = None

    def facts(self, item: int) -> dict:
        """The facts about one item: title, year, genres, countries, languages."""
        try:
            row = self._by_item.loc[item]
        except KeyError:
            raise CulturalignError(f"item {item!r} is not in catalogue {self.name!r}") from None
        year = row["year"]
        return {
            "item": int(item),
            "title": str(row["title"]),
            "year": None if pd.isna(year) else int(year),
            **{c: tuple(row[c]) for c in LIST_COLUMNS},
        }

    @property
    def _by_item(self) -> pd.DataFrame:
        if not hasattr(self, "_index"):
            self._index = self.items.set_index("item")
        return self._index


RATING_KINDS = {"user": "int", "item": "int", "rating": "finite", "timestamp": "int"}
ITEM_KINDS = {
    "item": "int",
    "title": "text",
    "year": "number",
    "genres": "text?",
    "countries": "text?",
    "languages": "text?",
}


def load_catalog(folder) -> Catalog:
    """Load a catalogue folder in the tidy form above, with clear errors for what does not fit."""
    folder = Path(folder)
    if not folder.is_dir():
        raise CulturalignError(f"no catalogue at {folder} (for MovieLens run: culturalign data fetch movielens-100k)")
    ratings = read_table(folder, "ratings", "catalogue ratings", RATING_KINDS)
    items = read_table(folder, "items", "catalogue items", ITEM_KINDS)
    users = read_table(folder, "users", "catalogue users", {"user": "int"}, required=False)
    unknown = sorted(set(ratings["item"]) - set(items["item"]))
    if unknown:
        raise CulturalignError(f"{folder}/ratings: {len(unknown)} item id(s) not in items, e.g. {unknown[:5]}")
    if items["item"].duplicated().any():
        raise CulturalignError(
            f"{folder}/items: duplicate item ids, e.g. {items.loc[items['item'].duplicated(), 'item'].head(5).tolist()}"
        )
    items = items.copy()
    for col in LIST_COLUMNS:
        items[col] = [tuple(v for v in str(x).split("|") if v) if isinstance(x, str) else () for x in items[col]]
    return Catalog(folder.name, ratings, items, users)


def save_catalog(catalog: Catalog, folder) -> Path:
    """Write a catalogue in the tidy form (parquet, atomically)."""
    folder = Path(folder)
    items = catalog.items.copy()
    for col in LIST_COLUMNS:
        items[col] = ["|".join(v) for v in items[col]]
    tables = {"ratings": catalog.ratings, "items": items}
    if catalog.users is not None:
        tables["users"] = catalog.users
    for stem, table in tables.items():
        buf = io.BytesIO()
        table.to_parquet(buf, index=False)
        atomic_write(folder / f"{stem}.parquet", buf.getvalue())
    return folder
