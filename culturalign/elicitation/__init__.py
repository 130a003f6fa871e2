"""Stage 4: asking a model. Persona conditions, the respondent contract and its model-session context,
elicitation (token probabilities or samples), and the one scoring path from respondents to map points."""

# The ways a model is asked (elicit.py says how each works); here so that ``--mode``'s choices load nothing.
MODES = ("logprob", "sample", "verbalized")
