"""Compile a program with a DSPy optimizer preset, and save it as JSON + manifest.

One compile, whatever the program: a :class:`CompileTask` says what the optimizer sees (examples), what it
maximises (metric, feedback, threshold), how the compiled program is scored and what the manifest records;
:func:`run_task` runs the shared sequence (sessions, DSPy's LMs and call counter, progress, optimizer,
scores, manifest, save). :class:`SurveyTask` compiles survey respondents — one example is one country,
countries are split by region (train / val / test) and the test split is never shown to the optimizer;
task answers go through culturalign's exact, cached logprob engine, and only the optimizer's own proposal and
reflection calls go through ``dspy.LM``. Extensions bring their own tasks (the recommendation explainers).
"""

from __future__ import annotations

import contextlib
import os
import random
import sys
import time
from pathlib import Path

import pandas as pd

from ..elicitation.respondent import using_session
from ..errors import CulturalignError
from ..fileio import writable_folder
from ..map.splits import country_splits
from ..models.cache import fingerprint
from ..models.clients import openai_base
from ..models.embedded import cache_dir
from ..models.session import ModelSession
from ..programs.demos import training_examples
from ..programs.programs import program_answers
from ..progress import CompileProgress
from .metrics import similarity
from .objectives import Objective, make_objective
from .presets import OPTIMIZERS, Preset, optimizer_class


def _import_litellm_offline() -> None:
    """LiteLLM (under ``dspy.LM``) fetches its model price map over the network when first imported unless
    LITELLM_LOCAL_MODEL_COST_MAP is set; set it for that import only, so the caller's environment is untouched."""
    if "litellm" in sys.modules:
        return
    key, old = "LITELLM_LOCAL_MODEL_COST_MAP", os.environ.get("LITELLM_LOCAL_MODEL_COST_MAP")
    os.environ[key] = "True"
    try:
        import litellm  # noqa: F401
    finally:
        if old is None:
            del os.environ[key]
        else:
            os.environ[key] = old


def dspy_lm(session: ModelSession, **settings):
    """The one place a ``dspy.LM`` is built: explicit ``/v1`` base URL, a non-empty placeholder key for local
    servers, an explicit chat engine, and DSPy's cache namespaced by model identity and endpoint (DSPy's own
    cache key ignores ``api_base``)."""
    import dspy

    _import_litellm_offline()
    base = openai_base(session.base_url)  # an injected client's address may lack it
    key_env = session.spec.get("api_key_env")
    api_key = os.environ.get(key_env, "") if key_env else ""
    model_id = session.spec.get("model") or session.spec.name
    dspy.configure_cache(
        enable_disk_cache=True,
        disk_cache_dir=str(cache_dir() / "dspy" / fingerprint(session.identity, session.endpoint)[:16]),
    )
    return dspy.LM(
        f"openai/{model_id}",
        api_base=base,
        api_key=api_key or "local-no-key",
        model_type="chat",
        **{"temperature": 1.0, "max_tokens": 512, **settings},
    )


def _lm_call_counter():
    """A DSPy callback counting the optimizer's own LM calls (proposals, reflections), also through the
    copies of the prompt LM that optimizers make; DSPy cache hits count as calls."""
    from dspy.utils.callback import BaseCallback

    class LMCallCounter(BaseCallback):
        calls = 0

        def on_lm_start(self, call_id, instance, inputs):
            self.calls += 1

    return LMCallCounter()


# ---------------------------------------------------------------- driving an optimizer (presets.OPTIMIZERS)


def build_optimizer(preset: Preset, prompt_lm, seed: int, task_lm=None, *, metric, feedback, metric_threshold=None):
    """Instantiate the preset's optimizer with its metric (``feedback`` where the optimizer reflects on
    feedback text: an objective's ``metric`` and ``feedback``) and the prompt/reflection model;
    ``metric_threshold`` replaces the preset's where an objective has its own."""
    quirks = OPTIMIZERS.get(preset.optimizer)
    settings = dict(preset.settings)
    if metric_threshold is not None and "metric_threshold" in settings:
        settings["metric_threshold"] = metric_threshold
    if quirks.metric:
        settings["metric"] = feedback if quirks.feedback else metric
    if quirks.prompt_model:
        settings[quirks.prompt_model] = prompt_lm
    if quirks.task_model:
        settings["task_model"] = task_lm or prompt_lm
    if quirks.seed == "init":
        settings["seed"] = seed
    return optimizer_class(preset.optimizer)(**settings)


def compile_kwargs(preset: Preset, seed: int) -> dict:
    """The preset's ``compile`` settings, with the seed where the optimizer takes it there."""
    return {**preset.compile, **({"seed": seed} if OPTIMIZERS.get(preset.optimizer).seed == "compile" else {})}


def run_optimizer(optimizer, preset: Preset, student, trainset: list, valset: list, kwargs: dict):
    """``optimizer.compile``, with the validation set only for the optimizers that take one. A prompt model that
    does not write the fields the optimizer asks for (a small model sampled at a high temperature, now and then)
    is a clear error, not DSPy's traceback."""
    from dspy.utils.exceptions import AdapterParseError

    if OPTIMIZERS.get(preset.optimizer).valset:
        kwargs = {**kwargs, "valset": valset}
    try:
        return optimizer.compile(student, trainset=trainset, **kwargs)
    except AdapterParseError as exc:
        raise CulturalignError(
            f"{preset.optimizer}: the prompt model did not write the fields {preset.optimizer} asked for "
            f"(expected {', '.join(exc.signature.output_fields)}; it wrote {str(exc.lm_response)[:200]!r}). "
            "Its proposals are sampled, so running again may pass; a larger --prompt-model or another optimizer "
            "avoids it"
        ) from None


# ---------------------------------------------------------------- the one compile


class CompileTask:
    """What a compile optimizes and records. Subclasses set the examples and objective (``examples`` is
    called inside the run, where the model session is active), score the compiled program per split, and
    name the task's own manifest fields."""

    generation: dict | None = None  # set when the program itself generates through DSPy's LM (explainers)
    unit = "countries answered"  # what the progress line counts

    def examples(self, session, survey, student=None) -> tuple[list, list]:
        raise NotImplementedError

    def objective(self) -> tuple:
        """(metric, feedback metric, metric threshold or None, what the manifest says of the metric)."""
        raise NotImplementedError

    def prepare(self, student) -> None:
        """Give the student what it may know before the optimizer runs (retrieval pools)."""

    def score(self, compiled, session, survey, splits, progress: bool = False) -> dict:
        raise NotImplementedError

    def manifest(self) -> dict:
        raise NotImplementedError


def optimize(
    task: CompileTask,
    student,
    preset: Preset,
    session: ModelSession,
    survey,
    *,
    seed: int = 0,
    prompt_session: ModelSession | None = None,
    progress: bool = False,
    score_splits=(),
) -> tuple[object, dict]:
    """Run the preset's optimizer on ``student`` for ``task`` and score the result on ``score_splits``;
    returns the compiled program and a record of the run (settings, metric, calls, wall time, scores)."""
    import dspy

    prompt_lm = dspy_lm(prompt_session or session)
    if task.generation is not None:  # the program generates: DSPy's LM is the task model
        task_lm = context_lm = dspy_lm(session, **task.generation)
    else:  # answers come from culturalign's engine; DSPy's LM writes the optimizer's proposals
        task_lm, context_lm = (dspy_lm(session) if prompt_session else prompt_lm), prompt_lm
    calls_before = session.usage.calls
    counter = _lm_call_counter()
    on_example = CompileProgress(session, unit=task.unit) if progress else None
    start = time.monotonic()
    # DSPy's optimizers print progress on stdout (some in their constructors); it goes to stderr so that
    # stdout stays ours (--json)
    with (
        using_session(session, survey, on_example),
        dspy.context(lm=context_lm, callbacks=[counter]),
        contextlib.redirect_stdout(sys.stderr),
    ):
        task.prepare(student)  # first: a retrieving student's labelled examples show its own evidence
        trainset, valset = task.examples(session, survey, student)
        metric, feedback, threshold, metric_record = task.objective()
        optimizer = build_optimizer(
            preset, prompt_lm, seed, task_lm, metric=metric, feedback=feedback, metric_threshold=threshold
        )
        kwargs = compile_kwargs(preset, seed)
        compiled = run_optimizer(optimizer, preset, student, trainset, valset, kwargs)
        wall = round(time.monotonic() - start, 1)
        model_calls, lm_calls = session.usage.calls - calls_before, counter.calls
        scores = task.score(compiled, session, survey, score_splits, progress) if score_splits else {}
        # scoring shares the answer cache with the search: a country the search answered costs nothing here
        timing = {
            "search_seconds": wall,
            "scoring_seconds": round(time.monotonic() - start - wall, 1),
            "search_model_calls": model_calls,
            "scoring_model_calls": session.usage.calls - calls_before - model_calls,
            "scored_splits": list(score_splits),
        }
    record = {
        "optimizer": preset.optimizer,
        "preset": preset.name,
        "settings": preset.settings,
        "compile_settings": kwargs,
        "seed": seed,
        "metric": metric_record,
        "model_calls": model_calls,
        "lm_calls": lm_calls,
        "wall_seconds": wall,
        "scores": scores,
        "timing": timing,
    }
    return compiled, record


HELD_OUT_SPLITS = ("val", "test")  # what a compile scores by default: the splits no optimizer trained on


def run_task(
    task: CompileTask,
    program: str,
    preset: Preset,
    model=None,
    *,
    out=None,
    seed: int = 0,
    prompt_model: str | None = None,
    session: ModelSession | None = None,
    score_splits=HELD_OUT_SPLITS,
    progress: bool = False,
    survey="ivs-iw10",
    program_settings: dict | None = None,
) -> tuple[Path, dict]:
    """Compile ``program`` for ``task`` and save it (JSON + manifest) to ``out``; returns folder and manifest.
    ``survey``: a shipped survey's name, a survey file or a Survey; its digest is recorded in the manifest.
    ``program_settings``: fixed parameters of the program (see :func:`apply_program_settings`)."""
    from ..instrument.survey import Survey, load_survey
    from .saved import save_program

    survey = survey if isinstance(survey, Survey) else load_survey(survey)
    if survey.map is None:
        raise CulturalignError(
            f"survey {survey.name!r} has no map projection, and the compile objectives score map "
            "points; compile on a survey with a map (ivs-iw10), then evaluate the program on "
            f"{survey.name!r} with `culturalign evaluate PROGRAM --survey {survey.name}`"
        )
    student = apply_program_settings(make_student(program), program_settings or {})
    if out is not None:
        writable_folder(out, "--out")
    prompt_name = prompt_model or preset.prompt_model
    with compile_sessions(model, prompt_name, session) as (session, prompt_session):
        compiled, record = optimize(
            task,
            student,
            preset,
            session,
            survey,
            seed=seed,
            prompt_session=prompt_session,
            progress=progress,
            score_splits=score_splits,
        )
        manifest = {
            **manifest_head(program, session, prompt_name, survey, preset, record["compile_settings"], seed),
            **task.manifest(),
            "metric": record["metric"],
            # model calls through culturalign's engine while compiling; DSPy LM calls (proposals,
            # reflections, and an explainer's own writing; cache hits count)
            "usage": {
                **session.usage.as_dict(),
                "compile_model_calls": record["model_calls"],
                "lm_calls": record["lm_calls"],
            },
            "wall_seconds": record["wall_seconds"],
            "timing": record["timing"],
            "scores": record["scores"],
            "program_settings": program_settings_of(compiled),
            **({"retrieval_search": compiled.search_record} if hasattr(compiled, "search_record") else {}),
        }
        out = Path(out or f"programs/{program}-{preset.name}-{session.spec.name}")
        save_program(compiled, out, manifest)
    return out, manifest


# ---------------------------------------------------------------- survey respondents


class SurveyTask(CompileTask):
    """A survey respondent: one example is one country, labelled with WVS-7 answers where they exist. The
    objective may compare against the training and validation countries, never a test country; a program
    that retrieves from training countries (``fit_countries``) is given the training countries only."""

    def __init__(self, lists: dict, objective: Objective, preset: Preset, *, seed: int = 0, split_seed: int = 0):
        self.lists, self.preset, self.seed, self.split_seed = lists, preset, seed, split_seed
        self._objective = (
            objective
            if objective.candidates is not None
            else make_objective(objective.name, tau=objective.tau, candidates=lists["train"] + lists["val"])
        )
        # The split lists are sorted by region; optimizers that walk the trainset in order (bootstrapping)
        # would otherwise see one region first. A seeded shuffle keeps runs reproducible. A preset's budget
        # may cap how many of them the optimizer sees (retrieval and the objective still know them all).
        order = list(lists["train"])
        random.Random(seed).shuffle(order)
        self.shown_train = order[: preset.budget.get("train") or None]
        self.shown_val = list(lists["val"])
        if preset.budget.get("val"):
            self.shown_val = sorted(
                random.Random(seed).sample(self.shown_val, min(len(self.shown_val), preset.budget["val"]))
            )

    def examples(self, session, survey, student=None):
        label = getattr(student, "labelled_example", None)
        return training_examples(self.shown_train, survey, label), training_examples(self.shown_val, survey, label)

    def prepare(self, student):
        if hasattr(student, "fit_countries"):
            student.fit_countries(self.lists["train"])

    def objective(self):
        o = self._objective
        threshold = o.threshold(self.preset.settings.get("metric_threshold"))
        return o.metric, o.feedback, threshold, {**o.record(), "metric_threshold": threshold}

    def score(self, compiled, session, survey, splits, progress=False):
        scores = {}
        for name, countries in self.lists.items():
            if name not in splits:
                scores[name] = {"countries": len(countries), "mean_distance": None, "mean_score": None, "skipped": True}
                continue
            table = (
                program_answers(session, compiled, countries, survey, progress=progress)["points"]
                if countries
                else pd.DataFrame(columns=["country", "x", "y", "distance"])
            )
            table = table.assign(score=[similarity(d) for d in table.distance])
            objective = [self._objective.score_point(r.x, r.y, r.country) for r in table.itertuples()]
            scores[name] = {
                "countries": len(countries),
                "mean_distance": float(table.distance.mean()) if len(table) else None,
                "mean_score": float(table.score.mean()) if len(table) else None,
                "mean_objective": float(sum(objective) / len(table)) if len(table) else None,
            }
        return scores

    def manifest(self):
        return {
            "objective": self._objective.name,
            "split": {"seed": self.split_seed, **self.lists},
            "optimizer_saw": {"train": sorted(self.shown_train), "val": self.shown_val},
        }


def survey_lists(split_seed: int = 0, countries: dict | None = None) -> dict:
    """Train / val / test countries: the region split, or explicit lists; the splits must not overlap."""
    split = country_splits(split_seed)
    lists = {s: split.loc[split.split == s, "country"].tolist() for s in ("train", "val", "test")}
    lists.update(countries or {})
    for a, b in (("test", "train"), ("test", "val"), ("val", "train")):
        both = sorted(set(lists[a]) & set(lists[b]))
        if both:  # the test split must never reach an optimizer; validation countries must not be trained on
            raise CulturalignError(
                f"{', '.join(both[:5])} {'is' if len(both) == 1 else 'are'} in both the {a} and "
                f"the {b} countries; the splits must not overlap"
            )
    return lists


def compile_program(
    program,
    preset: Preset,
    session: ModelSession,
    survey,
    *,
    seed: int = 0,
    split_seed: int = 0,
    train: list[str] | None = None,
    val: list[str] | None = None,
    prompt_session: ModelSession | None = None,
    progress: bool = False,
    objective: Objective | None = None,
) -> tuple[object, dict]:
    """Run the preset's optimizer on a survey respondent without saving it; returns the compiled program
    and a record of the run. ``train``/``val`` default to the region split, ``objective`` to distance."""
    split = survey_lists(split_seed)
    lists = survey_lists(split_seed, {"train": train or split["train"], "val": val or split["val"], "test": []})
    task = SurveyTask(lists, objective or make_objective("distance"), preset, seed=seed, split_seed=split_seed)
    compiled, record = optimize(
        task, program, preset, session, survey, seed=seed, prompt_session=prompt_session, progress=progress
    )
    return compiled, {
        **record,
        "split_seed": split_seed,
        "train": lists["train"],
        "val": lists["val"],
        **task.manifest(),
    }


def run_compile(
    program: str = "respondent",
    optimizer: str | Preset = "mipro-light",
    model: str | None = None,
    *,
    out=None,
    seed: int = 0,
    split_seed: int = 0,
    prompt_model: str | None = None,
    countries: dict | None = None,
    session: ModelSession | None = None,
    score_splits=HELD_OUT_SPLITS,
    progress: bool = False,
    objective: str | None = None,
    tau: float | None = None,
    survey="ivs-iw10",
    program_settings: dict | None = None,
):
    """Compile a survey respondent with an optimizer preset on ``model`` and save it (JSON + manifest).

    ``countries`` may override the region split with explicit ``{"train": [...], "val": [...], "test": [...]}``
    lists (small budgets); the test countries are only scored after compiling, never shown to the optimizer.
    ``score_splits`` names the splits scored for the manifest (default the held-out validation and test
    splits; scoring the training split costs one evaluation per training country the search did not
    answer; a skipped split is recorded as such). ``objective`` (``distance`` or ``contrastive``) and ``tau``
    override the preset's; ``survey`` is the survey it answers (a name, file or Survey with a map
    projection); ``program_settings`` fixes the program's prompt format and retrieval. Returns the folder and
    manifest.
    """
    from .presets import load_preset

    preset = optimizer if isinstance(optimizer, Preset) else load_preset(optimizer)
    lists = survey_lists(split_seed, countries)
    chosen = make_objective(objective or preset.objective, tau=tau if tau is not None else preset.tau)
    task = SurveyTask(lists, chosen, preset, seed=seed, split_seed=split_seed)
    return run_task(
        task,
        program,
        preset,
        model,
        out=out,
        seed=seed,
        prompt_model=prompt_model,
        session=session,
        score_splits=score_splits,
        progress=progress,
        survey=survey,
        program_settings=program_settings,
    )


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


def manifest_head(
    program: str, session: ModelSession, prompt_name, survey, preset: Preset, compile_settings: dict, seed: int
) -> dict:
    """What every saved program's manifest starts with: program, models, data hashes, optimizer, seed."""
    from .saved import data_hashes

    return {
        "program": program,
        "model": session.spec.public(),
        "model_identity": session.identity,
        "endpoint": session.endpoint,
        "prompt_model": prompt_name,
        "survey": survey.name,
        "data_hashes": data_hashes(survey),
        "trained_questions": trained_questions(survey),
        "optimizer": {
            "optimizer": preset.optimizer,
            "preset": preset.name,
            "settings": preset.settings,
            "compile_settings": compile_settings,
            **({"budget": preset.budget} if preset.budget else {}),
        },
        "seed": seed,
    }


def trained_questions(survey) -> list[str]:
    """The published (WVS-7) questions a program answers while compiling on ``survey``: the "seen" questions of
    a held-out-question evaluation."""
    from ..instrument.populations import question_keys

    return sorted(set(question_keys(survey).question))


def make_student(name: str):
    """A program an optimizer can tune (a DSPy module); the fixed baselines cannot be compiled."""
    import dspy

    from ..programs.programs import make_program

    program = make_program(name)
    if not isinstance(program, dspy.Module):
        raise CulturalignError(
            f"program {name!r} is a fixed baseline with nothing to tune; compile 'respondent' "
            "or a registered DSPy module"
        )
    return program


PROGRAM_SETTINGS = ("prompt_format", "retrieval")


def apply_program_settings(student, settings: dict):
    """Fix a program's parameters that optimizers do not edit: ``prompt_format`` (chat, lean) and, for a
    retrieving program, ``retrieval`` ({k, weighting, evidence, per_neighbour}). Checked before any model starts."""
    if not isinstance(settings, dict) or set(settings) - set(PROGRAM_SETTINGS):
        raise CulturalignError(
            f"program settings must be a mapping with {', '.join(PROGRAM_SETTINGS)}; got "
            f"{sorted(settings) if isinstance(settings, dict) else type(settings).__name__}"
        )
    if settings.get("prompt_format") is not None:
        from ..programs.adapter import adapter

        adapter(settings["prompt_format"])  # an unknown format is a clear error
        if not hasattr(student, "prompt_format"):
            raise CulturalignError(f"program {getattr(student, 'name', '?')!r} has no prompt format to set")
        student.prompt_format = settings["prompt_format"]
    if settings.get("retrieval"):
        if not callable(getattr(student, "set_retrieval", None)):
            raise CulturalignError(
                f"program {getattr(student, 'name', '?')!r} retrieves nothing; retrieval settings "
                "apply to respondent_knn"
            )
        student.set_retrieval(**settings["retrieval"])
    return student


def program_settings_of(program) -> dict:
    """What the manifest records of a program's fixed parameters."""
    out = {}
    if hasattr(program, "prompt_format"):
        out["prompt_format"] = program.prompt_format
    if callable(getattr(program, "retrieval_settings", None)):
        out["retrieval"] = program.retrieval_settings()
    return out


def settings_from_text(value: str | None, option: str) -> dict:
    """``k=5,evidence=distribution`` as a mapping (whole numbers as ints); the program checks the values."""
    out = {}
    for part in (value or "").split(","):
        if not part.strip():
            continue
        key, eq, text = part.partition("=")
        if not eq or not key.strip() or not text.strip():
            raise CulturalignError(f"{option}: {part.strip()!r} is not KEY=VALUE (e.g. k=5,evidence=distribution)")
        text = text.strip()
        out[key.strip()] = int(text) if text.lstrip("-").isdigit() else text
    return out
