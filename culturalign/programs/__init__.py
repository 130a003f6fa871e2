"""Stage 5: the respondents that condition a model on a culture: the DSPy programs (tunable, neighbour, profile),
the hand-written baselines, their registry, and the few-shot demos built from training countries."""
