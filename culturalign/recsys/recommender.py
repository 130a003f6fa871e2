"""A real recommender for the items to explain: item-kNN on implicit feedback, against popularity.

Evaluation is a per-user temporal hold-out: each user's last ``holdout`` share of ratings (at least one)
is the test set; recall@k and NDCG@k count held-out items among the top k of items the user has not seen.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import sparse

from ..errors import CulturalignError


def temporal_split(ratings: pd.DataFrame, holdout: float = 0.2) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Each user's latest ``holdout`` share of ratings (at least one, never all) is held out."""
    if not 0 < holdout < 1:
        raise CulturalignError(f"holdout must be between 0 and 1, got {holdout}")
    ordered = ratings.sort_values(["user", "timestamp", "item"])
    rank = ordered.groupby("user").cumcount(ascending=False)  # 0 = the latest rating
    size = ordered.groupby("user")["item"].transform("size")
    n_test = np.maximum(1, np.floor(size * holdout)).astype(int)
    test = (rank < n_test) & (size > 1)
    return ordered[~test].reset_index(drop=True), ordered[test].reset_index(drop=True)


@dataclass
class _Index:
    users: pd.Index
    items: pd.Index
    matrix: sparse.csr_matrix  # users x items, 1 where rated


def _index(train: pd.DataFrame, items) -> _Index:
    users = pd.Index(sorted(train.user.unique()))
    items = pd.Index(sorted(items))
    rows, cols = users.get_indexer(train.user), items.get_indexer(train["item"])
    matrix = sparse.csr_matrix((np.ones(len(train)), (rows, cols)), shape=(len(users), len(items)))
    return _Index(users, items, matrix)


class Popularity:
    """Most-rated items first (the baseline a recommender must beat)."""

    name = "popularity"

    def fit(self, train: pd.DataFrame, items) -> "Popularity":
        self.index = _index(train, items)
        self.counts = np.asarray(self.index.matrix.sum(axis=0)).ravel()
        return self

    def scores(self, user_rows: np.ndarray) -> np.ndarray:
        return np.tile(self.counts, (len(user_rows), 1)).astype(float)


class ItemKNN:
    """Item-based k-nearest neighbours: cosine similarity between items' rater sets, each item keeping its
    ``neighbours`` most similar items; a user's score for an item sums its similarity to the user's items."""

    name = "item-knn"

    def __init__(self, neighbours: int = 50):
        self.neighbours = neighbours

    def fit(self, train: pd.DataFrame, items) -> "ItemKNN":
        self.index = _index(train, items)
        m = self.index.matrix.tocsc()
        norms = np.sqrt(np.asarray(m.multiply(m).sum(axis=0)).ravel())
        norms[norms == 0] = 1.0
        sim = (m.T @ m).toarray() / np.outer(norms, norms)
        np.fill_diagonal(sim, 0.0)
        if self.neighbours < sim.shape[1]:  # keep each item's top neighbours only
            cut = np.partition(sim, -self.neighbours, axis=1)[:, -self.neighbours][:, None]
            sim[sim < cut] = 0.0
        self.similarity = sim
        return self

    def scores(self, user_rows: np.ndarray) -> np.ndarray:
        return np.asarray(self.index.matrix[user_rows] @ self.similarity.T)


def recommend(model, user, k: int = 10) -> list[int]:
    """Top-k unseen items for one user (who must be in the training data)."""
    row = model.index.users.get_indexer([user])
    if row[0] < 0:
        raise CulturalignError(f"user {user!r} has no ratings in the training data")
    return _top_k(model, row, k)[0]


def _top_k(model, rows: np.ndarray, k: int) -> list[list[int]]:
    scores = model.scores(rows)
    seen = model.index.matrix[rows].toarray() > 0
    scores[seen] = -np.inf
    top = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    return [[int(model.index.items[j]) for j in r] for r in top]


def evaluate(model, test: pd.DataFrame, k: int = 10) -> dict:
    """Mean recall@k and NDCG@k over users with held-out items."""
    truth = test.groupby("user")["item"].apply(set)
    truth = truth[truth.index.isin(model.index.users)]
    rows = model.index.users.get_indexer(truth.index)
    recall, ndcg = [], []
    for start in range(0, len(rows), 256):
        batch = rows[start : start + 256]
        for top, relevant in zip(_top_k(model, batch, k), truth.iloc[start : start + 256]):
            hits = [1.0 if item in relevant else 0.0 for item in top]
            recall.append(sum(hits) / len(relevant))
            ideal = sum(1 / np.log2(i + 2) for i in range(min(len(relevant), k)))
            ndcg.append(sum(h / np.log2(i + 2) for i, h in enumerate(hits)) / ideal)
    return {
        "model": model.name,
        "users": len(recall),
        f"recall@{k}": float(np.mean(recall)),
        f"ndcg@{k}": float(np.mean(ndcg)),
    }


def benchmark(catalog, k: int = 10, holdout: float = 0.2, neighbours: int = 50) -> pd.DataFrame:
    """recall@k / NDCG@k of item-kNN and popularity on the same temporal hold-out."""
    train, test = temporal_split(catalog.ratings, holdout)
    items = catalog.items["item"]
    rows = [evaluate(m.fit(train, items), test, k) for m in (ItemKNN(neighbours), Popularity())]
    return pd.DataFrame(rows)
