"""culturalign: measure and optimise the cultural alignment of language models on the Inglehart-Welzel map."""
import os as _os

# Offline by default: litellm (under DSPy) would fetch its model price map at import, and Hugging Face
# libraries would look for updates. culturalign never needs the network at run time.
_os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
_os.environ.setdefault("HF_HUB_OFFLINE", "1")
from .elicitation.conditions import CULTURAL_PROMPT, NO_PERSONA, custom_condition
from .distribution.metrics import compare as compare_distributions
from .distribution.yardsticks import predictions as distribution_yardsticks
from .errors import CulturalignError
from .instrument.populations import target_distributions
from .instrument.question_splits import question_splits, stratified_questions
from .instrument.survey import load_survey
from .map.cultmap import (bootstrap_point, distances, improved_share, item_distances, load_projection, nearest, project,
                      region_summary, specificity, steerability)
from .map.reference import countries, resolve_country
from .map.yardsticks import ShuffledCountries, condition_stats, derangement, reference_predictions, skill
from .models import ModelSession, get_spec
from .optimization.compile import run_compile
from .report.report import write_report
from .runs.audit import AuditResult, run_audit
from .runs.compare import run_compare
from .runs.evaluate import evaluate_saved, evaluate_seeds
from .runs.experiment import load_experiment, parse_experiment
from .runs.surveys import survey_table

__all__ = ["AuditResult", "CULTURAL_PROMPT", "CulturalignError", "ModelSession", "NO_PERSONA", "bootstrap_point",
           "countries", "custom_condition", "distances", "evaluate_saved", "evaluate_seeds", "get_spec",
           "improved_share", "item_distances", "load_experiment", "load_projection", "load_survey", "nearest",
           "parse_experiment", "project", "region_summary", "resolve_country", "run_audit", "run_compare",
           "run_compile", "specificity", "steerability", "write_report", "ShuffledCountries", "condition_stats",
           "derangement", "reference_predictions", "skill", "compare_distributions", "distribution_yardsticks",
           "target_distributions", "question_splits", "stratified_questions", "survey_table"]
