"""Evaluate a saved program against both baselines on the same countries (held-out test split by default).

Every condition is a respondent answering the same items for the same countries: the compiled program, Tao
et al.'s engineered cultural prompt, and no persona; beside them the model-free reference predictors
(centroid, region_centroid, and neighbours: the program's own retrieval with no model) and, when asked, each
country-conditioned condition's shuffled-country control. Reported per condition
(:mod:`culturalign.map.yardsticks`): per-country distances, mean and median with a bootstrap interval, skill
against the centroid, the lead over ``neighbours``, steerability and specificity; and the share of countries
on which the compiled program beats the engineered prompt.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from ..elicitation.scoring import score
from ..errors import CulturalignError
from ..distribution.scores import cells, floor_cells, seen_unseen
from ..distribution.scores import summarize as summarize_distributions
from ..distribution.yardsticks import distribution_respondents
from ..fileio import json_safe
from ..instrument.populations import countries_with_data, question_keys, target_distributions
from ..instrument.survey import builtin_surveys, load_survey
from ..map import cultmap
from ..map.neighbours import Retrieval
from ..map.splits import SPLITS, TRAIN_AND_TEST
from ..map.yardsticks import SHUFFLED_SUFFIX, ShuffledCountries, reference_respondents, summarize_conditions
from ..models.registry import load_registry, user_models_file
from ..models.session import ModelSession
from ..optimization.presets import Preset
from ..optimization.saved import load_manifest, load_program, manifest_matches, survey_for
from ..programs.programs import baseline

CONDITIONS = ("compiled", "engineered", "no_persona")


def compiled_questions(manifest: dict) -> list[str]:
    """The published questions a saved program saw while compiling (older manifests: its shipped survey's)."""
    from ..optimization.compile import trained_questions

    if "trained_questions" in manifest:
        return list(manifest["trained_questions"])
    return trained_questions(load_survey(manifest["survey"])) if manifest.get("survey") in builtin_surveys() else []


@dataclass
class Evaluation:
    program: str
    split: str
    countries: list[str]
    distances: pd.DataFrame  # condition, kind, country, x, y, distance (score for model conditions)
    summary: dict


def session_for(manifest: dict, model: str | None) -> ModelSession:
    """The model to evaluate on: ``model`` (a registry name or a .gguf path, the user's choice), else the
    registry model of the name the manifest records.

    A saved program is data that may come from anyone: its model spec is a record to compare against, never
    instructions. It cannot choose an endpoint, a credential or a file; a name the registry does not know is
    an error, and a registry model that is not the one the program was compiled on is said so."""
    if model:
        return ModelSession(model)
    spec = manifest.get("model")
    name = spec.get("name") if isinstance(spec, dict) else None
    specs, _ = load_registry()
    if not isinstance(name, str) or name not in specs:
        raise CulturalignError(
            f"the program was compiled on model {name!r}, which is not in your model registry "
            f"({', '.join(sorted(specs))}); a saved program never chooses an endpoint or a key itself: pass "
            f"--model NAME for a registered model, or add {name!r} to {user_models_file()}"
        )
    session = ModelSession(specs[name])
    compiled_on = manifest.get("model_identity")
    if compiled_on and compiled_on != session.identity:
        sys.stderr.write(
            f"warning: registry model {name!r} is {session.identity}, but the program was compiled "
            f"on {compiled_on}; scores are for your model, not the one in the manifest\n"
        )
    return session


def summarize(program_name: str, split: str, table: pd.DataFrame) -> dict:
    """Every condition of ``table`` (see :func:`yardsticks.summarize_conditions`), with each model
    condition's specificity and the share of countries the compiled program beats the engineered prompt on."""
    out = {
        "program": program_name,
        "split": split,
        "countries": sorted(table.country.unique()),
        **summarize_conditions(table),
    }
    for cond, sub in table[table.kind.isin(["program", "baseline"])].groupby("condition", sort=False):
        out[cond]["specificity"] = {r.country: int(r.rank) for r in cultmap.specificity(sub).itertuples()}
    if {"compiled", "engineered"} <= set(table.condition):
        d = table.pivot(index="country", columns="condition", values="distance")
        out["improved_share_vs_engineered"] = cultmap.improved_share(d["engineered"], d["compiled"])
    return out


def evaluate_saved(
    path,
    *,
    split: str = "test",
    model: str | None = None,
    variants: int | None = None,
    session: ModelSession | None = None,
    shuffled_control: bool = False,
    survey=None,
    questions=None,
    progress: bool = False,
) -> Evaluation:
    """The saved program, the engineered prompt and no persona on the program's ``split`` countries, beside
    the reference predictors (which know the program's training countries only). ``variants``: how many of
    Tao et al.'s ten descriptors the baselines average over (default all). ``shuffled_control``: also ask
    the compiled program and the engineered prompt about a seeded derangement of the countries.
    ``survey``: score on this survey instead of the one the program was compiled on (the summary says so);
    ``questions``: ids and/or themes of it. Where the survey has published answer shares the summary gains
    the per-question distributional scores; on a survey without a map they are all it reports. ``progress``:
    a progress bar (done, rate, ETA) on stderr while the model answers."""
    if split not in (*SPLITS, TRAIN_AND_TEST):
        raise CulturalignError(f"unknown split {split!r}; use one of {', '.join(SPLITS)} or {TRAIN_AND_TEST}")
    manifest = load_manifest(path)
    inst, other = survey_for(manifest, path, survey)
    if questions is not None:
        inst = inst.select(questions)
        other = other or inst.digest != manifest["data_hashes"]["survey"]
    program, manifest = load_program(path, inst, other_survey=other)
    # the lists the program was compiled with (test never seen); train+test for held-out evaluation's four cells
    both = manifest["split"]["train"] + manifest["split"]["test"]
    countries = both if split == TRAIN_AND_TEST else manifest["split"][split]
    if not countries:
        raise CulturalignError(
            f"{path}: the program's {split} split is empty (manifest.json), so there is nothing "
            "to evaluate; choose another --split, or recompile with countries in it"
        )
    if inst.map is None:  # the societies of the split that the survey has answer shares for
        with_data = set(countries_with_data(inst))
        countries = [c for c in countries if c in with_data]
        if not countries:
            raise CulturalignError(f"no {split} country of the program has answer shares in survey {inst.name!r}")
    respondents = [
        ("compiled", "program", program),
        ("engineered", "baseline", baseline("engineered", variants)),
        ("no_persona", "baseline", baseline("no_persona", variants)),
    ]
    if shuffled_control:
        respondents += [
            (name + SHUFFLED_SUFFIX, "shuffled", ShuffledCountries(prog, countries))
            for name, _, prog in respondents[:2]
        ]
    train = manifest["split"]["train"]
    own = session is None
    session = session or session_for(manifest, model)
    try:
        # `neighbours`: the program's own retrieval with no answer from the model (an embedding anchor still
        # takes the evaluated model's embeddings of the country names)
        retrieval = program.retrieval_in(session) if hasattr(program, "retrieval_in") else Retrieval()
        if inst.map is not None:
            respondents += reference_respondents(known=train, retrieval=retrieval)
        keys = question_keys(inst)
        if len(keys):  # the marginal knows the training countries only
            respondents += distribution_respondents(known=train, retrieval=retrieval)
        scored = score(session, respondents, countries, inst, progress=progress)
        table = scored.table[[c for c in scored.table.columns if not c.startswith("item_")]]
    finally:
        if own:
            session.close()
    targets = target_distributions(inst)
    dist_cells = cells(scored.distributions, targets, keys)
    floor = floor_cells(targets, countries) if len(dist_cells) else None
    head = {
        "survey": inst.name,
        "survey_digest": inst.digest,
        "compiled_on_survey": manifest.get("survey"),
        "other_survey": other,
        "distribution": json_safe(summarize_distributions(dist_cells, floor)),
    }
    if len(dist_cells):  # seen/unseen countries x seen/unseen questions
        head["held_out_cells"] = json_safe(seen_unseen(dist_cells, train, compiled_questions(manifest)))
    if inst.map is None:
        summary = {"program": manifest["program"], "split": split, "countries": sorted(countries), **head}
        return Evaluation(manifest["program"], split, countries, table, summary)
    summary = {**summarize(manifest["program"], split, table), **head}
    if getattr(program, "profiles", None):  # what the model believed about each country (respondent_profile)
        summary["compiled"]["profiles"] = {c: program.profiles[c] for c in sorted(countries)}
    return Evaluation(manifest["program"], split, countries, table, summary)


# ---------------------------------------------------------------- stability across optimizer seeds


def preset_from_manifest(manifest: dict) -> Preset:
    """The optimizer recipe a saved program was compiled with (its seed aside)."""
    opt = manifest["optimizer"]
    return Preset(
        name=opt["preset"],
        optimizer=opt["optimizer"],
        prompt_model=manifest.get("prompt_model"),
        settings=dict(opt["settings"]),
        compile={k: v for k, v in opt.get("compile_settings", {}).items() if k != "seed"},
        objective=manifest.get("objective", "distance"),
        tau=(manifest.get("metric") or {}).get("tau"),
        budget=dict(opt.get("budget") or {}),
    )


def _seed_program(path: Path, manifest: dict, seed: int, split: str, session: ModelSession) -> Path:
    """The program compiled with ``seed`` by the saved recipe: the saved one itself, a matching earlier
    recompile under ``path/seeds/``, or a new compile (model answers are cached, so a re-run is cheap)."""
    from ..optimization.compile import run_compile

    if seed == manifest["seed"]:
        return path
    out = path / "seeds" / f"seed-{seed}"
    if manifest_matches(
        out,
        {
            "seed": seed,
            "split": manifest["split"],
            "optimizer": manifest["optimizer"],
            "model_identity": manifest["model_identity"],
        },
    ):
        return out
    lists = {k: manifest["split"][k] for k in SPLITS}
    run_compile(
        manifest["program"],
        preset_from_manifest(manifest),
        out=out,
        seed=seed,
        split_seed=manifest["split"]["seed"],
        prompt_model=manifest.get("prompt_model"),
        countries=lists,
        session=session,
        score_splits=(split,),
    )
    return out


def evaluate_seeds(
    path,
    seeds: int,
    *,
    split: str = "test",
    model: str | None = None,
    variants: int | None = None,
    session: ModelSession | None = None,
) -> tuple[pd.DataFrame, dict]:
    """Compile the saved program's recipe with ``seeds`` optimizer seeds (the saved seed first, then the
    next ones), evaluate each on ``split``, and report the spread: stability is part of the claim.

    Returns a table (one row per seed) and a summary with the mean distance's mean, SD and range."""
    if seeds < 1:
        raise CulturalignError(f"--seeds must be at least 1, got {seeds}")
    path = Path(path)
    manifest = load_manifest(path)
    own = session is None
    session = session or session_for(manifest, model)
    rows, evaluations = [], []
    try:
        for seed in range(manifest["seed"], manifest["seed"] + seeds):
            where = _seed_program(path, manifest, seed, split, session)
            ev = evaluate_saved(where, split=split, variants=variants, session=session)
            c = ev.summary["compiled"]
            rows.append(
                {
                    "seed": seed,
                    "program_dir": str(where),
                    "mean_distance": c["mean_distance"],
                    "median_distance": c["median_distance"],
                    "skill": c["skill"],
                    "improved_share_vs_engineered": ev.summary["improved_share_vs_engineered"],
                    "steerability_x": c["steerability"]["x"],
                    "steerability_y": c["steerability"]["y"],
                }
            )
            evaluations.append(ev)
    finally:
        if own:
            session.close()
    table = pd.DataFrame(rows)
    first = evaluations[0].summary
    summary = {
        **first,
        "seeds": rows,
        "seed_spread": {
            "mean_distance_mean": float(table.mean_distance.mean()),
            "mean_distance_sd": float(table.mean_distance.std()) if len(table) > 1 else None,
            "mean_distance_min": float(table.mean_distance.min()),
            "mean_distance_max": float(table.mean_distance.max()),
            "skill_mean": float(table.skill.mean()),
            "skill_sd": float(table.skill.std()) if len(table) > 1 else None,
            "skill_min": float(table.skill.min()),
            "skill_max": float(table.skill.max()),
            "improved_share_mean": float(table.improved_share_vs_engineered.mean()),
        },
    }
    return table, summary
