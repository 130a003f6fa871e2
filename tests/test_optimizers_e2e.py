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

    from culturalign.errors import CulturalignError

    preset = tmp_path / f"tiny-{kind}.yaml"
    preset.write_text(TINY[kind])
    for seed in (0, 1):
        try:
            out, manifest = run_compile(
                "respondent",
                str(preset),
                out=tmp_path / "prog",
                countries=SPLIT,
                session=session,
                score_splits=("val",),
                seed=seed,
            )
            break
        except CulturalignError as exc:
            # the 0.5B prompt model, sampled at temperature 1, now and then leaves out one of the fields an
            # optimizer asks for (seen with COPRO): a clear error that says so; one more seed, then it fails
            if seed == 1 or "did not write the fields" not in str(exc):
                raise
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


def test_a_prompt_model_that_leaves_out_a_field_is_a_clear_error():
    """DSPy's AdapterParseError from an optimizer's own proposals becomes one CulturalignError that names the
    fields asked for, what the model wrote and what to do."""
    import dspy
    from dspy.utils.exceptions import AdapterParseError

    from culturalign.errors import CulturalignError
    from culturalign.optimization.compile import run_optimizer
    from culturalign.optimization.presets import Preset

    class Proposal(dspy.Signature):
        """Propose an instruction."""

        basic_instruction: str = dspy.InputField()
        proposed_instruction: str = dspy.OutputField()
        proposed_prefix_for_output_field: str = dspy.OutputField()

    class Failing:
        def compile(self, student, trainset, **kwargs):
            raise AdapterParseError("ChatAdapter", Proposal, "[[ ## proposed_instruction ## ]] Answer.")

    preset = Preset(name="t", optimizer="COPRO", seed=0, description="", prompt_model=None, settings={}, compile={})
    with pytest.raises(CulturalignError) as found:
        run_optimizer(Failing(), preset, None, [], [], {})
    message = str(found.value)
    assert "COPRO: the prompt model did not write the fields" in message
    assert "proposed_instruction, proposed_prefix_for_output_field" in message and "--prompt-model" in message
