"""culturalign: measure and optimise the cultural alignment of language models on the Inglehart-Welzel map.

The public names below are imported on first use (PEP 562), so ``import culturalign`` and the commands that need no
model (``countries``, ``map``, ``report`` ...) never load DSPy, LiteLLM or the llama.cpp binding."""

from __future__ import annotations

import importlib

# public name -> "module:attribute", relative to this package
_PUBLIC = {
    "CULTURAL_PROMPT": "elicitation.conditions:CULTURAL_PROMPT",
    "NO_PERSONA": "elicitation.conditions:NO_PERSONA",
    "custom_condition": "elicitation.conditions:custom_condition",
    "compare_distributions": "distribution.metrics:compare",
    "distribution_yardsticks": "distribution.yardsticks:predictions",
    "CulturalignError": "errors:CulturalignError",
    "target_distributions": "instrument.populations:target_distributions",
    "question_splits": "instrument.question_splits:question_splits",
    "stratified_questions": "instrument.question_splits:stratified_questions",
    "load_survey": "instrument.survey:load_survey",
    **{
        name: f"map.cultmap:{name}"
        for name in (
            "bootstrap_point",
            "distances",
            "improved_share",
            "item_distances",
            "load_projection",
            "nearest",
            "region_summary",
            "specificity",
            "steerability",
        )
    },
    "project": "instrument.answers:project",  # checked as `culturalign project` checks a file
    "countries": "map.reference:countries",
    "resolve_country": "map.reference:resolve_country",
    **{
        name: f"map.yardsticks:{name}"
        for name in ("ShuffledCountries", "condition_stats", "derangement", "reference_predictions", "skill")
    },
    "ModelSession": "models.session:ModelSession",
    "get_spec": "models.registry:get_spec",
    "run_compile": "optimization.compile:run_compile",
    "write_report": "report.report:write_report",
    "AuditResult": "runs.audit:AuditResult",
    "run_audit": "runs.audit:run_audit",
    "run_compare": "runs.compare:run_compare",
    "evaluate_saved": "runs.evaluate:evaluate_saved",
    "evaluate_seeds": "runs.evaluate:evaluate_seeds",
    "load_experiment": "runs.experiment:load_experiment",
    "parse_experiment": "runs.experiment:parse_experiment",
    "survey_table": "runs.surveys:survey_table",
}
__all__ = sorted(_PUBLIC)


def __getattr__(name: str):
    target = _PUBLIC.get(name)
    if target is None:
        raise AttributeError(f"module 'culturalign' has no attribute {name!r}")
    module, attr = target.split(":")
    value = getattr(importlib.import_module(f".{module}", __name__), attr)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_PUBLIC))
