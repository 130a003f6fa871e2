"""Compile and evaluate recommendation explainers with the same presets, manifest and commands as the
survey respondent (``culturalign compile --program recexplain``).

One example is one (user, item, target country) task; users are split train / val / test
(:mod:`.examples`). The metric is the combined score of :mod:`.metric`: zero unless the faithfulness gate
passes, else a logistic of the cultural gain over the plain explanation for the same task.
"""

from __future__ import annotations

from functools import lru_cache

import pandas as pd

from ..elicitation.respondent import active_session, report_progress, using_session
from ..models.session import ModelSession
from ..optimization.compile import CompileTask, dspy_lm, run_task
from ..optimization.presets import Preset, load_preset
from ..programs.programs import make_program
from . import movielens
from .examples import explanation_tasks, reference_explanation
from .fit import reader_points
from .gate import check
from .metric import combined_score, generate, program_inputs, score_explanations, summarize

GENERATION = {"temperature": 0.0, "max_tokens": 200}
DEFAULT_SIZES = {"train": 12, "val": 6, "test": 12}


def _titles() -> tuple[str, ...]:
    """The catalogue's titles, for the gate's check of films named (read once, not per metric call)."""
    return _catalogue_titles(str(movielens.default_folder()))


@lru_cache(maxsize=4)
def _catalogue_titles(folder: str) -> tuple[str, ...]:
    return tuple(movielens.load(folder).items.title)


def explanation_examples(tasks: pd.DataFrame, plain_distance: list[float], *, labelled: bool = False) -> list:
    """DSPy examples; ``labelled`` adds the fact-only reference explanation (training tasks only), which
    optimizers may show as a labelled demo."""
    import dspy

    return [
        dspy.Example(
            **program_inputs(t),
            facts=t["facts"],
            history_facts=t["history"],
            plain_distance=d,
            **({"explanation": reference_explanation(t)} if labelled else {}),
        ).with_inputs("country", "history", "item")
        for t, d in zip(tasks.to_dict("records"), plain_distance)
    ]


def _judge(example, pred):
    from ..map import cultmap

    session, survey = active_session()
    report_progress(example.country)
    gate = check(str(pred.explanation), example.facts, example.history_facts, example.country, _titles())
    if not gate.passed:
        return gate, None
    point = reader_points(session, survey, [str(pred.explanation)]).iloc[0]
    return gate, example.plain_distance - cultmap.distance_to(point.x, point.y, example.country)


def explanation_metric(example, pred, trace=None) -> float:
    """DSPy metric: 0 if the faithfulness gate fails, else the logistic of the cultural gain."""
    gate, gain = _judge(example, pred)
    return combined_score(gate.passed, gain if gain is not None else float("nan"))


def explanation_feedback(gold, pred, trace=None, pred_name=None, pred_trace=None):
    """GEPA metric: the score plus what failed the gate, or how far the reader moved."""
    import dspy

    gate, gain = _judge(gold, pred)
    if not gate.passed:
        return dspy.Prediction(score=0.0, feedback="Not faithful: " + "; ".join(gate.reasons))
    direction = "closer to" if gain > 0 else "further from"
    return dspy.Prediction(
        score=combined_score(True, gain),
        feedback=f"Faithful. A reader of this explanation answers the values survey {abs(gain):.2f} "
        f"map units {direction} people in {gold.country} than after the plain explanation.",
    )


def _plain_distances(session, survey, tasks) -> tuple[list[str], list[float]]:
    from ..map import cultmap

    plain = generate(make_program("recexplain_plain"), tasks)
    points = reader_points(session, survey, plain).drop_duplicates("text").set_index("text")
    return plain, [cultmap.distance_to(points.loc[t, "x"], points.loc[t, "y"], c) for t, c in zip(plain, tasks.country)]


class ExplainerTask(CompileTask):
    """Explainers: one example is one (user, item, target country) task; the metric judges faithfulness first
    (the gate), then the cultural gain a frozen reader measures against the plain explanation."""

    generation = GENERATION
    unit = "explanations judged"

    def __init__(self, tasks: pd.DataFrame, sizes: dict, split_seed: int):
        self.tasks, self.sizes, self.split_seed = tasks, sizes, split_seed
        self.data = {}

    def examples(self, session, survey, student=None):
        for split in ("train", "val", "test"):
            sub = self.tasks[self.tasks.split == split].reset_index(drop=True)
            plain, dist = _plain_distances(session, survey, sub)
            self.data[split] = (sub, plain, explanation_examples(sub, dist, labelled=split == "train"))
        return self.data["train"][2], self.data["val"][2]

    def objective(self):
        return (
            explanation_metric,
            explanation_feedback,
            None,
            {
                "name": "explanation_metric",
                "gate": "culturalign.recsys.gate.check",
                "score": "0 if the gate fails, else 1 / (1 + exp(-gain / 0.25))",
            },
        )

    def score(self, compiled, session, survey, splits, progress=False):
        scores = {}
        for split, (sub, plain, _) in self.data.items():
            if split not in splits:
                scores[split] = {"tasks": len(sub), "skipped": True}
                continue
            texts = {"plain": plain, "compiled": generate(compiled, sub)}
            table = score_explanations(session, survey, sub, texts, _titles())
            row = summarize(table, texts, sub).set_index("condition").loc["compiled"]
            scores[split] = {"tasks": len(sub), **{k: float(v) for k, v in row.items() if k != "n"}}
        return scores

    def manifest(self):
        return {
            "task": "recexplain",
            "dataset": movielens.source_info(),
            "generation": GENERATION,
            "split": {
                "seed": self.split_seed,
                "sizes": self.sizes,
                **{
                    s: self.tasks.loc[self.tasks.split == s, ["user", "item", "country"]].to_dict("records")
                    for s in ("train", "val", "test")
                },
            },
        }


def run_compile_explainer(
    program: str,
    optimizer,
    model=None,
    *,
    out=None,
    seed: int = 0,
    split_seed: int = 0,
    prompt_model: str | None = None,
    sizes: dict | None = None,
    session: ModelSession | None = None,
    score_splits=("train", "val", "test"),
    progress: bool = True,
):
    """Compile an explainer on MovieLens tasks and save it (JSON + manifest). Returns (folder, manifest)."""
    preset = optimizer if isinstance(optimizer, Preset) else load_preset(optimizer)
    sizes = {**DEFAULT_SIZES, **(sizes or {})}
    task = ExplainerTask(explanation_tasks(movielens.load(), seed=split_seed, sizes=sizes), sizes, split_seed)
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
    )


def evaluate_explainer(
    path, *, split: str = "test", model: str | None = None, session: ModelSession | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Plain vs hand-written vs compiled explanations on the saved program's held-out tasks.

    Returns the per-task table and the per-condition summary (faithfulness pass rate, cultural gain,
    shuffled-country control, corpus checks)."""
    import dspy

    from ..optimization.saved import load_manifest, load_program, survey_for
    from ..runs.evaluate import session_for

    survey, _ = survey_for(load_manifest(path), path)  # the survey its readers answered when it was compiled
    program, manifest = load_program(path, survey)
    tasks = explanation_tasks(movielens.load(), seed=manifest["split"]["seed"], sizes=manifest["split"]["sizes"])
    sub = tasks[tasks.split == split].reset_index(drop=True)
    own = session is None
    session = session or session_for(manifest, model)
    try:
        with (
            using_session(session, survey),
            dspy.context(lm=dspy_lm(session, **manifest.get("generation", GENERATION))),
        ):
            texts = {
                "plain": generate(make_program("recexplain_plain"), sub),
                "handwritten": generate(make_program("recexplain_handwritten"), sub),
                "compiled": generate(program, sub),
            }
            table = score_explanations(session, survey, sub, texts, _titles())
    finally:
        if own:
            session.close()
    return table, summarize(table, texts, sub)
