"""Distributional alignment: each condition's answer distribution per question against each society's."""
