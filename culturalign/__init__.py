"""culturalign: measure and optimise the cultural alignment of language models on the Inglehart-Welzel map."""
import os as _os

# Offline by default: litellm (under DSPy) would fetch its model price map at import, and Hugging Face
# libraries would look for updates. culturalign never needs the network at run time.
_os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
_os.environ.setdefault("HF_HUB_OFFLINE", "1")
from .audit import AuditResult, run_audit
from .compare import run_compare
from .compile import run_compile
from .conditions import CULTURAL_PROMPT, NO_PERSONA, custom_condition
from .cultmap import (bootstrap_point, distances, improved_share, item_distances, load_projection, nearest, project,
                      region_summary, specificity, steerability)
from .errors import CulturalignError
from .evaluate import evaluate_saved, evaluate_seeds
from .experiment import load_experiment, parse_experiment
from .models import ModelSession, get_spec
from .reference import countries, resolve_country
from .report.report import write_report
from .survey import load_survey
from .yardsticks import ShuffledCountries, condition_stats, derangement, reference_predictions, skill

__all__ = ["AuditResult", "CULTURAL_PROMPT", "CulturalignError", "ModelSession", "NO_PERSONA", "bootstrap_point",
           "countries", "custom_condition", "distances", "evaluate_saved", "evaluate_seeds", "get_spec",
           "improved_share", "item_distances", "load_experiment", "load_projection", "load_survey", "nearest",
           "parse_experiment", "project", "region_summary", "resolve_country", "run_audit", "run_compare",
           "run_compile", "specificity", "steerability", "write_report", "ShuffledCountries", "condition_stats",
           "derangement", "reference_predictions", "skill"]
