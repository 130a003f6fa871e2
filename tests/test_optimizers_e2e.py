"""Every optimizer kind compiles the respondent with the real embedded default model, on a CI-sized budget.

Budgets are tiny (two training countries, one validation country, one or two candidates), so these test
that each optimizer drives culturalign's programs, metric and prompt model end to end — not that it helps;
whether compilation helps is measured by the committed full compile (see programs/README.md).
"""

import json

import pytest

from culturalign.models.cache import AnswerCache

pytestmark = [pytest.mark.model, pytest.mark.timeout(3000)]

TINY = {
    "mipro": """optimizer: MIPROv2
settings: {auto: null, num_candidates: 2, max_bootstrapped_demos: 1, max_labeled_demos: 1, num_threads: 1,
           metric_threshold: 0.0}
compile: {num_trials: 2, minibatch: false, data_aware_proposer: false}
""",
    "copro": """optimizer: COPRO
settings: {breadth: 2, depth: 1, init_temperature: 1.0}
compile: {eval_kwargs: {num_threads: 1, display_progress: false}}
""",
    "simba": """optimizer: SIMBA
settings: {bsize: 2, num_candidates: 2, max_steps: 1, max_demos: 1, num_threads: 1}
""",
    "gepa": """optimizer: GEPA
settings: {max_metric_calls: 6, reflection_minibatch_size: 1, num_threads: 1}
""",
}
SPLIT = {"train": ["Nigeria", "Andorra"], "val": ["Japan"], "test": []}


@pytest.fixture(scope="module")
def session(cache_root, tmp_path_factory):
    from culturalign.models.session import ModelSession

    s = ModelSession(cache=AnswerCache(tmp_path_factory.mktemp("optimizers") / "answers.sqlite"))
    yield s
    s.close()


@pytest.mark.parametrize("kind", sorted(TINY))
def test_each_optimizer_kind_compiles_saves_and_reloads(kind, session, tmp_path):
    from culturalign.optimization.compile import run_compile
    from culturalign.programs.programs import program_answers
    from culturalign.optimization.saved import load_program
    from culturalign.instrument.survey import load_survey

    preset = tmp_path / f"tiny-{kind}.yaml"
    preset.write_text(TINY[kind])
    out, manifest = run_compile(
        "respondent", str(preset), out=tmp_path / "prog", countries=SPLIT, session=session, score_splits=("val",)
    )
    saved = json.loads((out / "manifest.json").read_text())
    assert saved["optimizer"]["optimizer"] == manifest["optimizer"]["optimizer"]
    # the optimizer's own model (instruction proposals, reflections) was really called. SIMBA asks it only
    # where sampled trajectories differ, and a logprob respondent reads the same answers at any temperature
    # (measured: zero calls), so for SIMBA the count is only recorded.
    assert saved["usage"]["lm_calls"] > 0 or kind == "simba"
    assert 0 < saved["scores"]["val"]["mean_distance"] < 10

    program, _ = load_program(out, load_survey())
    again = program_answers(session, program, ["Japan"], load_survey())["points"]
    assert again.distance.iloc[0] == pytest.approx(saved["scores"]["val"]["mean_distance"], abs=1e-9)
