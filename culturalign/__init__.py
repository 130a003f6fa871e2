"""culturalign: cultural alignment of language models on the Inglehart-Welzel map."""
