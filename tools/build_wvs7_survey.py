#!/usr/bin/env python3
"""Build the ``wvs7`` survey and its societies' answer shares from the WVSA's wave-7 results by country.

Usage:
    python tools/build_wvs7_survey.py RESULTS_JSON [--out REPO_ROOT]

RESULTS_JSON is a snapshot of the machine-extracted "WVS Wave 7 (2017-2022) Results By Country" v6.0.0 percentages
(not part of the repository; see surveys/SOURCES.md). The question wording and option order come from
``tools/wvs7_questions/part*.yaml`` (written from the WVS-7 master questionnaire, never from the extracted option
labels, about a third of which are shifted or garbled). Outputs, deterministic (same inputs, same bytes):

    surveys/wvs7.yaml                                one item per included question, with its theme
    surveys/reference/wvs7_results_distributions.csv iso2, question, option, share, dropped_share
    surveys/reference/wvs7_results_exclusions.csv    question, iso2 ('*' = the whole question), defect, reason
    surveys/reference/wvs7_societies.csv             iso2, name, year of every society with data

A row's ``share`` is over the question's substantive options only: don't know / no answer / missing are dropped and
the rest renormalised; ``dropped_share`` is the part of respondents dropped. Every defect the snapshot's
PROVENANCE.txt catalogues (section 5) is handled here or its rows excluded, each with its reason.
"""

from __future__ import annotations

import argparse
import csv
import glob
import io
import json
import os
import sys
from collections import defaultdict

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SPEC_GLOB = os.path.join(ROOT, "tools", "wvs7_questions", "part*.yaml")
MEAN_SLOTS = {"Q262", "Q270", "Q274"}  # their last two slots hold a mean and an SD, not percentages
ISO_FIX = {"GB-NIR": "XI"}  # Northern Ireland: the map's code
# PROVENANCE 5i: isolated large shares in a missing-code slot, or a reversed row: the row cannot be trusted.
ISOLATED = {
    ("Q254", "AD"): "52.4% under a missing code ('I am not [nationality]' in the questionnaire)",
    ("Q182", "IQ"): "30.4% under 'No answer'",
    ("Q192", "CY"): "26% in a trailing missing-code slot",
    ("Q194", "CY"): "26% in a trailing missing-code slot",
    ("Q237", "CY"): "26% in a trailing missing-code slot",
    ("Q245", "CY"): "26% in a trailing missing-code slot",
    ("Q264", "AD"): "about 45% in slot 5",
    ("Q265", "AD"): "about 45% in slot 5",
    ("Q285", "AM"): "53.3% under 'Missing'",
    ("Q271", "RU"): "29.5% under 'Other missing'",
    ("Q284", "CN"): "41.2% under 'Mail (EVS)'",
    ("Q104", "ID"): "49.9% in the last slot",
    ("Q146", "MV"): "87.7% in the last slot",
    ("Q48", "FR"): "the row runs the other way from every other society's",
}
# Titles run together with option text in extraction (PROVENANCE 5j): name these items from their text instead.
GARBLED_TITLES = {
    "Q57",
    "Q200",
    "Q240",
    "Q273",
    "Q284",
    *(f"Q{n}" for n in range(241, 250)),
    *(f"Q{n}" for n in range(262, 266)),
    *(f"Q{n}" for n in range(286, 290)),
    "Q294A",
    "Q294B",
}


def load_spec() -> dict:
    spec = {}
    for path in sorted(glob.glob(SPEC_GLOB)):
        with open(path) as fh:
            spec.update(yaml.safe_load(fh))
    return spec


def codes_and_labels(entry: dict) -> tuple[list[int], dict[int, str]]:
    if "scale" in entry:
        lo, hi = entry["scale"]
        return list(range(lo, hi + 1)), {int(k): str(v) for k, v in entry["ends"].items()}
    return list(range(1, len(entry["options"]) + 1)), {i + 1: str(o) for i, o in enumerate(entry["options"])}


def short_name(q: dict) -> str:
    if q["id"] not in GARBLED_TITLES and q["title"].strip():
        return " ".join(q["title"].split())[:120]
    return None


def build(results: dict, spec: dict):
    questions = {q["id"]: q for q in results["questions"]}
    missing = sorted(set(questions) - set(spec))
    if missing:
        sys.exit(f"no spec entry for {', '.join(missing)}")
    items, shares, exclusions = [], [], []
    for qid, q in questions.items():
        entry = spec[qid]
        if "exclude" in entry:
            exclusions.append({"question": qid, "iso2": "*", "defect": "question", "reason": str(entry["exclude"])})
            continue
        codes, labels = codes_and_labels(entry)
        slots = [s - 1 for s in entry.get("slots", range(1, len(codes) + 1))]
        if len(slots) != len(codes):
            sys.exit(f"{qid}: {len(slots)} slots for {len(codes)} options")
        rows = {}
        for iso, row in sorted(q["values"].items()):
            iso = ISO_FIX.get(iso, iso)
            reason = row_defect(qid, iso, row, slots, q)
            if reason:
                exclusions.append({"question": qid, "iso2": iso, "defect": reason[0], "reason": reason[1]})
                continue
            substantive = [row[s] or 0.0 for s in slots]
            counted = [v for i, v in enumerate(row) if v is not None and not (qid in MEAN_SLOTS and i >= len(row) - 2)]
            total, kept = sum(counted), sum(substantive)
            rows[iso] = ([v / kept for v in substantive], 1 - kept / total)
        if not rows:
            exclusions.append({"question": qid, "iso2": "*", "defect": "question", "reason": "no usable row"})
            continue
        for iso, (dist, dropped) in rows.items():
            shares += [
                {"iso2": iso, "question": qid, "option": c, "share": f"{p:.6f}", "dropped_share": f"{dropped:.4f}"}
                for c, p in zip(codes, dist)
            ]
        item = {
            "code": qid,
            "name": short_name(q) or entry["text"][:120],
            "theme": q["theme"],
            "type": "scale" if entry.get("ordinal", True) else "choice",
            "wvs7": qid,
            "text": entry["text"],
            "options": labels,
            "range": [codes[0], codes[-1]],
        }
        items.append(item)
    return items, shares, exclusions


def row_defect(qid, iso, row, slots, q) -> tuple[str, str] | None:
    """Why a society's row of a question cannot be used (PROVENANCE 5), or None."""
    values = [v for i, v in enumerate(row) if v is not None and not (qid in MEAN_SLOTS and i >= len(row) - 2)]
    if (qid, iso) in ISOLATED:
        return "isolated", ISOLATED[(qid, iso)] + " (PROVENANCE 5i)"
    if abs(sum(values) - 100) > 2:
        return "row_total", f"the row adds up to {sum(values):.1f}, not 100: columns were dropped in extraction (5a)"
    if len(values) == 1:
        return "single_value", "only one value in the row (always 100): an extraction artefact (5h)"
    first = slots[0]
    with_first = sum(1 for r in q["values"].values() if first < len(r) and r[first] is not None)
    if row[first] is None and with_first >= 0.8 * len(q["values"]):
        return (
            "empty_first",
            "the first option is empty while most societies have a value there: a collapsed or shifted scale (5g)",
        )
    if sum(row[s] or 0.0 for s in slots) <= 0:
        return "no_substantive", "no respondent in any substantive option"
    return None


def identical_rows(results: dict, spec: dict) -> list[dict]:
    """PROVENANCE 5e: one society's row repeated in different questions (at least 4 values): none of the copies can
    be attributed to its own question, so all are left out."""
    seen = defaultdict(list)
    for q in results["questions"]:
        if "exclude" in spec[q["id"]]:
            continue
        for iso, row in q["values"].items():
            if sum(v is not None for v in row) >= 4:
                seen[(ISO_FIX.get(iso, iso), tuple(row))].append(q["id"])
    out = []
    for (iso, _), qids in sorted(seen.items(), key=lambda kv: (kv[0][0], kv[1])):
        if len(qids) > 1:
            out += [
                {
                    "question": qid,
                    "iso2": iso,
                    "defect": "identical_rows",
                    "reason": f"the same row appears in {', '.join(qids)} (5e): none can be attributed to its own "
                    "question",
                }
                for qid in qids
            ]
    return out


def write_csv(path, rows, fields):
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    with open(path, "w") as fh:
        fh.write(buf.getvalue())


HEADER = """# World Values Survey wave 7 (2017-2022): every single-answer question with published results by country.
# Built by tools/build_wvs7_survey.py (do not edit by hand). Question wording and option order follow the WVS-7
# master questionnaire (Haerpfer et al. 2022) as transcribed in tools/wvs7_questions/; the societies' answer shares
# (surveys/reference/wvs7_results_distributions.csv) are the WVSA's "Results By Country" v6.0.0 percentages.
# No map projection: the survey is scored by its answer distributions (1 - JSD, tv, emd). Sources: SOURCES.md.
"""


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results_json")
    parser.add_argument("--out", default=ROOT)
    args = parser.parse_args(argv)
    with open(args.results_json) as fh:
        results = json.load(fh)
    spec = load_spec()
    bad = identical_rows(results, spec)
    drop = {(e["question"], e["iso2"]) for e in bad}
    items, shares, exclusions = build(results, spec)
    shares = [s for s in shares if (s["question"], s["iso2"]) not in drop]
    exclusions = [e for e in exclusions if (e["question"], e["iso2"]) not in drop] + bad
    exclusions.sort(key=lambda e: (int("".join(ch for ch in e["question"] if ch.isdigit())), e["question"], e["iso2"]))
    survey = {
        "survey": "wvs7",
        "title": "World Values Survey wave 7 (2017-2022), every single-answer question",
        "source": "WVS-7 master questionnaire (Haerpfer et al. 2022); WVSA Results By Country v6.0.0",
        "projection": "none",
        "distributions": "wvs7_results_distributions.csv",
        "items": items,
    }
    out = args.out
    with open(os.path.join(out, "surveys", "wvs7.yaml"), "w") as fh:
        fh.write(HEADER)
        yaml.safe_dump(survey, fh, sort_keys=False, allow_unicode=True, width=120)
    ref = os.path.join(out, "surveys", "reference")
    write_csv(
        os.path.join(ref, "wvs7_results_distributions.csv"),
        shares,
        ["iso2", "question", "option", "share", "dropped_share"],
    )
    write_csv(os.path.join(ref, "wvs7_results_exclusions.csv"), exclusions, ["question", "iso2", "defect", "reason"])
    socs = [
        {"iso2": ISO_FIX.get(k, k), "name": v["name"], "year": v["year"]}
        for k, v in sorted(results["societies"].items())
    ]
    write_csv(os.path.join(ref, "wvs7_societies.csv"), socs, ["iso2", "name", "year"])
    themes = sorted({i["theme"] for i in items})
    print(
        f"{len(items)} questions in {len(themes)} themes, {len({s['iso2'] for s in shares})} societies, "
        f"{len(shares)} option shares; {sum(e['iso2'] == '*' for e in exclusions)} questions and "
        f"{sum(e['iso2'] != '*' for e in exclusions)} rows excluded"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
