"""The faithfulness gate for recommendation explanations: no model, every checkable claim must hold.

Checked against the recommended item's facts and the user's history:

* years (1900-2029) and decades ("1990s", "'90s", "nineties") must be the item's, or those of a history film
  named in the same sentence;
* genre words (MovieLens genres and common synonyms) likewise;
* a named catalogue title must be the item or a history film;
* a country, nationality or language attributed to a film must be among its facts. The viewer's own country
  (the target culture) may be named: that addresses the reader, it claims nothing about the film;
* the explanation must name at least one film of the user's history (a grounded link), and stay within the
  length bounds.

Any failure zeroes the score; the reasons say which claim failed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

from ..map import reference

MIN_WORDS, MAX_WORDS = 12, 90

GENRE_WORDS = {
    "Action": ["action"],
    "Adventure": ["adventure", "adventures"],
    "Animation": ["animated", "animation", "cartoon"],
    "Children's": ["children's", "kids", "family film", "family movie"],
    "Comedy": ["comedy", "comedies", "comedic", "funny", "hilarious"],
    "Crime": ["crime", "gangster", "heist"],
    "Documentary": ["documentary"],
    "Drama": ["drama", "dramas", "dramatic"],
    "Fantasy": ["fantasy"],
    "Film-Noir": ["noir"],
    "Horror": ["horror", "scary"],
    "Musical": ["musical", "musicals"],
    "Mystery": ["mystery", "whodunit"],
    "Romance": ["romance", "romantic", "love story"],
    "Sci-Fi": ["sci-fi", "science fiction", "science-fiction"],
    "Thriller": ["thriller", "thrillers", "suspense"],
    "War": ["war film", "war movie", "war drama", "wartime"],
    "Western": ["western", "westerns", "cowboy"],
}
DECADE_WORDS = {
    "twenties": 1920,
    "thirties": 1930,
    "forties": 1940,
    "fifties": 1950,
    "sixties": 1960,
    "seventies": 1970,
    "eighties": 1980,
    "nineties": 1990,
}
# Nationality and language words -> country names used in the facts (and the reference countries).
NATIONALITIES = {
    "american": "United States",
    "british": "United Kingdom",
    "english": "United Kingdom",
    "scottish": "Scotland",
    "irish": "Ireland",
    "french": "France",
    "german": "Germany",
    "italian": "Italy",
    "spanish": "Spain",
    "mexican": "Mexico",
    "japanese": "Japan",
    "chinese": "China",
    "hong kong": "Hong Kong",
    "canadian": "Canada",
    "australian": "Australia",
    "swedish": "Sweden",
    "danish": "Denmark",
    "dutch": "Netherlands",
    "belgian": "Belgium",
    "swiss": "Switzerland",
    "russian": "Russia",
    "polish": "Poland",
    "indian": "India",
    "korean": "South Korea",
    "brazilian": "Brazil",
    "argentine": "Argentina",
    "argentinian": "Argentina",
    "nigerian": "Nigeria",
    "egyptian": "Egypt",
    "turkish": "Turkey",
    "iranian": "Iran",
    "greek": "Greece",
    "portuguese": "Portugal",
    "czech": "Czech Republic",
    "hungarian": "Hungary",
    "norwegian": "Norway",
    "finnish": "Finland",
    "new zealand": "New Zealand",
    "kenyan": "Kenya",
    "pakistani": "Pakistan",
}
LANGUAGE_OF = {
    "english": "English",
    "french": "French",
    "german": "German",
    "italian": "Italian",
    "spanish": "Spanish",
    "japanese": "Japanese",
    "chinese": "Mandarin Chinese",
    "mandarin": "Mandarin Chinese",
    "russian": "Russian",
    "swedish": "Swedish",
    "dutch": "Dutch",
    "polish": "Polish",
    "portuguese": "Portuguese",
    "latin": "Latin",
}


@dataclass
class GateResult:
    passed: bool
    reasons: list[str] = field(default_factory=list)
    history_named: list[str] = field(default_factory=list)
    facts_used: list[str] = field(default_factory=list)  # which of the item's facts the text states


def display_title(title: str) -> str:
    """MovieLens style "Postino, Il (...)" -> "Il Postino"."""
    title = re.sub(r"\s*\([^)]*\)\s*$", "", title).strip()
    m = re.match(r"^(.*), (The|A|An|Il|La|Le|Les|L'|Das|Der|Die|El|Los)$", title)
    return f"{m.group(2)} {m.group(1)}".replace("L' ", "L'") if m else title


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"[^\w'’\- ]", " ", text.lower())).strip()


@lru_cache(maxsize=None)  # the gate checks every catalogue title for every explanation
def title_keys(title: str) -> frozenset[str]:
    """Ways a text may name a film: with or without its leading article (without it only when what is left
    is distinctive: "Die Hard" without "Die" would be any "hard")."""
    shown = _norm(display_title(title))
    bare = re.sub(r"^(the|a|an|il|la|le|les|das|der|die|el|los) ", "", shown)
    return frozenset(k for k in (shown, bare) if len(k) >= 4 and (k == shown or " " in k or len(k) >= 6))


def _contains(text: str, phrase: str) -> bool:
    return re.search(rf"(?<![\w]){re.escape(phrase)}(?![\w])", text) is not None


def _matches(text: str, phrase: str) -> list[re.Match]:
    return list(re.finditer(rf"(?<![\w]){re.escape(phrase)}(?![\w])", text))


def sentences(text: str) -> list[str]:
    return [s for s in re.split(r"(?<=[.!?])\s+", text.strip()) if s]


def _country_words(target: str) -> set[str]:
    """Words that name the viewer's own country (allowed: they address the reader)."""
    row = reference.countries().set_index("country").loc[reference.resolve_country(target)]
    names = {row.name.lower(), *[a.lower() for a in str(row.aliases).split(";") if a]}
    return names | {w for w, c in NATIONALITIES.items() if c == row.name}


def check(
    explanation: str, item: dict, history: list[dict], target_country: str, catalogue_titles: list[str] | None = None
) -> GateResult:
    """Gate one explanation. ``item`` and each history entry are catalogue facts (title, year, genres,
    countries, languages); ``catalogue_titles`` lets the gate catch films named that are neither."""
    reasons, used = [], []
    words = len(explanation.split())
    if not MIN_WORDS <= words <= MAX_WORDS:
        reasons.append(f"length {words} words is outside {MIN_WORDS}-{MAX_WORDS}")
    text = _norm(explanation)
    named = [h for h in history if any(_contains(text, k) for k in title_keys(h["title"]))]
    if not named:
        reasons.append("names no film from the user's history (no grounded link)")
    own = _country_words(target_country)
    country_names = reference.countries().country.tolist()

    # Titles are replaced by a marker per film: a title's own words claim nothing ("The English Patient"),
    # and a claim is about the film named just before it ("try Air Force One, a comedy" is about Air Force
    # One, however many comedies the sentence named earlier).
    films = [item, *history]
    marker_of = {}
    for i, f in enumerate(films):
        for k in title_keys(f["title"]):
            marker_of.setdefault(k, f" _f{i}_ ")
    keys = sorted(marker_of, key=len, reverse=True)
    for sentence in sentences(explanation):
        s = _norm(sentence)
        in_sentence = [h for h in named if any(_contains(s, k) for k in title_keys(h["title"]))]
        for key in keys:
            s = re.sub(rf"(?<![\w]){re.escape(key)}(?![\w])", marker_of[key], s)

        def about(pos: int) -> list[dict]:
            """The films a claim at ``pos`` may be about: the item, and the film named just before it
            (or, with no film before it, any film the sentence names)."""
            before = re.findall(r"_f(\d+)_", s[:pos])
            return [item, films[int(before[-1])]] if before else [item, *in_sentence]

        for m in re.finditer(r"(?<!\d)(19\d\d|20[0-2]\d)(?!\d)", s):
            if s[m.end() : m.end() + 1] == "s":
                continue  # a decade, checked below
            if int(m.group(1)) not in {f.get("year") for f in about(m.start())}:
                reasons.append(f"year {m.group(1)} is not the film's ({item.get('year')})")
            elif int(m.group(1)) == item.get("year"):
                used.append("year")
        said = [(m.start(), int(m.group(1))) for m in re.finditer(r"(?<!\d)(19\d0|20[0-2]0)s", s)]
        said += [(m.start(), 1900 + int(m.group(1))) for m in re.finditer(r"(?<![\w\d])['’](\d0)s", s)]
        said += [(m.start(), v) for w, v in DECADE_WORDS.items() for m in _matches(s, w)]
        for pos, d in said:
            if d in {f["year"] // 10 * 10 for f in about(pos) if f.get("year")}:
                used.append("decade")
            else:
                reasons.append(f"the {d}s is not the film's decade ({item.get('year')})")
        for genre, synonyms in GENRE_WORDS.items():
            for m in (m for w in synonyms for m in _matches(s, w)):
                if genre not in {g for f in about(m.start()) for g in f.get("genres", ())}:
                    reasons.append(
                        f"calls it {genre}, which is not among its genres ({', '.join(item.get('genres', ()))})"
                    )
                elif genre in item.get("genres", ()):
                    used.append("genre")
        for word, country in NATIONALITIES.items():
            for m in [] if word in own else _matches(s, word):
                films_here = about(m.start())
                as_language = LANGUAGE_OF.get(word)
                if country in {c for f in films_here for c in f.get("countries", ())} or (
                    as_language and as_language in {x for f in films_here for x in f.get("languages", ())}
                ):
                    used.append("country")
                else:
                    reasons.append(f"'{word}' attributes a country or language the facts do not give")
        for name in country_names:
            for m in [] if name.lower() in own else _matches(s, name.lower()):
                if name not in {c for f in about(m.start()) for c in f.get("countries", ())}:
                    reasons.append(f"names {name}, which is neither the film's country nor the viewer's")

    if any(_contains(text, k) for k in title_keys(item["title"])):
        used.append("title")
    if catalogue_titles:
        known = {k for f in [item, *history] for k in title_keys(f["title"])}
        for title in catalogue_titles:
            keys = {k for k in title_keys(title) if len(k.split()) >= 2}
            hit = next((k for k in keys if _contains(text, k)), None)
            if hit and hit not in known and not any(hit in k or k in hit for k in known):
                reasons.append(f"names the film '{display_title(title)}', which is neither the item nor in the history")
    return GateResult(not reasons, list(dict.fromkeys(reasons)), [h["title"] for h in named], list(dict.fromkeys(used)))
