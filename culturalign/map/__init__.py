"""Stage 1: the reference countries (their survey answers, map points and regions), the Inglehart-Welzel map
they sit on, the seeded country splits, the model-free predictors, and the map figure."""
