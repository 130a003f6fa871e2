"""Culture-conditioned recommendation explanations: catalogue data, a recommender, and (issue 5) the
explainer programs and their metric."""
