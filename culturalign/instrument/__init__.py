"""Stage 2: what is asked. Surveys (YAML), item types and the model-facing questions they expand into."""
