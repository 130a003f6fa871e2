"""The one exception type users see: a clear message about what was wrong, where, and what is allowed."""


class CulturalignError(Exception):
    """Bad input or an unusable environment. The CLI prints the message and exits non-zero."""


class SurveyError(CulturalignError):
    """A survey file is malformed or incomplete."""


class ModelError(CulturalignError):
    """A model cannot be found, verified, started or reached."""
