"""Culture-conditioned recommendation explanations: catalogue data, a recommender, and (issue 5) the
explainer programs and their metric."""

# The one dataset `culturalign data fetch` knows, and where it may come from (movielens.py): here so that the
# command's choices load nothing.
MOVIELENS = "movielens-100k"
MOVIELENS_SOURCES = ("auto", "grouplens", "recbole")  # auto: GroupLens when reachable, else the recbole wheel
