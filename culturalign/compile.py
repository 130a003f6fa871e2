"""Compile a culture-conditioned program with a DSPy optimizer preset, and save it as JSON + manifest.

One training example is one country; countries are split by region (train / val / test) and the test
split is never shown to the optimizer. Task answers go through culturalign's exact, cached logprob
engine; only the optimizer's own proposal and reflection calls go through ``dspy.LM``.
"""
from __future__ import annotations

import contextlib
import os
import random
import sys
import time

import pandas as pd

from .cache import fingerprint
from .demos import training_examples
from .errors import CulturalignError
from .fileio import writable_folder
from .metrics import alignment_metric, feedback_metric
from .objectives import Objective, make_objective
from .models.embedded import cache_dir
from .models.session import ModelSession
from .presets import Preset
from .progress import CompileProgress
from .programs import using_session
from .splits import country_splits


def dspy_lm(session: ModelSession, **settings):
    """The one place a ``dspy.LM`` is built (DESIGN §4): explicit ``/v1`` base URL, a non-empty placeholder
    key for local servers, an explicit chat engine, and DSPy's cache namespaced by model identity and
    endpoint (DSPy's own cache key ignores ``api_base``)."""
    import dspy

    base = session.base_url
    base = base if base.rstrip("/").endswith("/v1") else base.rstrip("/") + "/v1"
    key_env = session.spec.get("api_key_env")
    api_key = os.environ.get(key_env, "") if key_env else ""
    model_id = session.spec.get("model") or session.spec.name
    dspy.configure_cache(enable_disk_cache=True,
                         disk_cache_dir=str(cache_dir() / "dspy" / fingerprint(session.identity, session.endpoint)[:16]))
    return dspy.LM(f"openai/{model_id}", api_base=base, api_key=api_key or "local-no-key", model_type="chat",
                   **{"temperature": 1.0, "max_tokens": 512, **settings})


def _lm_call_counter():
    """A DSPy callback counting the optimizer's own LM calls (proposals, reflections), also through the
    copies of the prompt LM that optimizers make; DSPy cache hits count as calls."""
    from dspy.utils.callback import BaseCallback

    class LMCallCounter(BaseCallback):
        calls = 0

        def on_lm_start(self, call_id, instance, inputs):
            self.calls += 1

    return LMCallCounter()


def build_optimizer(preset: Preset, prompt_lm, seed: int, task_lm=None, *, metric=alignment_metric,
                    feedback=feedback_metric, metric_threshold=None):
    """Instantiate the preset's optimizer with a metric (GEPA: ``feedback``, which adds feedback text) and
    the prompt/reflection model. The defaults are the survey respondent's distance objective;
    ``metric_threshold`` replaces the preset's where an objective has its own."""
    import dspy

    cls = getattr(dspy, preset.optimizer)
    settings = dict(preset.settings)
    if metric_threshold is not None and "metric_threshold" in settings:
        settings["metric_threshold"] = metric_threshold
    if preset.optimizer == "GEPA":
        return cls(metric=feedback, reflection_lm=prompt_lm, seed=seed, **settings)
    if preset.optimizer in ("MIPROv2", "COPRO", "SIMBA"):
        settings["prompt_model"] = prompt_lm
    if preset.optimizer == "MIPROv2":  # answers come from culturalign's engine; MIPROv2 insists on an LM anyway
        settings["task_model"] = task_lm or prompt_lm
    if preset.optimizer == "LabeledFewShot":
        return cls(**settings)
    return cls(metric=metric, **settings)


def run_optimizer(optimizer, preset: Preset, student, trainset: list, valset: list, kwargs: dict):
    """``optimizer.compile``, with the validation set only for the optimizers that take one."""
    if preset.optimizer in ("COPRO", "LabeledFewShot", "SIMBA", "BootstrapFewShot"):
        return optimizer.compile(student, trainset=trainset, **kwargs)
    return optimizer.compile(student, trainset=trainset, valset=valset, **kwargs)


def _compile_kwargs(preset: Preset, seed: int) -> dict:
    kwargs = dict(preset.compile)
    if preset.optimizer in ("MIPROv2", "SIMBA"):
        kwargs["seed"] = seed  # MIPROv2's constructor default (9) would otherwise win silently
    return kwargs


def score_split(session, program, countries: list[str], survey, *, progress: bool = False, mode: str = "logprob",
                samples: int = 10, items: bool = False) -> pd.DataFrame:
    """Per-country map point, distance and score (exp(-distance)) of a program on the given countries (with
    ``items``, also each item's value as ``item_<code>``)."""
    from .metrics import similarity
    from .scoring import GenerationConfig, score

    t = score(session, [(getattr(program, "name", "respondent"), "program", program)], countries, survey,
              GenerationConfig(mode=mode, samples=samples), progress=progress).table
    out = t[["country", "x", "y", "distance"]].assign(score=[similarity(d) for d in t.distance])
    return pd.concat([out, t.filter(like="item_")], axis=1) if items else out


def compile_program(program, preset: Preset, session: ModelSession, survey, *, seed: int = 0,
                    split_seed: int = 0, train: list[str] | None = None, val: list[str] | None = None,
                    prompt_session: ModelSession | None = None, progress: bool = False,
                    objective: Objective | None = None) -> tuple[object, dict]:
    """Run the preset's optimizer on ``program``; returns the compiled program and a record of the run
    (split, settings, objective, model calls, tokens, wall time). ``train``/``val`` default to the region
    split; ``objective`` to the distance objective. A program that retrieves from training countries
    (``fit_countries``) is given the training countries, and only those."""
    import dspy

    split = country_splits(split_seed)
    train = train or split.loc[split.split == "train", "country"].tolist()
    val = val or split.loc[split.split == "val", "country"].tolist()
    # the objective may compare against the countries the optimizer sees, never against a test country
    objective = objective or make_objective("distance")
    if objective.candidates is None:
        objective = make_objective(objective.name, tau=objective.tau, candidates=train + val)
    if hasattr(program, "fit_countries"):
        program.fit_countries(train)
    # The split lists are sorted by region; optimizers that walk the trainset in order (bootstrapping)
    # would otherwise see one region first. A seeded shuffle keeps runs reproducible. A preset's budget
    # may cap how many of them the optimizer sees (retrieval and the objective still know them all).
    order = list(train)
    random.Random(seed).shuffle(order)
    order = order[:preset.budget.get("train") or None]
    shown_val = list(val)
    if preset.budget.get("val"):
        shown_val = sorted(random.Random(seed).sample(shown_val, min(len(shown_val), preset.budget["val"])))
    trainset, valset = training_examples(order, survey), training_examples(shown_val, survey)
    prompt_lm = dspy_lm(prompt_session or session)
    calls_before = session.usage.calls
    start = time.monotonic()
    on_country = CompileProgress(session) if progress else None
    counter = _lm_call_counter()
    # DSPy's optimizers print progress on stdout (some in their constructors); it goes to stderr so that
    # stdout stays ours (--json)
    with using_session(session, survey, on_country), dspy.context(lm=prompt_lm, callbacks=[counter]), \
            contextlib.redirect_stdout(sys.stderr):
        threshold = objective.threshold(preset.settings.get("metric_threshold"))
        optimizer = build_optimizer(preset, prompt_lm, seed, task_lm=dspy_lm(session) if prompt_session else prompt_lm,
                                    metric=objective.metric, feedback=objective.feedback, metric_threshold=threshold)
        kwargs = _compile_kwargs(preset, seed)
        compiled = run_optimizer(optimizer, preset, program, trainset, valset, kwargs)
    record = {"optimizer": preset.optimizer, "preset": preset.name, "settings": preset.settings,
              "compile_settings": kwargs, "seed": seed, "split_seed": split_seed, "train": train, "val": val,
              "optimizer_saw": {"train": sorted(order), "val": shown_val},
              "metric": {**objective.record(), "metric_threshold": threshold},
              "model_calls": session.usage.calls - calls_before, "prompt_model_calls": counter.calls,
              "wall_seconds": round(time.monotonic() - start, 1)}
    return compiled, record


def run_compile(program: str = "respondent", optimizer: str | Preset = "mipro-light", model: str | None = None, *,
                out=None, seed: int = 0, split_seed: int = 0, prompt_model: str | None = None,
                countries: dict | None = None, session: ModelSession | None = None,
                score_splits=("train", "val", "test"), progress: bool = False, objective: str | None = None,
                tau: float | None = None):
    """Compile ``program`` with an optimizer preset on ``model`` and save it (JSON + manifest) to ``out``.

    ``countries`` may override the region split with explicit ``{"train": [...], "val": [...], "test": [...]}``
    lists (small budgets); the test countries are only scored after compiling, never shown to the optimizer.
    ``score_splits`` names the splits scored for the manifest (scoring the training split costs one
    evaluation per training country; a skipped split is recorded as such). ``objective`` (``distance`` or
    ``contrastive``) and ``tau`` override the preset's. Returns the folder and manifest.
    """
    from .presets import load_preset
    from .saved import save_program
    from .survey import load_survey

    survey = load_survey()
    preset = optimizer if isinstance(optimizer, Preset) else load_preset(optimizer)
    student = make_student(program)
    split = country_splits(split_seed)
    lists = {s: split.loc[split.split == s, "country"].tolist() for s in ("train", "val", "test")}
    lists.update(countries or {})
    for a, b in (("test", "train"), ("test", "val"), ("val", "train")):
        both = sorted(set(lists[a]) & set(lists[b]))
        if both:  # the test split must never reach an optimizer; validation countries must not be trained on
            raise CulturalignError(f"{', '.join(both[:5])} {'is' if len(both) == 1 else 'are'} in both the {a} and "
                                   f"the {b} countries; the splits must not overlap")
    if out is not None:
        writable_folder(out, "--out")
    chosen = make_objective(objective or preset.objective, tau=tau if tau is not None else preset.tau,
                            candidates=lists["train"] + lists["val"])
    prompt_name = prompt_model or preset.prompt_model
    with compile_sessions(model, prompt_name, session) as (session, prompt_session):
        compiled, record = compile_program(student, preset, session, survey, seed=seed, split_seed=split_seed,
                                           train=lists["train"], val=lists["val"], prompt_session=prompt_session,
                                           progress=progress, objective=chosen)
        scores = {}
        for name, countries_ in lists.items():
            if name not in score_splits:
                scores[name] = {"countries": len(countries_), "mean_distance": None, "mean_score": None,
                                "skipped": True}
                continue
            table = score_split(session, compiled, countries_, survey, progress=progress) if countries_ else pd.DataFrame()
            objective_scores = [chosen.score_point(r.x, r.y, r.country) for r in table.itertuples()]
            scores[name] = {"countries": len(countries_),
                            "mean_distance": float(table.distance.mean()) if len(table) else None,
                            "mean_score": float(table.score.mean()) if len(table) else None,
                            "mean_objective": float(sum(objective_scores) / len(table)) if len(table) else None}
        manifest = {
            **manifest_head(program, session, prompt_name, survey, preset, record["compile_settings"], seed),
            "metric": record["metric"], "objective": record["metric"]["name"], "split": {"seed": split_seed, **lists},
            "usage": {**session.usage.as_dict(), "compile_model_calls": record["model_calls"],
                      "prompt_model_calls": record["prompt_model_calls"]},
            "optimizer_saw": record["optimizer_saw"], "wall_seconds": record["wall_seconds"], "scores": scores,
        }
        out = out or f"programs/{program}-{preset.name}-{session.spec.name}"
        save_program(compiled, out, manifest)
    return out, manifest


@contextlib.contextmanager
def compile_sessions(model, prompt_name: str | None, session: ModelSession | None = None):
    """The task model's session (``session`` if given, else a new one closed afterwards) and, when a
    separate prompt/reflection model is named, its own session."""
    own = session is None
    session = session or ModelSession(model)
    prompt_session = ModelSession(prompt_name) if prompt_name else None
    try:
        yield session, prompt_session
    finally:
        if own:
            session.close()
        if prompt_session is not None:
            prompt_session.close()


def manifest_head(program: str, session: ModelSession, prompt_name, survey, preset: Preset,
                  compile_settings: dict, seed: int) -> dict:
    """What every saved program's manifest starts with: program, models, data hashes, optimizer, seed."""
    from .saved import data_hashes

    return {"program": program, "model": session.spec.public(), "model_identity": session.identity,
            "endpoint": session.endpoint, "prompt_model": prompt_name, "survey": survey.name,
            "data_hashes": data_hashes(survey),
            "optimizer": {"optimizer": preset.optimizer, "preset": preset.name, "settings": preset.settings,
                          "compile_settings": compile_settings, **({"budget": preset.budget} if preset.budget else {})},
            "seed": seed}


def make_student(name: str):
    """A program an optimizer can tune (a DSPy module); the fixed baselines cannot be compiled."""
    import dspy

    from .programs import make_program

    program = make_program(name)
    if not isinstance(program, dspy.Module):
        raise CulturalignError(f"program {name!r} is a fixed baseline with nothing to tune; compile 'respondent' "
                               "or a registered DSPy module")
    return program
