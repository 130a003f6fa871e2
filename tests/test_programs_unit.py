"""DSPy respondent programs with a scripted model (fast). The real-model compile is tested separately."""

import dspy
import pytest

from culturalign.elicitation.respondent import using_session
from culturalign.errors import CulturalignError
from culturalign.instrument.survey import load_survey
from culturalign.models.cache import AnswerCache
from culturalign.optimization import OBJECTIVES
from culturalign.optimization.metrics import METRIC_THRESHOLD
from culturalign.optimization.objectives import make_objective
from culturalign.programs import PROGRAMS
from culturalign.programs.programs import ANSWER_MARKER, ProgramContext, make_program, program_answers, register_program

from fakes import FakeSession

SURVEY = load_survey()


def test_registry_finds_programs_and_rejects_unknown_names():
    assert make_program("respondent").name == "respondent"
    assert make_program("engineered").name == "engineered"
    with pytest.raises(CulturalignError, match="unknown program 'respondant'"):
        make_program("respondant")
    register_program("mine", lambda: make_program("no_persona"))
    try:
        assert make_program("mine").name == "no_persona"
        with pytest.raises(CulturalignError, match="a program named 'mine' is already registered"):
            register_program("mine", lambda: make_program("engineered"))  # one rule: refused unless asked
        register_program("mine", lambda: make_program("engineered"), replace=True)
        assert make_program("mine").name == "engineered"
    finally:
        PROGRAMS.unregister("mine")


def test_respondent_prompt_is_dspy_formatted_with_answer_prefill():
    program = make_program("respondent")
    program.respond.demos = [{"country": "Japan", "question": "Happy? 1. Very 2. Rather", "answer": "2"}]
    (ctx,) = program.contexts("Sweden")
    assert isinstance(ctx, ProgramContext) and ctx.demos == (
        (("country", "Japan"), ("question", "Happy? 1. Very 2. Rather"), ("answer", "2")),
    )
    prompt = ctx.prompt(SURVEY.item("A165").questions()[0], "1")
    assert prompt.prefill == ANSWER_MARKER + "1"
    assert "Sweden" in prompt.turns[-1][1] and "Japan" in prompt.turns[0][1]
    assert program.respond.signature.instructions in prompt.system
    # an optimizer's new instructions change the prompt (and hence the cache key)
    program.respond.signature = program.respond.signature.with_instructions("Speak for {country}'s people.")
    assert program.contexts("Sweden")[0] != ctx


def test_program_answers_share_country_free_contexts(tmp_path):
    session = FakeSession(AnswerCache(tmp_path / "c.sqlite"))
    out = program_answers(session, make_program("no_persona"), ["Chile", "Japan"], SURVEY)
    assert session.calls == 10 * 20  # ten descriptors, asked once for both countries
    assert out["points"].x.nunique() == 1 and len(out["points"]) == 2


def test_forward_and_metrics_inside_a_session(tmp_path):
    program = make_program("respondent")
    session = FakeSession(AnswerCache(tmp_path / "d.sqlite"))
    with pytest.raises(CulturalignError, match="no active model session"):
        program(country="Chile")
    with using_session(session, SURVEY):
        pred = program(country="Chile")
        with dspy.context(trace=[]):
            program(country="Peru")
            trace = dspy.settings.trace
    assert set(pred.item_values) == set(SURVEY.codes)
    assert len(trace) == 1 and trace[0][1]["country"] == "Peru"  # one demo candidate per country
    example = dspy.Example(country="Chile").with_inputs("country")
    objective = make_objective("distance")
    with pytest.raises(CulturalignError, match="no active model session"):  # scored on the run's own survey
        objective.metric(example, pred)
    with using_session(session, SURVEY):  # as a compile calls it
        score = objective.metric(example, pred)
        assert objective.metric(example, pred, trace=[]) == score  # thresholding is the optimizer's job
        fb = objective.feedback(example, pred)
    assert 0 < score <= 1
    assert 0 < METRIC_THRESHOLD < 1
    assert fb.score == pytest.approx(score) and "Chile" in fb.feedback
    assert set(fb.objective_scores) == set(OBJECTIVES) and all(0 < v <= 1 for v in fb.objective_scores.values())


def test_compile_control_flow_with_bootstrap(tmp_path):
    """Control flow only: the real-model compile is the test of the feature (issue 4, not yet done)."""
    from culturalign.optimization.compile import compile_program
    from culturalign.optimization.presets import load_preset
    from fakes import fake_model_session

    preset_file = tmp_path / "boot.yaml"
    preset_file.write_text(
        "optimizer: BootstrapFewShot\nsettings: {max_bootstrapped_demos: 3, max_labeled_demos: 0,"
        " metric_threshold: 0.0}\n"
    )
    session = fake_model_session(AnswerCache(tmp_path / "e.sqlite"))
    compiled, record = compile_program(
        make_program("respondent"),
        load_preset(str(preset_file)),
        session,
        SURVEY,
        train=["Chile", "Peru"],
        val=["Japan"],
    )
    # DSPy keeps one trace per predictor and example: one demo per training country
    assert len(compiled.respond.demos) == 2 and {"country", "question", "answer"} <= set(compiled.respond.demos[0])
    assert {d["country"] for d in compiled.respond.demos} == {"Chile", "Peru"}
    assert record["optimizer"] == "BootstrapFewShot" and record["model_calls"] == session.calls > 0
    assert record["train"] == ["Chile", "Peru"]


def test_save_reload_evaluate_roundtrip_and_bad_files(tmp_path):
    """Control flow of compile -> save -> reload -> evaluate, with the scripted model."""
    import json

    from culturalign.map import reference
    from culturalign.optimization.compile import run_compile
    from culturalign.runs.evaluate import evaluate_saved, evaluate_seeds
    from culturalign.optimization.saved import load_program
    from fakes import fake_model_session

    preset_file = tmp_path / "boot.yaml"
    preset_file.write_text(
        "optimizer: BootstrapFewShot\nsettings: {max_bootstrapped_demos: 2, max_labeled_demos: 0,"
        " metric_threshold: 0.01}\n"
    )
    session = fake_model_session(AnswerCache(tmp_path / "f.sqlite"))
    split = {"train": ["Chile", "Peru"], "val": ["Japan"], "test": ["Kenya", "Spain", "Canada"]}
    out, manifest = run_compile("respondent", str(preset_file), out=tmp_path / "prog", countries=split, session=session)
    assert json.loads((out / "program.json").read_text())  # DSPy JSON, no pickle
    saved = json.loads((out / "manifest.json").read_text())
    assert saved["split"]["test"] == split["test"] and saved["scores"]["test"]["countries"] == 3
    assert {"survey", "reference"} <= set(saved["data_hashes"]) and saved["versions"]["dspy"]
    program, _ = load_program(out, SURVEY)
    assert len(program.respond.demos) == 2

    # stability across seeds: seed 1 is compiled by the saved recipe and kept under seeds/; a second run
    # reuses it without a new compile
    table, summary = evaluate_seeds(out, 2, split="val", session=session)
    assert list(table.seed) == [0, 1] and (out / "seeds" / "seed-1" / "manifest.json").is_file()
    assert json.loads((out / "seeds" / "seed-1" / "manifest.json").read_text())["optimizer"] == saved["optimizer"]
    assert summary["seed_spread"]["mean_distance_min"] <= summary["seed_spread"]["mean_distance_max"]
    stamp = (out / "seeds" / "seed-1" / "program.json").stat().st_mtime_ns
    evaluate_seeds(out, 2, split="val", session=session)
    assert (out / "seeds" / "seed-1" / "program.json").stat().st_mtime_ns == stamp
    with pytest.raises(CulturalignError, match="at least 1"):
        evaluate_seeds(out, 0, session=session)

    assert "skill_mean" in summary["seed_spread"] and "skill" in table

    result = evaluate_saved(out, split="test", session=session, shuffled_control=True)
    assert set(result.summary) >= {
        "program",
        "split",
        "countries",
        "compiled",
        "engineered",
        "no_persona",
        "centroid",
        "region_centroid",
        "neighbours",
        "improved_share_vs_engineered",
    }
    assert set(result.distances.condition) == {
        "compiled",
        "engineered",
        "no_persona",
        "centroid",
        "region_centroid",
        "neighbours",
        "compiled:shuffled",
        "engineered:shuffled",
    }
    # the reference predictors know the training countries only; the centroid's skill is 0 by definition
    s = result.summary
    assert s["centroid"]["skill"] == 0 and {"skill", "skill_ci95", "skill_x", "skill_y", "closer_than_centroid"} <= set(
        s["compiled"]
    )
    centroid = result.distances.query("condition == 'centroid'")
    assert centroid.x.iloc[0] == pytest.approx(reference.countries().set_index("country").loc[split["train"]].x.mean())
    # no persona ignores the country: its shuffled control would be itself, so only country conditions get one
    assert "shuffled_control" in s["engineered"] and "shuffled_control" not in s["no_persona"]
    # the scripted model ignores the prompt: asked about other countries it answers the same, so no information
    assert s["engineered"]["shuffled_control"]["gap"] == 0
    assert not s["compiled"]["shuffled_control"]["carries_country_information"]
    assert "compiled:shuffled" not in s

    # a hand-edited program file and a changed data hash are refused with clear messages
    (out / "program.json").write_text("{broken")
    with pytest.raises(CulturalignError, match="program.json is not valid JSON"):
        load_program(out, SURVEY)
    saved["data_hashes"]["survey"] = "0" * 64
    (out / "manifest.json").write_text(json.dumps(saved))
    with pytest.raises(CulturalignError, match="compiled against other data \\(survey differ"):
        load_program(out, SURVEY)
    with pytest.raises(CulturalignError, match="fixed baseline"):
        run_compile("engineered", str(preset_file), session=session)


def test_labelled_demos_come_from_wave7_data_of_training_countries():
    from culturalign.map import reference
    from culturalign.programs.demos import labelled_demo, training_examples

    nigeria = labelled_demo("Nigeria", SURVEY)
    # Nigeria's most distinctive WVS-7 answer: religious faith is a quality most parents mention
    assert "Religious faith" in nigeria["question"].splitlines()[-4] and nigeria["answer"] == "1"
    assert labelled_demo("Sweden", SURVEY) is None  # not in WVS wave 7: no label, no invented one
    # a scale answer is the option nearest the country's mean
    andorra = labelled_demo("Andorra", SURVEY)
    dist = reference.wvs7_distributions()
    sub = dist[(dist.iso2 == "AD") & (dist.question == "Q182")]
    assert "Homosexuality" in andorra["question"]
    assert int(andorra["answer"]) == round((sub.option * sub.share).sum() / sub.share.sum())

    examples = training_examples(["Nigeria", "Sweden"], SURVEY)
    assert [e.inputs().toDict() for e in examples] == [{"country": "Nigeria"}, {"country": "Sweden"}]
    assert examples[0].answer == "1" and "answer" not in examples[1]

    # the respondent shows labelled examples as demos and drops unlabelled ones, as DSPy's adapters do
    program = make_program("respondent")
    program.respond.demos = examples
    (ctx,) = program.contexts("Chile")
    assert ctx.demos == ((("country", "Nigeria"), ("question", nigeria["question"]), ("answer", "1")),)
    prompt = ctx.prompt(SURVEY.items[0].questions()[0])
    assert "Nigeria" in prompt.turns[0][1] and "Sweden" not in str(prompt)


def _at_once(work, timeout: float) -> None:
    """``work(0, ready)`` and ``work(1, ready)`` in two threads; ``ready()`` returns once both have called it.
    Fails on what either raised."""
    import threading

    errors, barrier = [], threading.Barrier(2)

    def run(i):
        try:
            work(i, barrier.wait)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout)
    assert errors == []


def test_two_runs_in_two_threads_each_answer_through_their_own_session(tmp_path):
    """The model session travels in DSPy's thread-local context: two compiles in two threads (as compare runs
    models with parallel > 1), each fanning out to DSPy's own worker threads, never borrow each other's."""
    from culturalign.elicitation.respondent import active_session
    from dspy.utils.parallelizer import ParallelExecutor

    sessions = [FakeSession(AnswerCache(tmp_path / f"{i}.sqlite")) for i in range(2)]
    seen = {0: set(), 1: set()}

    def run(i, ready):
        with using_session(sessions[i], SURVEY):
            ready()  # both sessions are active at once
            program = make_program("respondent")

            def answer(country):
                seen[i].add(id(active_session()[0]))
                return program(country=country)

            ParallelExecutor(num_threads=3, disable_progress_bar=True).execute(
                answer, ["Chile", "Peru", "Japan", "Kenya"]
            )

    _at_once(run, 60)
    assert seen == {0: {id(sessions[0])}, 1: {id(sessions[1])}}
    assert sessions[0].calls == sessions[1].calls > 0  # each answered its own four countries
    with pytest.raises(CulturalignError, match="no active model session"):
        active_session()  # nothing leaks out of the runs


def test_two_compiles_at_once_each_answer_through_their_own_session(tmp_path):
    """Two compiles in two threads against two sessions that answer differently: each compiled program's
    bootstrapped demos carry its own session's answers, and each session answered its own compile."""
    import math

    from culturalign.optimization.compile import compile_program
    from culturalign.models.clients import Reply
    from culturalign.optimization.presets import load_preset
    from fakes import fake_model_session

    preset_file = tmp_path / "boot.yaml"
    preset_file.write_text(
        "optimizer: BootstrapFewShot\nsettings: {max_bootstrapped_demos: 2, max_labeled_demos: 0,"
        " metric_threshold: 0.0}\n"
    )
    preset = load_preset(str(preset_file))
    sessions = [fake_model_session(AnswerCache(tmp_path / f"s{i}.sqlite")) for i in range(2)]
    favourite = {0: "1", 1: "2"}

    def prefers(i):  # session 1 prefers the second option where session 0 prefers the first
        original = sessions[i].top_logprobs

        def top_logprobs(prompt, k=20):
            reply = original(prompt, k)
            if i == 1 and not prompt.prefill[-1:].isdigit():
                return Reply(top=[("2", math.log(0.6)), ("1", math.log(0.4))])
            return reply

        return top_logprobs

    for i in range(2):
        sessions[i].top_logprobs = prefers(i)
    results = {}

    def run(i, ready):
        ready()
        results[i], _ = compile_program(
            make_program("respondent"), preset, sessions[i], SURVEY, train=["Chile", "Peru", "Japan"], val=["Kenya"]
        )

    _at_once(run, 120)
    assert set(results) == {0, 1}
    for i in range(2):
        answers = {d["answer"] for d in results[i].respond.demos}
        assert answers == {favourite[i]}, (i, answers)
        assert sessions[i].calls > 0
