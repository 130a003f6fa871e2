"""MovieLens-100k: fetched from GroupLens when the internet is reachable, else read from the recbole==1.2.1
wheel on PyPI (downloaded with pip; only its dataset files are read, recbole is never installed).

The data are never committed (GroupLens terms); ``fetch`` verifies what it got (SHA-256 of the recbole
files, counts and ranges for either source) and writes the tidy catalogue (:mod:`.catalog`) to the cache.
The recbole copy adds production countries and languages from its Freebase knowledge graph, named by our
own table of the most common entities (``freebase.yaml``).
"""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
import sys
import tempfile
import urllib.request
import zipfile
from importlib import resources
from pathlib import Path

import pandas as pd
import yaml

from ..errors import CulturalignError
from ..fileio import atomic_write
from ..models.embedded import cache_dir
from . import MOVIELENS, MOVIELENS_SOURCES
from .catalog import Catalog, load_catalog, save_catalog

NAME = MOVIELENS
GROUPLENS_URL = "https://files.grouplens.org/datasets/movielens/ml-100k.zip"
RECBOLE = "recbole==1.2.1"
RECBOLE_DIR = "recbole/dataset_example/ml-100k/"
# SHA-256 of the dataset files inside recbole-1.2.1-py3-none-any.whl (measured when this was written)
RECBOLE_FILES = {
    "ml-100k.inter": "4edb74e2a81178c2ba9ff381495f754f996c4aea351b1272ca36b43da0935eff",
    "ml-100k.item": "51d7cdf777ce5c0f5b32c1d947a4a81fe07d75e78abbe761e0cd4d0756064532",
    "ml-100k.user": "4f670007d9cfbeb9807e757209af1555b9bcc186bde25e767f67cb67c6dd5972",
    "ml-100k.link": "524dca2c3d62619688ab99b3ec53ea2acb9b64d38eafec3e02bdd0dc6bb7d948",
    "ml-100k.kg": "200a0636fa07c218119a42e5bac7aa3e26e3665a6f919c1b22909bd412b14779",
}
COUNTS = {"ratings": 100_000, "users": 943, "items": 1_682}
# u.item's genre flags, in GroupLens's order
GENRES = (
    "unknown",
    "Action",
    "Adventure",
    "Animation",
    "Children's",
    "Comedy",
    "Crime",
    "Documentary",
    "Drama",
    "Fantasy",
    "Film-Noir",
    "Horror",
    "Musical",
    "Mystery",
    "Romance",
    "Sci-Fi",
    "Thriller",
    "War",
    "Western",
)


def default_folder() -> Path:
    return cache_dir() / "data" / NAME


def freebase_names() -> dict[str, dict[str, str]]:
    return yaml.safe_load(resources.files("culturalign.recsys").joinpath("freebase.yaml").read_text())


# ---------------------------------------------------------------- the two sources


def parse_grouplens(archive: zipfile.ZipFile) -> Catalog:
    """The GroupLens ml-100k.zip (u.data, u.item, u.user); no countries or languages."""

    def read(name):
        return archive.read(f"ml-100k/{name}").decode("latin-1")

    ratings = pd.read_csv(io.StringIO(read("u.data")), sep="\t", names=["user", "item", "rating", "timestamp"])
    rows = []
    for line in read("u.item").splitlines():
        fields = line.split("|")
        if len(fields) < 5 + len(GENRES):
            continue
        title, date, flags = fields[1], fields[2], fields[5 : 5 + len(GENRES)]
        year = int(date[-4:]) if date[-4:].isdigit() else None
        if title.endswith(")") and title[-5:-1].isdigit():
            title = title[:-7].rstrip()
        genres = tuple(g for g, f in zip(GENRES, flags) if f == "1" and g != "unknown")
        rows.append(
            {"item": int(fields[0]), "title": title, "year": year, "genres": genres, "countries": (), "languages": ()}
        )
    users = pd.read_csv(io.StringIO(read("u.user")), sep="|", names=["user", "age", "gender", "occupation", "zip"])
    return Catalog(NAME, ratings, pd.DataFrame(rows), users)


def parse_recbole(files: dict[str, bytes]) -> Catalog:
    """RecBole's atomic files (.inter, .item, .user) plus country/language facts from .link and .kg."""

    def table(name, columns):
        frame = pd.read_csv(io.BytesIO(files[name]), sep="\t", dtype=str, keep_default_na=False)
        frame.columns = columns
        return frame

    inter = table("ml-100k.inter", ["user", "item", "rating", "timestamp"])
    ratings = pd.DataFrame(
        {
            "user": inter.user.astype(int),
            "item": inter["item"].astype(int),
            "rating": inter.rating.astype(float).astype(int),
            "timestamp": inter.timestamp.astype(float).astype(int),
        }
    )
    raw = table("ml-100k.item", ["item", "title", "year", "genres"])
    link = table("ml-100k.link", ["item", "entity"]).set_index("entity")["item"]
    kg = table("ml-100k.kg", ["head", "relation", "tail"])
    names = freebase_names()
    facts = {}
    for relation, kind in (("film.film.country", "countries"), ("film.film.language", "languages")):
        sub = kg[(kg.relation == relation) & kg["head"].isin(link.index) & kg["tail"].isin(names[kind])]
        for head, tail in zip(sub["head"], sub["tail"]):
            facts.setdefault((link[head], kind), []).append(names[kind][tail])
    items = pd.DataFrame(
        {
            "item": raw["item"].astype(int),
            "title": raw.title,
            "year": pd.to_numeric(raw.year, errors="coerce").astype("Int64"),
            "genres": [tuple(g for g in s.split(" ") if g and g != "unknown") for s in raw.genres],
            "countries": [tuple(dict.fromkeys(facts.get((i, "countries"), []))) for i in raw["item"]],
            "languages": [tuple(dict.fromkeys(facts.get((i, "languages"), []))) for i in raw["item"]],
        }
    )
    users = table("ml-100k.user", ["user", "age", "gender", "occupation", "zip"])
    users = users.assign(user=users.user.astype(int), age=users.age.astype(int))
    return Catalog(NAME, ratings, items, users)


def _download_grouplens(timeout: float) -> Catalog:
    with urllib.request.urlopen(GROUPLENS_URL, timeout=timeout) as response:  # noqa: S310 (fixed https URL)
        return parse_grouplens(zipfile.ZipFile(io.BytesIO(response.read())))


def _extract_recbole(log) -> tuple[Catalog, dict]:
    with tempfile.TemporaryDirectory() as tmp:
        log(f"downloading the {RECBOLE} wheel with pip (only its MovieLens files are read)")
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                RECBOLE,
                "--no-deps",
                "--only-binary=:all:",
                "--disable-pip-version-check",
                "-q",
                "-d",
                tmp,
            ],
            capture_output=True,
            text=True,
        )
        wheels = list(Path(tmp).glob("recbole-*.whl"))
        if proc.returncode != 0 or not wheels:
            raise CulturalignError(f"could not download {RECBOLE} with pip: {proc.stderr.strip()[-500:]}")
        with zipfile.ZipFile(wheels[0]) as wheel:
            files = {name: wheel.read(RECBOLE_DIR + name) for name in RECBOLE_FILES}
    for name, data in files.items():
        digest = hashlib.sha256(data).hexdigest()
        if digest != RECBOLE_FILES[name]:
            raise CulturalignError(
                f"{RECBOLE}: {name} has SHA-256 {digest}, expected {RECBOLE_FILES[name]}; "
                "the wheel is not the one culturalign was written against"
            )
    return parse_recbole(files), {n: RECBOLE_FILES[n] for n in files}


def verify(catalog: Catalog) -> dict:
    """Counts and ranges of MovieLens-100k; raises on anything else."""
    got = {"ratings": len(catalog.ratings), "users": catalog.ratings.user.nunique(), "items": len(catalog.items)}
    if got != COUNTS:
        raise CulturalignError(f"MovieLens-100k should have {COUNTS}, got {got}")
    if not catalog.ratings.rating.between(1, 5).all():
        raise CulturalignError("MovieLens-100k ratings must be 1..5")
    if catalog.ratings.duplicated(["user", "item"]).any():
        raise CulturalignError("MovieLens-100k has one rating per user and item; found duplicates")
    return got


def fetch(folder=None, *, source: str = "auto", timeout: float = 15.0, log=print) -> Path:
    """Fetch, verify and store MovieLens-100k in tidy form; returns the folder. ``source``: ``auto``
    (GroupLens, else the recbole wheel), ``grouplens`` or ``recbole``."""
    if source not in MOVIELENS_SOURCES:
        raise CulturalignError(f"unknown source {source!r}; use one of {', '.join(MOVIELENS_SOURCES)}")
    folder = Path(folder or default_folder())
    catalog, digests, origin = None, {}, None
    if source in ("auto", "grouplens"):
        try:
            catalog, origin = _download_grouplens(timeout), GROUPLENS_URL
        except OSError as exc:
            if source == "grouplens":
                raise CulturalignError(f"GroupLens is not reachable ({exc})") from None
            log(f"GroupLens is not reachable ({exc.__class__.__name__}); using the copy in the {RECBOLE} wheel")
    if catalog is None:
        (catalog, digests), origin = _extract_recbole(log), f"PyPI wheel {RECBOLE}"
    counts = verify(catalog)
    save_catalog(catalog, folder)
    with_facts = {k: int(sum(bool(v) for v in catalog.items[k])) for k in ("countries", "languages")}
    atomic_write(
        folder / "source.json",
        json.dumps(
            {"dataset": NAME, "source": origin, "sha256": digests, "counts": counts, "items_with_facts": with_facts},
            indent=2,
        ),
    )
    return folder


def load(folder=None) -> Catalog:
    """The fetched MovieLens-100k catalogue (run :func:`fetch` first)."""
    folder = Path(folder or default_folder())
    if not (folder / "source.json").is_file():
        raise CulturalignError(
            f"MovieLens-100k is not fetched yet (looked in {folder}); run: culturalign data fetch movielens-100k"
        )
    return load_catalog(folder)


def source_info(folder=None) -> dict:
    """Where the fetched catalogue came from, with its digests and counts (source.json)."""
    folder = Path(folder or default_folder())
    load(folder)  # clear error when not fetched
    return json.loads((folder / "source.json").read_text())
