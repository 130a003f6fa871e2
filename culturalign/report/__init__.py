"""Stage 7: the HTML report built from the written tables."""
