#!/usr/bin/env python3
"""Build culturalign's reference data files from a snapshot of the third-party reference figures.

Usage:
    python tools/build_reference_data.py REFERENCE_DIR [--out OUT_DIR]

REFERENCE_DIR is the snapshot's folder (it is not part of the repository); OUT_DIR defaults to
``surveys/reference`` in the repository.  The inputs are the figures collected under
``ivs_map_tao_repro/``, ``wvs_official_map/`` and ``wvs7_item_distributions/`` (see the PROVENANCE.txt in
each, and surveys/SOURCES.md).

Outputs (all deterministic: same inputs -> byte-identical files):
    countries.csv                      107 reference societies, codes, region, map point, aliases
    projection_ivs_2005_2022.yaml      frozen 10-item projection onto the cultural map
    wvs_official_2022_map.csv          WVSA 2022 map points (official scale, validation only)
    wvs_official_surveys.csv           WVSA 2023 country-survey-year points (validation only)
    wvs7_distributions.csv             WVS-7 per-country answer shares for the map items (tidy)
    wvs7_exclusions.csv                (country, question) rows deliberately left out, with reasons

After writing, the script re-reads its own outputs and checks them (country table, per-country
item means against the independent derivation, projection against the official map); it exits
with status 1 and a message if any check fails.

Only the standard library and PyYAML are needed (pandas is not required).
"""

from __future__ import annotations

import argparse
import csv
import io
import itertools
import json
import math
import os
import sys
from collections import defaultdict

import yaml

# ---------------------------------------------------------------------------------------------
# Static tables written for this project
# ---------------------------------------------------------------------------------------------

# Reference-society name (as in country_centroids.csv / s003.csv) -> (ISO 3166-1 alpha-2,
# alpha-3, ISO numeric or None).  The numeric code is only used to cross-check the WVS S003
# codes, which follow ISO 3166-1 numeric except for the non-ISO societies.  Non-ISO societies use
# project conventions: Northern Ireland XI/NIR, Kosovo XK/XKX (user-assigned codes in common
# use), Northern Cyprus no alpha-2 and NCY.
ISO = {
    "Albania": ("AL", "ALB", 8),
    "Algeria": ("DZ", "DZA", 12),
    "Andorra": ("AD", "AND", 20),
    "Argentina": ("AR", "ARG", 32),
    "Armenia": ("AM", "ARM", 51),
    "Australia": ("AU", "AUS", 36),
    "Austria": ("AT", "AUT", 40),
    "Azerbaijan": ("AZ", "AZE", 31),
    "Bangladesh": ("BD", "BGD", 50),
    "Belarus": ("BY", "BLR", 112),
    "Belgium": ("BE", "BEL", 56),
    "Bolivia": ("BO", "BOL", 68),
    "Bosnia Herzegovina": ("BA", "BIH", 70),
    "Brazil": ("BR", "BRA", 76),
    "Bulgaria": ("BG", "BGR", 100),
    "Burkina Faso": ("BF", "BFA", 854),
    "Canada": ("CA", "CAN", 124),
    "Chile": ("CL", "CHL", 152),
    "China": ("CN", "CHN", 156),
    "Colombia": ("CO", "COL", 170),
    "Croatia": ("HR", "HRV", 191),
    "Cyprus": ("CY", "CYP", 196),
    "Czechia": ("CZ", "CZE", 203),
    "Denmark": ("DK", "DNK", 208),
    "Ecuador": ("EC", "ECU", 218),
    "Estonia": ("EE", "EST", 233),
    "Ethiopia": ("ET", "ETH", 231),
    "Finland": ("FI", "FIN", 246),
    "France": ("FR", "FRA", 250),
    "Georgia": ("GE", "GEO", 268),
    "Germany": ("DE", "DEU", 276),
    "Ghana": ("GH", "GHA", 288),
    "Great Britain": ("GB", "GBR", 826),
    "Greece": ("GR", "GRC", 300),
    "Guatemala": ("GT", "GTM", 320),
    "Haiti": ("HT", "HTI", 332),
    "Hong Kong SAR": ("HK", "HKG", 344),
    "Hungary": ("HU", "HUN", 348),
    "Iceland": ("IS", "ISL", 352),
    "India": ("IN", "IND", 356),
    "Indonesia": ("ID", "IDN", 360),
    "Iran": ("IR", "IRN", 364),
    "Iraq": ("IQ", "IRQ", 368),
    "Ireland": ("IE", "IRL", 372),
    "Italy": ("IT", "ITA", 380),
    "Japan": ("JP", "JPN", 392),
    "Jordan": ("JO", "JOR", 400),
    "Kazakhstan": ("KZ", "KAZ", 398),
    "Kenya": ("KE", "KEN", 404),
    "Kosovo": ("XK", "XKX", None),
    "Kyrgyzstan": ("KG", "KGZ", 417),
    "Latvia": ("LV", "LVA", 428),
    "Lebanon": ("LB", "LBN", 422),
    "Libya": ("LY", "LBY", 434),
    "Lithuania": ("LT", "LTU", 440),
    "Luxembourg": ("LU", "LUX", 442),
    "Macau SAR": ("MO", "MAC", 446),
    "Malaysia": ("MY", "MYS", 458),
    "Maldives": ("MV", "MDV", 462),
    "Mali": ("ML", "MLI", 466),
    "Malta": ("MT", "MLT", 470),
    "Mexico": ("MX", "MEX", 484),
    "Moldova": ("MD", "MDA", 498),
    "Mongolia": ("MN", "MNG", 496),
    "Montenegro": ("ME", "MNE", 499),
    "Morocco": ("MA", "MAR", 504),
    "Myanmar": ("MM", "MMR", 104),
    "Netherlands": ("NL", "NLD", 528),
    "New Zealand": ("NZ", "NZL", 554),
    "Nicaragua": ("NI", "NIC", 558),
    "Nigeria": ("NG", "NGA", 566),
    "North Ireland": ("XI", "NIR", None),
    "North Macedonia": ("MK", "MKD", 807),
    "Northern Cyprus": ("", "NCY", None),
    "Norway": ("NO", "NOR", 578),
    "Pakistan": ("PK", "PAK", 586),
    "Palestine": ("PS", "PSE", 275),
    "Peru": ("PE", "PER", 604),
    "Philippines": ("PH", "PHL", 608),
    "Poland": ("PL", "POL", 616),
    "Portugal": ("PT", "PRT", 620),
    "Puerto Rico": ("PR", "PRI", 630),
    "Romania": ("RO", "ROU", 642),
    "Russia": ("RU", "RUS", 643),
    "Rwanda": ("RW", "RWA", 646),
    "Serbia": ("RS", "SRB", 688),
    "Singapore": ("SG", "SGP", 702),
    "Slovakia": ("SK", "SVK", 703),
    "Slovenia": ("SI", "SVN", 705),
    "South Africa": ("ZA", "ZAF", 710),
    "South Korea": ("KR", "KOR", 410),
    "Spain": ("ES", "ESP", 724),
    "Sweden": ("SE", "SWE", 752),
    "Switzerland": ("CH", "CHE", 756),
    "Taiwan ROC": ("TW", "TWN", 158),
    "Thailand": ("TH", "THA", 764),
    "Trinidad and Tobago": ("TT", "TTO", 780),
    "Tunisia": ("TN", "TUN", 788),
    "Turkey": ("TR", "TUR", 792),
    "Ukraine": ("UA", "UKR", 804),
    "United States": ("US", "USA", 840),
    "Uruguay": ("UY", "URY", 858),
    "Venezuela": ("VE", "VEN", 862),
    "Vietnam": ("VN", "VNM", 704),
    "Yemen": ("YE", "YEM", 887),
    "Zambia": ("ZM", "ZMB", 894),
    "Zimbabwe": ("ZW", "ZWE", 716),
}

# Alternative names a user might type.  Unique across countries; never equal (case-insensitively)
# to another society's name or code.  Checked in check_aliases().
ALIASES = {
    "Bolivia": ["Plurinational State of Bolivia", "Bolivia, Plurinational State of"],
    "Bosnia Herzegovina": ["Bosnia and Herzegovina", "Bosnia-Herzegovina", "Bosnia", "BiH"],
    "China": ["People's Republic of China", "Mainland China"],
    "Cyprus": ["Republic of Cyprus"],
    "Czechia": ["Czech Republic"],
    "Great Britain": ["United Kingdom", "UK", "Britain"],
    "Hong Kong SAR": ["Hong Kong", "Hong Kong, China"],
    "Iran": ["Iran, Islamic Republic of", "Islamic Republic of Iran"],
    "Kyrgyzstan": ["Kyrgyz Republic"],
    "Macau SAR": ["Macau", "Macao", "Macao SAR", "Macau, China"],
    "Moldova": ["Republic of Moldova", "Moldova, Republic of"],
    "Myanmar": ["Burma"],
    "Netherlands": ["The Netherlands", "Holland"],
    "North Ireland": ["Northern Ireland"],
    "North Macedonia": ["Macedonia", "Republic of North Macedonia", "N. Macedonia"],
    "Northern Cyprus": ["North Cyprus", "Turkish Republic of Northern Cyprus"],
    "Palestine": ["Palestinian Territories", "State of Palestine", "Palestine, State of"],
    "Philippines": ["The Philippines"],
    "Russia": ["Russian Federation"],
    "Slovakia": ["Slovak Republic"],
    "South Korea": ["Korea", "Republic of Korea", "Korea, Republic of", "Korea, South"],
    "Taiwan ROC": ["Taiwan", "Chinese Taipei"],
    "Trinidad and Tobago": ["Trinidad", "Trinidad & Tobago"],
    "Turkey": ["Türkiye", "Turkiye"],
    "United States": ["USA", "US", "United States of America", "America", "U.S.", "U.S.A."],
    "Venezuela": ["Venezuela, Bolivarian Republic of", "Bolivarian Republic of Venezuela"],
    "Vietnam": ["Viet Nam"],
}

# Societies that appear in the official WVSA files or in the WVS-7 subset but are not among the
# 107 reference societies: name -> (alpha-2, alpha-3, names used in the sources).
EXTRA_SOCIETIES = {
    "Dominican Republic": ("DO", "DOM", []),
    "Egypt": ("EG", "EGY", []),
    "Germany West": ("", "DEW", []),  # pre-1990 West Germany (WVS 1981); project code DEW
    "Israel": ("IL", "ISR", []),
    "Qatar": ("QA", "QAT", []),
    "Saudi Arabia": ("SA", "SAU", []),
    "Tajikistan": ("TJ", "TJK", []),
    "Tanzania": ("TZ", "TZA", []),
    "Uganda": ("UG", "UGA", []),
    "Uzbekistan": ("UZ", "UZB", []),
}

# Projection: row order of weights.txt / column_means.txt / column_sds.txt.
ITEM_ORDER = ["F063", "Y003", "F120", "G006", "E018", "Y002", "A008", "F118", "E025", "A165"]
RESCALE = {"x": {"scale": 1.81, "shift": 0.038}, "y": {"scale": 1.61, "shift": -0.10}}

# WVS-7 questions: id -> (IVS item, number of valid answer positions at the start of the
# values list, option code for each valid position, note).  Positions follow the official WVS-7
# master questionnaire; the extracted "answers" labels are NOT used (often shifted/garbled).
MENTIONED, NOT_MENTIONED = 1, 2
QUESTIONS = {
    "Q8": ("Y003", [MENTIONED, NOT_MENTIONED], "child quality: independence"),
    "Q14": ("Y003", [MENTIONED, NOT_MENTIONED], "child quality: determination, perseverance"),
    "Q15": ("Y003", [MENTIONED, NOT_MENTIONED], "child quality: religious faith"),
    "Q17": ("Y003", [MENTIONED, NOT_MENTIONED], "child quality: obedience"),
    "Q45": ("E018", [1, 2, 3], "greater respect for authority: good / don't mind / bad"),
    "Q46": ("A008", [1, 2, 3, 4], "happiness: very / rather / not very / not at all"),
    "Q57": ("A165", [1, 2], "most people can be trusted / need to be very careful"),
    "Q154": ("Y002", [1, 2, 3, 4], "first aim: order / more say / prices / free speech"),
    "Q155": ("Y002", [1, 2, 3, 4], "second aim: order / more say / prices / free speech"),
    "Q164": ("F063", list(range(1, 11)), "importance of God 1-10"),
    "Q182": ("F118", list(range(1, 11)), "homosexuality justifiable 1-10"),
    "Q184": ("F120", list(range(1, 11)), "abortion justifiable 1-10"),
    "Q209": ("E025", [1, 2, 3], "signing a petition: have done / might do / would never"),
    "Q254": ("G006", [1, 2, 3, 4], "national pride: very / quite / not very / not at all"),
}
# Expected length of each values list (valid options + dropped positions), used as a guard.
EXPECTED_SLOTS = {
    "Q8": 5,
    "Q14": 5,
    "Q15": 5,
    "Q17": 5,
    "Q45": 6,
    "Q46": 7,
    "Q57": 5,
    "Q154": 7,
    "Q155": 7,
    "Q164": 13,
    "Q182": 13,
    "Q184": 13,
    "Q209": 6,
    "Q254": 8,
}

# Exclusions known from the extraction provenance (applied even if the rows are absent here).
KNOWN_EXCLUSIONS = [
    (
        "FR",
        q,
        "France (joint EVS/WVS PDF merge): the rows for Q182, Q183, Q184 and Q185 carry one "
        "and the same distribution (56.2% 'never justifiable'), so none of them can be "
        "attributed to its own item; all four are invalid and left out",
    )
    for q in ("Q182", "Q183", "Q184", "Q185")
]
Q254_SLOT5_REASON = (
    "Q254 answer position 5 ('I am not [nationality]') is not a point on the 1-4 pride scale: it "
    "is dropped as an option for every country (not a row exclusion) and the shares are "
    "renormalised over options 1-4; valid_percent excludes it (Andorra: 52.4% of respondents)"
)

ROW_TOTAL_TOLERANCE = 2.0  # a values list whose slots do not sum to 100 +/- this is unusable

# Verification thresholds (see main()).
MEAN_TOLERANCE = 0.002
MIN_R_X, MIN_R_Y, MIN_N = 0.96, 0.98, 50


class CheckFailed(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise CheckFailed(msg)


# ---------------------------------------------------------------------------------------------
# Small helpers
# ---------------------------------------------------------------------------------------------


def fnum(v: float) -> str:
    """Shortest round-trip representation of a float (full double precision)."""
    return repr(float(v))


def write_csv(path, header, rows):
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    w.writerows(rows)
    with open(path, "w", encoding="utf-8", newline="") as f:
        f.write(buf.getvalue())


def read_csv(path):
    with open(path, encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def read_matrix(path):
    with open(path, encoding="utf-8") as f:
        return [[float(t) for t in line.split()] for line in f if line.strip()]


def qnum(q: str) -> int:
    return int(q[1:])


def pearson(a, b):
    n = len(a)
    ma, mb = sum(a) / n, sum(b) / n
    sab = sum((x - ma) * (y - mb) for x, y in zip(a, b))
    saa = sum((x - ma) ** 2 for x in a)
    sbb = sum((y - mb) ** 2 for y in b)
    return sab / math.sqrt(saa * sbb)


# ---------------------------------------------------------------------------------------------
# 1. countries.csv
# ---------------------------------------------------------------------------------------------


def build_countries(ref):
    cents = read_csv(os.path.join(ref, "ivs_map_tao_repro", "country_centroids.csv"))
    s003 = {r["country.territory"]: r for r in read_csv(os.path.join(ref, "ivs_map_tao_repro", "s003.csv"))}
    check(len(cents) == 107, f"expected 107 societies in country_centroids.csv, got {len(cents)}")
    check(
        set(ISO) == {r["country"] for r in cents},
        f"ISO table does not match country_centroids.csv: {sorted(set(ISO) ^ {r['country'] for r in cents})}",
    )
    check(set(ALIASES) <= set(ISO), f"aliases for unknown societies: {sorted(set(ALIASES) - set(ISO))}")
    rows = []
    for r in sorted(cents, key=lambda r: r["country"]):
        name = r["country"]
        check(name in s003, f"{name}: not in s003.csv")
        check(
            s003[name]["Category"] == r["region"], f"{name}: region differs between s003.csv and country_centroids.csv"
        )
        code = int(s003[name]["s003"])
        iso2, iso3, num = ISO[name]
        if num is not None:
            check(code == num, f"{name}: WVS S003 {code} != ISO numeric {num}")
        # x, y are copied as the source strings (they are already shortest round-trip floats).
        for col in ("surv-self", "trad-sec"):
            check(fnum(float(r[col])) == r[col], f"{name}: {col} not a round-trip float string")
        rows.append(
            [name, iso2, iso3, str(code), r["region"], r["surv-self"], r["trad-sec"], ";".join(ALIASES.get(name, []))]
        )
    return rows


def check_aliases(rows):
    own = {}  # casefolded token -> society
    for name, iso2, iso3, *_ in rows:
        for tok in (name, iso2, iso3):
            if tok:
                key = tok.casefold()
                check(own.get(key, name) == name, f"name/code {tok!r} used by {own.get(key)} and {name}")
                own[key] = name
    seen = {}
    for name, *_rest, aliases in rows:
        for a in filter(None, aliases.split(";")):
            key = a.casefold()
            check(a == a.strip() and a, f"alias {a!r}: stray whitespace")
            check(key not in seen, f"alias {a!r} used by both {seen.get(key)} and {name}")
            check(own.get(key, name) == name, f"alias {a!r} of {name} equals a name/code of {own.get(key)}")
            seen[key] = name


def name_resolver(country_rows):
    """casefolded name/alias -> (canonical name, iso3) for the 107 plus the extra societies."""
    lut = {}
    for name, iso2, iso3, _s, _r, _x, _y, aliases in country_rows:
        for tok in [name] + [a for a in aliases.split(";") if a]:
            lut[tok.casefold()] = (name, iso3)
    for name, (_iso2, iso3, extra) in EXTRA_SOCIETIES.items():
        for tok in [name] + extra:
            check(tok.casefold() not in lut, f"extra society {tok!r} collides with a reference name")
            lut[tok.casefold()] = (name, iso3)
    return lut


# ---------------------------------------------------------------------------------------------
# 2. projection yaml
# ---------------------------------------------------------------------------------------------

PROJECTION_HEADER = """\
# Frozen projection of the 10 Inglehart-Welzel items onto the cultural map (IVS 2005-2022 fit).
# Generated by tools/build_reference_data.py -- do not edit by hand; see surveys/SOURCES.md.
#
#   z  = (value - mean) / sd            per item, raw IVS coding (see surveys/ivs_iw10.yaml)
#   pc = z . W                          W = the items' [w_x, w_y] rows
#   x  = rescale.x.scale * pc[0] + rescale.x.shift     (survival -> self-expression)
#   y  = rescale.y.scale * pc[1] + rescale.y.shift     (traditional -> secular-rational)
#
# The projection is affine, so projecting a mean answer vector equals averaging projected answers.
"""


def build_projection(ref):
    d = os.path.join(ref, "ivs_map_tao_repro")
    W = read_matrix(os.path.join(d, "weights.txt"))
    means = [r[0] for r in read_matrix(os.path.join(d, "column_means.txt"))]
    sds = [r[0] for r in read_matrix(os.path.join(d, "column_sds.txt"))]
    check(len(W) == 10 and all(len(r) == 2 for r in W), "weights.txt must be 10x2")
    check(len(means) == 10 and len(sds) == 10, "column_means/column_sds must have 10 rows")
    check(all(s > 0 for s in sds), "non-positive sd")
    doc = {
        "source": {
            "description": (
                "Respondent-level two-factor varimax principal-component solution fitted "
                "on the Integrated Values Surveys (EVS 2008 and 2017 waves, WVS waves 5-7; "
                "2005-2022), weighted, pairwise-complete; reproduction of Tao et al. (2024)."
            ),
            "repository": "https://github.com/kwinkunks/ai-values",
            "commit": "b0c007da8732372a831a71d77072ea86845bf93a",
            "files": ["out/weights.txt", "out/column_means.txt", "out/column_sds.txt"],
            "license": "MIT (kwinkunks/ai-values); derived aggregates of EVS ZA7503 v3.0.0 and WVS Trend v4.0.0",
            "paper": (
                "Tao, Viberg, Baker & Kizilcec (2024). Cultural bias and cultural alignment of "
                "large language models. PNAS Nexus 3(9), pgae346. doi:10.1093/pnasnexus/pgae346"
            ),
            "rescale_note": (
                "x = 1.81*pc0 + 0.038, y = 1.61*pc1 - 0.10 are the WVS map constants; "
                "Tao et al. print +0.38 / -0.01, a constant shift that leaves distances unchanged."
            ),
            "see": "surveys/SOURCES.md",
        },
        "axes": {
            "x": {
                "column": 0,
                "name": "survival_self_expression",
                "label": "Survival vs. self-expression values (positive = self-expression)",
            },
            "y": {
                "column": 1,
                "name": "traditional_secular",
                "label": "Traditional vs. secular-rational values (positive = secular-rational)",
            },
        },
        "items": [
            {"code": c, "mean": means[i], "sd": sds[i], "weights": [W[i][0], W[i][1]]} for i, c in enumerate(ITEM_ORDER)
        ],
        "rescale": RESCALE,
    }
    text = PROJECTION_HEADER + yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=100)
    # Full precision: safe_dump writes repr() of each float, which round-trips the double.
    back = yaml.safe_load(text)
    for i, it in enumerate(back["items"]):
        check(
            it["mean"] == means[i] and it["sd"] == sds[i] and it["weights"] == W[i],
            f"projection yaml lost precision for {it['code']}",
        )
    return text, (means, sds, W)


def project(values, proj):
    means, sds, W = proj
    z = [(values[c] - means[i]) / sds[i] for i, c in enumerate(ITEM_ORDER)]
    pc0 = sum(z[i] * W[i][0] for i in range(10))
    pc1 = sum(z[i] * W[i][1] for i in range(10))
    return (RESCALE["x"]["scale"] * pc0 + RESCALE["x"]["shift"], RESCALE["y"]["scale"] * pc1 + RESCALE["y"]["shift"])


# ---------------------------------------------------------------------------------------------
# 3./4. official WVSA map files
# ---------------------------------------------------------------------------------------------


def build_official_2022(ref, country_rows, lut):
    src = read_csv(os.path.join(ref, "wvs_official_map", "wvs_official_2022_map_extracted.csv"))
    by_iso3 = {r[2]: r[0] for r in country_rows}
    rows, seen = [], set()
    for r in src:
        iso3 = r["iso3"]
        check(iso3 not in seen, f"2022 map: duplicate iso3 {iso3}")
        seen.add(iso3)
        hit = lut.get(r["name"].casefold())
        if hit is not None:
            check(hit[1] == iso3, f"2022 map: name {r['name']!r} resolves to {hit[1]}, file says {iso3}")
        name = by_iso3.get(iso3, r["name"])
        # Orientation: trad_sec > 0 = secular-rational, surv_self > 0 = self-expression
        # (numbers checked: Sweden is high on both).  No sign flip.
        rows.append([iso3, name, fnum(float(r["surv_self"])), fnum(float(r["trad_sec"]))])
    rows.sort(key=lambda r: r[0])
    swe = [r for r in rows if r[0] == "SWE"][0]
    check(float(swe[2]) > 2.5 and float(swe[3]) > 0.8, "2022 map: Sweden orientation check failed")
    return rows


def build_official_surveys(ref, lut):
    with open(os.path.join(ref, "wvs_official_map", "_raw_wvs2023.json"), encoding="utf-8") as f:
        raw = json.load(f)
    rows, seen, unresolved = [], set(), set()
    for country, year, trad, surv in raw:
        hit = lut.get(country.casefold())
        if hit is None:
            unresolved.add(country)
            continue
        name, iso3 = hit
        key = (iso3, int(year))
        check(key not in seen, f"official surveys: duplicate {key}")
        seen.add(key)
        # Row format [country, year, TradAgg, SurvSAgg]: x = SurvSAgg, y = TradAgg.
        rows.append([name, iso3, int(year), fnum(surv), fnum(trad)])
    check(not unresolved, f"official surveys: unresolved names {sorted(unresolved)}")
    rows.sort(key=lambda r: (r[0], r[2]))
    return [[r[0], r[1], str(r[2]), r[3], r[4]] for r in rows], len(raw)


# ---------------------------------------------------------------------------------------------
# 5./6. WVS-7 distributions and exclusions
# ---------------------------------------------------------------------------------------------


def build_wvs7(ref, country_rows):
    path = os.path.join(ref, "wvs7_item_distributions", "wvsResults_IW_items_subset.jsonl")
    with open(path, encoding="utf-8") as f:
        qs = {d["id"]: d for d in (json.loads(line) for line in f if line.strip())}
    check(set(qs) == set(QUESTIONS), f"WVS-7 subset questions {sorted(qs)} != {sorted(QUESTIONS)}")
    iso2_to_iso3 = {r[1]: r[2] for r in country_rows if r[1]}
    iso2_to_iso3.update({v[0]: v[1] for v in EXTRA_SOCIETIES.values() if v[0]})

    excluded = {}  # (iso2, question) -> reason
    for iso2, q, reason in KNOWN_EXCLUSIONS:
        excluded[(iso2, q)] = reason

    # Generic screen 1: identical value lists for different questions of the same country.
    by_country = defaultdict(dict)
    for q, d in qs.items():
        for iso2, vals in d["values"].items():
            by_country[iso2][q] = vals
    for iso2, per_q in sorted(by_country.items()):
        for a, b in itertools.combinations(sorted(per_q, key=qnum), 2):
            if per_q[a] == per_q[b]:
                for q, other in ((a, b), (b, a)):
                    excluded.setdefault(
                        (iso2, q),
                        f"values identical to {other} for the same country "
                        "(extraction/merge duplicate); item cannot be trusted",
                    )

    rows, screened = [], []
    for q in sorted(qs, key=qnum):
        item, codes, _note = QUESTIONS[q]
        nvalid = len(codes)
        for iso2 in sorted(qs[q]["values"]):
            vals = qs[q]["values"][iso2]
            check(iso2 in iso2_to_iso3, f"WVS-7: unknown country code {iso2}")
            check(len(vals) == EXPECTED_SLOTS[q], f"WVS-7 {q} {iso2}: {len(vals)} slots, expected {EXPECTED_SLOTS[q]}")
            if (iso2, q) in excluded:
                continue
            valid = vals[:nvalid]
            total = sum(v for v in vals if v is not None)
            vsum = sum(v for v in valid if v is not None)
            if all(v is None for v in valid) or vsum <= 0:
                excluded[(iso2, q)] = "all valid answer options empty or zero in the source table"
                screened.append((iso2, q))
                continue
            if abs(total - 100.0) > ROW_TOTAL_TOLERANCE:
                excluded[(iso2, q)] = f"answer percentages sum to {total:.1f}, not ~100: row garbled in extraction"
                screened.append((iso2, q))
                continue
            # A blank cell inside the valid options is a 0% cell in the published table.
            for code, v in zip(codes, valid):
                share = (v or 0.0) / vsum
                rows.append([iso2, iso2_to_iso3[iso2], q, item, code, share, vsum])
    rows.sort(key=lambda r: (r[0], qnum(r[2]), r[4]))
    out = [[r[0], r[1], r[2], r[3], str(r[4]), f"{r[5]:.6f}", f"{r[6]:.1f}"] for r in rows]

    excl_rows = [[iso2, q, reason] for (iso2, q), reason in excluded.items()]
    excl_rows.append(["*", "Q254", Q254_SLOT5_REASON])
    excl_rows.sort(key=lambda r: (r[0] == "*", r[0], qnum(r[1])))
    return out, excl_rows, qs, screened


# ---------------------------------------------------------------------------------------------
# Verification
# ---------------------------------------------------------------------------------------------

SCALE_ITEMS = {
    "F063": "Q164",
    "F120": "Q184",
    "G006": "Q254",
    "E018": "Q45",
    "A008": "Q46",
    "F118": "Q182",
    "E025": "Q209",
    "A165": "Q57",
}
DERIVED_COLS = {
    "A008": "A008_mean_1to4",
    "A165": "A165_mean_1to2",
    "E018": "E018_mean_1to3",
    "E025": "E025_mean_1to3",
    "F063": "F063_mean_1to10",
    "F118": "F118_mean_1to10",
    "F120": "F120_mean_1to10",
    "G006": "G006_mean_1to4",
    "Y003": "Y003_mean_m2to2",
    "Q154_POSTMAT_FIRST": "Q154_share_postmat_first",
}


def country_means(dist_rows):
    """Per-country item means from the tidy distributions (as re-read from the CSV)."""
    share = defaultdict(dict)  # (iso2, question) -> {option: share}
    for r in dist_rows:
        share[(r["iso2"], r["question"])][int(r["option"])] = float(r["share"])
    countries = sorted({k[0] for k in share})
    means = {}
    for c in countries:
        m = {}
        for item, q in SCALE_ITEMS.items():
            if (c, q) in share:
                m[item] = sum(o * p for o, p in share[(c, q)].items())
        if all((c, q) in share for q in ("Q8", "Q14", "Q15", "Q17")):
            m["Y003"] = (
                share[(c, "Q8")][MENTIONED]
                + share[(c, "Q14")][MENTIONED]
                - share[(c, "Q15")][MENTIONED]
                - share[(c, "Q17")][MENTIONED]
            )
        if (c, "Q154") in share:
            m["Q154_POSTMAT_FIRST"] = share[(c, "Q154")][2] + share[(c, "Q154")][4]
        means[c] = m
    return means


def verify(out_dir, ref, proj):
    report = []
    # (a) countries
    countries = read_csv(os.path.join(out_dir, "countries.csv"))
    check(
        list(countries[0].keys()) == ["country", "iso2", "iso3", "s003", "region", "x", "y", "aliases"],
        "countries.csv: wrong columns",
    )
    check(len(countries) == 107, f"countries.csv: {len(countries)} rows, expected 107")
    regions = sorted({r["region"] for r in countries})
    check(len(regions) == 8, f"countries.csv: {len(regions)} regions, expected 8")
    check(len({r["iso3"] for r in countries}) == 107, "countries.csv: iso3 not unique")
    check(len({r["iso2"] for r in countries if r["iso2"]}) == 106, "countries.csv: iso2 not unique")
    swe = [r for r in countries if r["country"] == "Sweden"][0]
    check(
        abs(float(swe["x"]) - 2.69) < 0.01 and abs(float(swe["y"]) - 0.89) < 0.01,
        f"Sweden at ({swe['x']}, {swe['y']}), expected about (2.69, 0.89)",
    )
    report.append(
        f"(a) countries: n={len(countries)}, regions={len(regions)}, iso3 unique; "
        f"Sweden = ({float(swe['x']):.3f}, {float(swe['y']):.3f})"
    )

    # (b) item means vs the independent derivation
    dist = read_csv(os.path.join(out_dir, "wvs7_distributions.csv"))
    excl = {(r["iso2"], r["question"]) for r in read_csv(os.path.join(out_dir, "wvs7_exclusions.csv"))}
    ours = country_means(dist)
    derived = read_csv(os.path.join(ref, "wvs7_item_distributions", "DERIVED_iw_item_country_means_wvs7.csv"))
    item_q = dict(SCALE_ITEMS, Y003="Q8", Q154_POSTMAT_FIRST="Q154")
    max_dev, n_cmp, worst, problems = 0.0, 0, None, []
    for r in derived:
        c = r["iso2"]
        for item, col in DERIVED_COLS.items():
            qset = ["Q8", "Q14", "Q15", "Q17"] if item == "Y003" else [item_q[item]]
            is_excl = any((c, q) in excl for q in qset)
            ref_v = r[col].strip()
            our_v = ours.get(c, {}).get(item)
            if is_excl:
                if our_v is not None:
                    problems.append(f"{c} {item}: excluded but present")
                continue
            if not ref_v and our_v is None:
                continue
            if not ref_v or our_v is None:
                problems.append(f"{c} {item}: coverage differs (derived={ref_v or '-'}, ours={our_v})")
                continue
            dev = abs(our_v - float(ref_v))
            n_cmp += 1
            if dev > max_dev:
                max_dev, worst = dev, f"{c} {item}"
            if dev > MEAN_TOLERANCE:
                problems.append(f"{c} {item}: ours {our_v:.4f} vs derived {ref_v}")
    extra = sorted(set(ours) - {r["iso2"] for r in derived})
    check(not extra, f"countries in distributions but not in the derived means: {extra}")
    check(not problems, "item means disagree with DERIVED_iw_item_country_means_wvs7.csv:\n  " + "\n  ".join(problems))
    report.append(
        f"(b) item means: {n_cmp} country-item values compared, max |dev| = {max_dev:.6f} "
        f"({worst}); tolerance {MEAN_TOLERANCE}"
    )

    # (c) projection vs the official WVSA map (latest survey year >= 2017 per society)
    surveys = read_csv(os.path.join(out_dir, "wvs_official_surveys.csv"))
    latest = {}
    for r in surveys:
        y = int(r["year"])
        if y >= 2017 and (r["iso3"] not in latest or y > latest[r["iso3"]][0]):
            latest[r["iso3"]] = (y, float(r["x"]), float(r["y"]))
    iso2_to_iso3 = {r["iso2"]: r["iso3"] for r in dist}
    pooled_y002 = proj[0][ITEM_ORDER.index("Y002")]
    needed = [c for c in ITEM_ORDER if c != "Y002"]
    px, py, ox, oy, used, skipped = [], [], [], [], [], []
    for c, m in sorted(ours.items()):
        iso3 = iso2_to_iso3[c]
        if not all(k in m for k in needed) or iso3 not in latest:
            skipped.append(c)
            continue
        vals = dict(m, Y002=pooled_y002)
        x, y = project(vals, proj)
        px.append(x)
        py.append(y)
        ox.append(latest[iso3][1])
        oy.append(latest[iso3][2])
        used.append(c)
    n = len(used)
    check(n >= MIN_N, f"projection check: only {n} countries with all items and an official point")
    rx, ry = pearson(px, ox), pearson(py, oy)
    check(
        rx >= MIN_R_X and ry >= MIN_R_Y,
        f"projection check: r_x = {rx:.4f} (need {MIN_R_X}), r_y = {ry:.4f} (need {MIN_R_Y}), n = {n}",
    )
    report.append(
        f"(c) projection of WVS-7 means (Y002 at pooled mean {pooled_y002:.4f}) vs official "
        f"WVSA points (latest year >= 2017): r_x = {rx:.4f}, r_y = {ry:.4f}, n = {n}; "
        f"not projectable: {', '.join(skipped)}"
    )

    # Informational: Tao reproduction centroids vs official points (different scales).
    tx, ty, sx, sy = [], [], [], []
    for r in countries:
        if r["iso3"] in latest:
            tx.append(float(r["x"]))
            ty.append(float(r["y"]))
            sx.append(latest[r["iso3"]][1])
            sy.append(latest[r["iso3"]][2])
    report.append(
        f"(info) countries.csv points vs official latest (>= 2017): r_x = {pearson(tx, sx):.3f}, "
        f"r_y = {pearson(ty, sy):.3f}, n = {len(tx)}"
    )
    return report


# ---------------------------------------------------------------------------------------------


def main(argv=None):
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("reference", help="the reference snapshot's folder (not part of the repository)")
    ap.add_argument(
        "--out",
        default=os.path.join(repo, "surveys", "reference"),
        help="output directory (default: surveys/reference in the repo)",
    )
    args = ap.parse_args(argv)
    ref, out = os.path.normpath(args.reference), os.path.normpath(args.out)
    if not os.path.isdir(ref):
        print(f"error: reference directory not found: {ref}", file=sys.stderr)
        return 2
    os.makedirs(out, exist_ok=True)

    try:
        country_rows = build_countries(ref)
        check_aliases(country_rows)
        lut = name_resolver(country_rows)
        write_csv(
            os.path.join(out, "countries.csv"),
            ["country", "iso2", "iso3", "s003", "region", "x", "y", "aliases"],
            country_rows,
        )

        proj_text, proj = build_projection(ref)
        with open(os.path.join(out, "projection_ivs_2005_2022.yaml"), "w", encoding="utf-8", newline="") as f:
            f.write(proj_text)

        map_rows = build_official_2022(ref, country_rows, lut)
        write_csv(os.path.join(out, "wvs_official_2022_map.csv"), ["iso3", "country", "x", "y"], map_rows)

        survey_rows, n_raw = build_official_surveys(ref, lut)
        check(len(survey_rows) == n_raw, "official surveys: rows lost")
        write_csv(os.path.join(out, "wvs_official_surveys.csv"), ["country", "iso3", "year", "x", "y"], survey_rows)

        dist_rows, excl_rows, _qs, screened = build_wvs7(ref, country_rows)
        write_csv(
            os.path.join(out, "wvs7_distributions.csv"),
            ["iso2", "iso3", "question", "item", "option", "share", "valid_percent"],
            dist_rows,
        )
        write_csv(os.path.join(out, "wvs7_exclusions.csv"), ["iso2", "question", "reason"], excl_rows)

        print(f"wrote {out}/")
        print(f"  countries.csv                  {len(country_rows)} societies")
        print(f"  projection_ivs_2005_2022.yaml  {len(ITEM_ORDER)} items")
        print(f"  wvs_official_2022_map.csv      {len(map_rows)} countries")
        print(
            f"  wvs_official_surveys.csv       {len(survey_rows)} country-years, "
            f"{len({r[1] for r in survey_rows})} societies"
        )
        print(f"  wvs7_distributions.csv         {len(dist_rows)} rows, {len({r[0] for r in dist_rows})} countries")
        print(
            f"  wvs7_exclusions.csv            {len(excl_rows)} rows"
            + (f" (screened out: {screened})" if screened else "")
        )
        print("verification:")
        for line in verify(out, ref, proj):
            print("  " + line)
    except CheckFailed as e:
        print(f"CHECK FAILED: {e}", file=sys.stderr)
        return 1
    print("all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
