"""Stage 8: the runs users start: audit, evaluate, experiment files and compare."""
