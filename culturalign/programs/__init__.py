"""Stage 5: the respondents that condition a model on a culture: the DSPy programs (tunable, neighbour, profile),
the hand-written baselines, their registry, and the few-shot demos built from training countries."""

from ..registry import Registry

# name -> what makes a fresh program (a class or a function of no arguments), imported on first use so that
# listing the names (``--program``'s choices) loads no DSPy
PROGRAMS = Registry(
    "program",
    {
        "respondent": "culturalign.programs.programs:Respondent",
        "respondent_knn": "culturalign.programs.knn_respondent:NeighbourRespondent",
        "respondent_profile": "culturalign.programs.profile_respondent:ProfileRespondent",
        "engineered": "culturalign.programs.programs:engineered",
        "no_persona": "culturalign.programs.programs:no_persona",
    },
    extensible=True,
)

# How a program's prompt is rendered (adapter.py): DSPy's ChatAdapter or the lean adapter.
PROMPT_FORMATS = ("chat", "lean")
