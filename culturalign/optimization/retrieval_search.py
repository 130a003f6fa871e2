"""``RetrievalSearch``: an optimizer over a retrieving program's fixed settings (k, weighting, evidence format).

DSPy's optimizers edit instructions and demos; a retrieving program's settings are parameters they carry along
unchanged (recorded in the manifest as ``program_settings``). This one searches them: every combination of the
``grid`` is scored on the validation countries with the compile's metric, optionally with ``labeled_demos``
labelled training examples rebuilt under each setting (so a demo shows the evidence in the format being tried),
and the best is kept (ties: the first in grid order). It follows DSPy's ``Teleprompter.compile`` contract.
"""

from __future__ import annotations

import itertools
import random

from dspy.teleprompt import Teleprompter

from ..elicitation.respondent import active_survey
from ..errors import CulturalignError
from ..programs.demos import training_examples


class RetrievalSearch(Teleprompter):
    def __init__(self, metric, grid: dict | None = None, labeled_demos: int = 0, seed: int = 0):
        self.metric, self.labeled_demos, self.seed = metric, labeled_demos, seed
        self.grid = dict(grid or {"evidence": ["typical", "distribution"]})
        for key, values in self.grid.items():
            if not isinstance(values, list) or not values:
                raise CulturalignError(f"RetrievalSearch grid: {key!r} must be a non-empty list of values")
        self.search: list[dict] = []

    def _candidate(self, student, settings: dict, trainset):
        program = student.deepcopy()
        program.set_retrieval(**settings)
        if self.labeled_demos:
            labelled = [
                e
                for e in training_examples([e.country for e in trainset], active_survey(), program.labelled_example)
                if e.get("answer")
            ]
            chosen = random.Random(self.seed).sample(labelled, min(self.labeled_demos, len(labelled)))
            program.respond.demos = chosen
        return program

    def compile(self, student, *, trainset, valset=None):
        if not callable(getattr(student, "set_retrieval", None)):
            raise CulturalignError(
                f"RetrievalSearch tunes retrieval; program {getattr(student, 'name', '?')!r} "
                "retrieves nothing (use respondent_knn)"
            )
        examples = valset or trainset
        best, best_score = None, float("-inf")
        for values in itertools.product(*self.grid.values()):
            settings = dict(zip(self.grid, values))
            program = self._candidate(student, settings, trainset)
            scores = [float(self.metric(e, program(**e.inputs()))) for e in examples]
            mean = sum(scores) / len(scores)
            self.search.append({**settings, "score": mean})
            if mean > best_score:
                best, best_score = program, mean
        best.search_record = list(self.search)
        return best
