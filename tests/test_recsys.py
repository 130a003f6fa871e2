"""MovieLens-100k (fetched for real by the CLI, from the recbole wheel on PyPI when GroupLens is out of
reach), the catalogue form, our Freebase entity table, and the recommender against popularity."""

import io
import json
import subprocess
import sys
import zipfile
from collections import Counter

import pandas as pd
import pytest

from culturalign.errors import CulturalignError
from culturalign.recsys import movielens, recommender
from culturalign.recsys.catalog import load_catalog, save_catalog


@pytest.fixture(scope="module")
def catalog(cache_root):
    proc = subprocess.run(
        [sys.executable, "-m", "culturalign.cli", "data", "fetch", "movielens-100k"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    folder = cache_root / "data" / "movielens-100k"
    source = json.loads((folder / "source.json").read_text())
    assert source["counts"] == {"ratings": 100000, "users": 943, "items": 1682}
    return movielens.load(folder)


def test_fetched_movielens_has_the_published_facts(catalog):
    toy = catalog.facts(1)
    assert toy["title"] == "Toy Story" and toy["year"] == 1995
    assert set(toy["genres"]) == {"Animation", "Children's", "Comedy"}
    assert catalog.ratings.rating.between(1, 5).all() and len(catalog.users) == 943
    with pytest.raises(CulturalignError, match="item 99999 is not in catalogue"):
        catalog.facts(99999)


def test_freebase_table_agrees_with_the_graph(catalog):
    """Our names for Freebase entities are checked against the graph itself: a country's films that are
    not in English are mostly in that country's own language."""
    national = {
        "France": {"French"},
        "Germany": {"German"},
        "Italy": {"Italian"},
        "Japan": {"Japanese"},
        "Spain": {"Spanish"},
        "Mexico": {"Spanish"},
        "China": {"Mandarin Chinese"},
        "Russia": {"Russian"},
        "Poland": {"Polish"},
        "Sweden": {"Swedish"},
        "Netherlands": {"Dutch"},
        "Switzerland": {"French", "German", "Italian"},
    }
    for country, languages in national.items():
        spoken = Counter(
            lang
            for cs, ls in zip(catalog.items.countries, catalog.items.languages)
            if country in cs
            for lang in ls
            if lang != "English"
        )
        top = {lang for lang, _ in spoken.most_common(2)}
        assert top & languages, f"{country}: top non-English languages {spoken.most_common(3)}"
    # most facts are named: the table covers the common entities
    assert sum(bool(c) for c in catalog.items.countries) > 0.9 * len(catalog.items)


def test_item_knn_beats_popularity_on_a_temporal_holdout(catalog):
    train, test = recommender.temporal_split(catalog.ratings, 0.2)
    assert len(train) + len(test) == len(catalog.ratings)
    latest_train = train.groupby("user").timestamp.max()
    earliest_test = test.groupby("user").timestamp.min()
    assert (latest_train.loc[earliest_test.index] <= earliest_test).all()  # held-out ratings are the latest
    table = recommender.benchmark(catalog, k=10).set_index("model")
    for metric in ("recall@10", "ndcg@10"):
        assert table.loc["item-knn", metric] > 1.2 * table.loc["popularity", metric]
    model = recommender.ItemKNN().fit(train, catalog.items["item"])
    top = recommender.recommend(model, 1, k=5)
    assert len(top) == 5 and not set(top) & set(train[train.user == 1]["item"])


def _grouplens_zip() -> zipfile.ZipFile:
    buf = io.BytesIO()
    flags = ["0"] * 19
    flags[3] = flags[5] = "1"  # Animation, Comedy
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("ml-100k/u.data", "1\t1\t5\t874965758\n2\t1\t3\t876893171\n")
        z.writestr("ml-100k/u.item", "1|Toy Story (1995)|01-Jan-1995||http://x|" + "|".join(flags) + "\n")
        z.writestr("ml-100k/u.user", "1|24|M|technician|85711\n2|53|F|other|94043\n")
    return zipfile.ZipFile(io.BytesIO(buf.getvalue()))


def test_grouplens_format_parses_to_the_same_tidy_form(tmp_path):
    cat = movielens.parse_grouplens(_grouplens_zip())
    assert cat.items.iloc[0].title == "Toy Story" and cat.items.iloc[0].year == 1995
    assert cat.items.iloc[0].genres == ("Animation", "Comedy")
    save_catalog(cat, tmp_path / "c")
    again = load_catalog(tmp_path / "c")
    assert again.facts(1)["genres"] == ("Animation", "Comedy") and again.facts(1)["countries"] == ()
    with pytest.raises(CulturalignError, match="should have"):
        movielens.verify(cat)  # two ratings are not MovieLens-100k


def test_bad_catalogues_get_clear_errors(tmp_path):
    with pytest.raises(CulturalignError, match="no catalogue at"):
        load_catalog(tmp_path / "nothing")
    folder = tmp_path / "cat"
    folder.mkdir()
    pd.DataFrame({"user": [1], "item": [7], "rating": [5], "timestamp": [0]}).to_csv(
        folder / "ratings.csv", index=False
    )
    with pytest.raises(CulturalignError, match="items.parquet \\(or items.csv\\) not found"):
        load_catalog(folder)
    pd.DataFrame({"item": [1], "title": ["A"]}).to_csv(folder / "items.csv", index=False)
    with pytest.raises(CulturalignError, match="missing column\\(s\\) year, genres, countries, languages"):
        load_catalog(folder)
    pd.DataFrame(
        {"item": [1], "title": ["A"], "year": [1990], "genres": ["Drama"], "countries": [""], "languages": [""]}
    ).to_csv(folder / "items.csv", index=False)
    with pytest.raises(CulturalignError, match="1 item id\\(s\\) not in items, e.g. \\[7\\]"):
        load_catalog(folder)
    with pytest.raises(CulturalignError, match="unknown source"):
        movielens.fetch(tmp_path / "x", source="kaggle")
    with pytest.raises(CulturalignError, match="not fetched yet"):
        movielens.load(tmp_path / "x")


def test_explanation_tasks_split_users_and_explain_real_recommendations(catalog):
    from culturalign.recsys.examples import describe_history, describe_item, explanation_tasks

    tasks = explanation_tasks(catalog, seed=0, sizes={"train": 5, "val": 3, "test": 4})
    assert tasks.split.value_counts().to_dict() == {"train": 5, "test": 4, "val": 3}
    users = {s: set(tasks.loc[tasks.split == s, "user"]) for s in ("train", "val", "test")}
    assert not users["train"] & users["test"] and not users["val"] & users["test"]
    train, _ = recommender.temporal_split(catalog.ratings)
    for task in tasks.to_dict("records"):
        seen = set(train.loc[train.user == task["user"], "item"])
        assert task["item"] not in seen and len(task["history"]) >= 2
        assert {h["item"] for h in task["history"]} <= seen
        assert task["facts"]["countries"] == ()  # the graph's links are unreliable: left out by default
    again = explanation_tasks(catalog, seed=0, sizes={"train": 5, "val": 3, "test": 4})
    assert again[["user", "item", "country"]].equals(tasks[["user", "item", "country"]])
    first = tasks.iloc[0]
    assert "genres:" in describe_item(first.facts) and describe_history(first.history).count("\n- ") >= 1


def test_reference_explanations_pass_the_gate_on_real_tasks(catalog):
    """The labelled demos are grounded by construction: every one passes the gate, and they vary."""
    from culturalign.recsys.examples import explanation_tasks, reference_explanation
    from culturalign.recsys.gate import check

    tasks = explanation_tasks(catalog, seed=0, sizes={"train": 40, "val": 0, "test": 0})
    titles = list(catalog.items.title)
    texts = [reference_explanation(t) for t in tasks.to_dict("records")]
    for text, task in zip(texts, tasks.to_dict("records")):
        result = check(text, task["facts"], task["history"], task["country"], titles)
        assert result.passed, (text, result.reasons)
        assert {"title", "genre"} <= set(result.facts_used)
    assert len({t.split()[0] for t in texts}) >= 3  # more than one sentence form
