"""Steering: the contrastive objective, the retrieving respondent and the profiling respondent (fast; the
scripted model stands in for control flow only — the real-model compiles are in test_steering_e2e.py)."""

import json
import math

from pathlib import Path

import dspy
import numpy as np
import pandas as pd
import pytest

from culturalign.elicitation.respondent import using_session
from culturalign.errors import CulturalignError
from culturalign.instrument.survey import load_survey
from culturalign.map import reference
from culturalign.map.splits import country_splits
from culturalign.map.yardsticks import reference_predictions
from culturalign.models.cache import AnswerCache
from culturalign.optimization.objectives import DEFAULT_TAU, contrastive_score, identification, make_objective
from culturalign.programs.programs import make_program, program_answers

from fakes import FakeSession, fake_model_session

SURVEY = load_survey()
REF = reference.countries().set_index("country")
SPLIT = country_splits(0)
TRAIN = SPLIT.loc[SPLIT.split == "train", "country"].tolist()
HELD_OUT = SPLIT.loc[SPLIT.split != "train", "country"].tolist()


def _at(country):
    return float(REF.at[country, "x"]), float(REF.at[country, "y"])


# ---------------------------------------------------------------- the contrastive objective


def test_contrastive_ranks_target_over_neighbour_over_centroid():
    """Hand-made points: on the target, a little way off it towards the middle of the map, at the centroid."""
    cx, cy = float(REF.x.mean()), float(REF.y.mean())
    for target in ("Sweden", "Nigeria", "Japan", "Pakistan", "Brazil", "Great Britain"):
        tx, ty = _at(target)
        step = 0.3 / math.hypot(cx - tx, cy - ty)
        near = (tx + step * (cx - tx), ty + step * (cy - ty))  # 0.3 map units off, towards the centroid
        at_target, at_near, at_centroid = (contrastive_score(x, y, target) for x, y in ((tx, ty), near, (cx, cy)))
        assert at_target > at_near > at_centroid, target
    # a point at the centroid is at chance or below; on the target it is many times chance
    assert contrastive_score(cx, cy, "Sweden") < 1 / len(REF) < contrastive_score(*_at("Sweden"), "Sweden") / 10


def test_a_constant_loses_far_from_the_centroid():
    """A point on the target scores far above the (leave-one-out) centroid for every country not next to it:
    at the default width, at least 5 times for each country one map unit or more from the centroid, and a
    median of over 10 times for those half a unit or more away."""
    centroid = reference_predictions(REF.index.tolist())
    centroid = centroid[centroid.condition == "centroid"].set_index("country")
    ratios = {
        c: contrastive_score(*_at(c), c) / contrastive_score(centroid.at[c, "x"], centroid.at[c, "y"], c)
        for c in REF.index
    }
    far = [c for c in REF.index if centroid.at[c, "distance"] >= 1.0]
    assert len(far) > 50 and all(ratios[c] > 5 for c in far)
    assert np.median([ratios[c] for c in REF.index if centroid.at[c, "distance"] >= 0.5]) > 10


def test_contrastive_is_order_invariant_finite_and_a_distribution():
    pool = ["Sweden", "Japan", "Nigeria", "Chile", "Pakistan"]
    a = contrastive_score(0.3, -0.2, "Japan", candidates=pool)
    b = contrastive_score(0.3, -0.2, "Japan", candidates=list(reversed(pool)))
    assert a == b
    for country in REF.index:  # finite even very far from every country (log-space softmax)
        score = contrastive_score(50.0, -50.0, country)
        assert math.isfinite(score) and 0 <= score <= 1
    probs = identification(0.0, 0.0)
    assert sum(probs.values()) == pytest.approx(1) and set(probs) == set(REF.index)
    # the target always counts, even when not among the candidates
    assert contrastive_score(*_at("Japan"), "Japan", candidates=["Sweden", "Chile"]) > 0.5


def test_objective_factory_metric_feedback_and_threshold():
    obj = make_objective("contrastive", candidates=TRAIN)
    assert obj.tau == DEFAULT_TAU and obj.candidates == tuple(sorted(TRAIN))
    assert obj.threshold(0.1) == pytest.approx(2 / len(TRAIN))  # the distance threshold does not carry over
    assert make_objective("distance").threshold(0.1) == 0.1
    with pytest.raises(CulturalignError, match="unknown objective"):
        make_objective("closeness")
    for bad in (0, -1, float("nan"), float("inf"), True, "wide"):
        with pytest.raises(CulturalignError, match="tau"):
            make_objective("contrastive", tau=bad)

    values = {c: 5.0 for c in SURVEY.codes}
    example = dspy.Example(country="Chile").with_inputs("country")
    pred = dspy.Prediction(item_values=values)
    with using_session(None, SURVEY):  # a compile's metric scores on the run's own survey
        score = obj.metric(example, pred)
        fb = obj.feedback(example, pred)
    assert 0 < score < 1 and fb.score == pytest.approx(score)
    assert set(fb.objective_scores) == {"distance", "contrastive"}
    assert fb.objective_scores["contrastive"] == pytest.approx(score)
    assert "identify Chile with probability" in fb.feedback and "They read as the answers of" in fb.feedback
    assert "Too far toward" in fb.feedback  # the direction and items that would move it


# ---------------------------------------------------------------- retrieval (respondent_knn)


@pytest.fixture
def in_a_run():
    """Programs retrieve inside a run, which names the survey (nothing falls back to a default one)."""
    with using_session(None, SURVEY):
        yield


def test_retrieval_never_returns_the_target_or_a_held_out_country(in_a_run):
    program = make_program("respondent_knn").fit_countries(TRAIN)
    for country in REF.index:
        neighbours = program.neighbours(country)
        assert neighbours and country not in neighbours
        assert not set(neighbours) & set(HELD_OUT), (country, neighbours)
        assert neighbours == program.neighbours(country)  # the same inputs, the same neighbours
    # retrieval does not depend on the order the training countries come in
    again = make_program("respondent_knn").fit_countries(list(reversed(TRAIN)))
    assert all(again.neighbours(c) == program.neighbours(c) for c in HELD_OUT)


SHARES = pd.read_csv(Path(__file__).parents[1] / "surveys" / "reference" / "wvs7_distributions.csv")


def _by_hand_neighbours(target, pool, k=3):
    """Region anchor (mean point of the pool's countries of the target's region, target left out), then the k
    nearest pool countries that WVS-7 surveyed: computed here without the package's retrieval code."""
    others = REF.loc[sorted(set(pool) - {target})]
    same = others[others.region == REF.at[target, "region"]]
    anchor = (same if len(same) else others)[["x", "y"]].mean().to_numpy()
    surveyed = others[others.iso2.isin(set(SHARES.iso2))]
    d = np.hypot(surveyed.x - anchor[0], surveyed.y - anchor[1])
    return list(d.sort_values(kind="stable").index[:k])


def _by_hand_shares(country, wvs7_question, codes):
    rows = SHARES[
        (SHARES.iso2 == REF.at[country, "iso2"]) & (SHARES.question == wvs7_question) & SHARES.option.isin(codes)
    ]
    return {int(o): s / rows.share.sum() for o, s in zip(rows.option, rows.share)}


def test_evidence_is_the_neighbours_answers_to_the_asked_question(in_a_run):
    from culturalign.programs.programs import question_key

    program = make_program("respondent_knn").fit_countries(TRAIN)
    for target in ("Sweden", "Nigeria", "Argentina"):
        expected = _by_hand_neighbours(target, TRAIN)
        assert program.neighbours(target) == expected
        for fmt in ("typical", "distribution", "consensus"):
            program.set_retrieval(evidence=fmt)
            (ctx,) = program.contexts(target)
            shown = dict(ctx.evidence)
            for item in SURVEY.items:
                for q in item.questions():
                    wvs7 = item.wvs7_question(q.part)
                    if wvs7 is None:  # nothing published to show (a second choice)
                        assert question_key(q) not in shown
                        continue
                    shares = {c: _by_hand_shares(c, wvs7, q.codes) for c in expected}
                    shares = {c: s for c, s in shares.items() if s}
                    if fmt == "typical":

                        def typical(s):
                            if item.ordinal:
                                mean = sum(c * p for c, p in s.items())
                                return min(q.codes, key=lambda c: (abs(c - mean), c))
                            return max(s, key=lambda c: (s[c], -c))

                        want = ", ".join(f"{c} {typical(s)}" for c, s in shares.items())
                    else:
                        pooled = {code: np.mean([s.get(code, 0.0) for s in shares.values()]) for code in q.codes}
                        want = ", ".join(f"{code} = {round(100 * p)}%" for code, p in pooled.items())
                        if fmt == "consensus":  # the one typical answer of the pooled shares
                            if item.ordinal:
                                mean = sum(c * p for c, p in pooled.items()) / sum(pooled.values())
                                want = f": {min(q.codes, key=lambda c: (abs(c - mean), c))}."
                            else:
                                want = f": {max(pooled, key=lambda c: (pooled[c], -c))}."
                    assert want in shown[question_key(q)], (target, item.code, fmt)
                    text = ctx.prompt(q).turns[-1][1]
                    assert shown[question_key(q)] in text and text.index(q.text.split("\n")[0]) < text.index(want)
    # the evidence is the question's own: two questions show different lines
    program.set_retrieval(evidence="typical")
    assert len(set(dict(program.contexts("Sweden")[0].evidence).values())) > 5


def test_per_neighbour_demos_still_show_distinctive_answers(in_a_run):
    program = make_program("respondent_knn").fit_countries(TRAIN).set_retrieval(per_neighbour=2, evidence="none")
    (ctx,) = program.contexts("Sweden")
    demo_countries = {dict(d)["country"] for d in ctx.demos}
    assert demo_countries == set(program.neighbours("Sweden")) and len(ctx.demos) == 3 * 2 and not ctx.evidence
    with pytest.raises(CulturalignError, match="no training countries"):
        make_program("respondent_knn").contexts("Sweden")
    with pytest.raises(CulturalignError, match="evidence must be one of typical, distribution, consensus, none"):
        program.set_retrieval(evidence="everything")


def test_neighbours_yardstick_is_the_mean_of_the_neighbours_points():
    table = reference_predictions(HELD_OUT, known=TRAIN).set_index(["condition", "country"])
    for target in HELD_OUT:
        want = REF.loc[_by_hand_neighbours(target, TRAIN), ["x", "y"]].mean()
        got = table.loc[("neighbours", target)]
        assert got.x == pytest.approx(want.x) and got.y == pytest.approx(want.y), target
        assert got.distance == pytest.approx(math.dist((got.x, got.y), _at(target)))
    # weighted by inverse distance: the nearest neighbour pulls hardest, weights sum to one
    from culturalign.map.neighbours import Retrieval, neighbours, region_anchor

    found = neighbours("Sweden", TRAIN, Retrieval(k=4, weighting="distance"))
    anchor = region_anchor("Sweden", TRAIN)
    d = [math.dist(_at(c), anchor) for c, _ in found]
    assert [w for _, w in found] == pytest.approx(list(np.array([1 / x for x in d]) / sum(1 / x for x in d)))


def test_distributional_neighbours_yardstick_is_the_pooled_evidence(in_a_run):
    from culturalign.distribution.yardsticks import predictions

    program = make_program("respondent_knn").fit_countries(TRAIN).set_retrieval(evidence="distribution")
    got = predictions(SURVEY, ["Sweden"], known=TRAIN, names=("neighbours",))
    f063 = got[got.item == "F063"].set_index("option").p
    pooled = {
        c: np.mean([_by_hand_shares(n, "Q164", range(1, 11)).get(c, 0.0) for n in program.neighbours("Sweden")])
        for c in range(1, 11)
    }
    assert f063.to_dict() == pytest.approx(pooled)
    assert not set(program.neighbours("Sweden")) & set(HELD_OUT)


def test_lean_prompt_is_pinned_and_reads_answers_as_chat_does(tmp_path):
    from culturalign.programs.adapter import LeanAdapter

    program = make_program("respondent_knn").fit_countries(["Chile", "Peru", "Japan", "Nigeria", "Sweden"])
    with using_session(None, SURVEY):
        prompt = program.contexts("Argentina")[0].prompt(SURVEY.item("A165").questions()[0])
    assert prompt.system == program.respond.signature.instructions and prompt.prefill == ""
    assert prompt.turns == (
        (
            "user",
            "Country: Argentina\n"
            "Generally speaking, would you say that most people can be trusted or that you need to be "
            "very careful in dealing with people?\n1. Most people can be trusted\n"
            "2. Need to be very careful\n"
            "Most people answered in culturally similar countries: Peru 2, Chile 2, Nigeria 2.\n"
            "Answer with the number of your choice only.",
        ),
    )
    # the same answers from the same scripted model through either format
    answers = {}
    for fmt in ("lean", "chat"):
        program.prompt_format = fmt
        answers[fmt] = program_answers(
            FakeSession(AnswerCache(tmp_path / f"{fmt}.sqlite")), program, ["Argentina"], SURVEY
        )["answers"]
    assert answers["lean"].equals(answers["chat"])
    # and through DSPy itself, a completion parses to the same answer field as ChatAdapter's
    signature = program.respond.signature
    assert LeanAdapter().parse(signature, " 2\n") == dspy.ChatAdapter().parse(
        signature, "[[ ## answer ## ]]\n2\n\n[[ ## completed ## ]]"
    )


def test_knn_program_saves_its_pool_and_reloads_it(tmp_path):
    from culturalign.optimization.compile import run_compile
    from culturalign.optimization.saved import load_program

    preset = tmp_path / "labeled.yaml"
    preset.write_text("optimizer: LabeledFewShot\nsettings: {k: 2}\n")
    session = fake_model_session(AnswerCache(tmp_path / "k.sqlite"))
    split = {"train": ["Chile", "Peru", "Japan", "Nigeria"], "val": ["Mexico"], "test": ["Argentina", "Sweden"]}
    out, manifest = run_compile(
        "respondent_knn",
        str(preset),
        out=tmp_path / "knn",
        countries=split,
        session=session,
        objective="contrastive",
        tau=0.75,
    )
    state = json.loads((out / "program.json").read_text())
    assert state["retrieval"]["pool"] == sorted(split["train"])
    assert manifest["objective"] == "contrastive" and manifest["metric"]["tau"] == 0.75
    assert manifest["metric"]["candidates"] == 5  # training and validation countries, never a test country
    program, _ = load_program(out, SURVEY)
    assert program.pool == tuple(sorted(split["train"]))
    with using_session(None, SURVEY):
        assert set(program.neighbours("Argentina")) <= set(split["train"])


# ---------------------------------------------------------------- the profile respondent


class _ProfileSession(FakeSession):
    """Scripted answers, plus a profile that names the country; counts profile generations."""

    def __init__(self, cache):
        super().__init__(cache)
        self.generations = []

    def generate(self, prompt, *, temperature, max_tokens, seed, stop=()):
        key = repr(("gen", prompt, temperature, max_tokens, seed, tuple(stop)))
        hit = self.cache.get(key)
        if hit:
            from culturalign.models.clients import Reply

            return Reply.from_json(hit)
        country = prompt.turns[-1][1].split("[[ ## country ## ]]\n", 1)[1].split("\n", 1)[0]
        self.generations.append(country)
        from culturalign.models.clients import Reply

        reply = Reply(text=f"[[ ## profile ## ]]\nPeople in {country} value family.\n\n[[ ## completed ## ]]")
        self.cache.put(key, reply.to_json())
        return reply


def test_profile_is_generated_once_per_key_and_read_by_the_answers(tmp_path):
    session = _ProfileSession(AnswerCache(tmp_path / "p.sqlite"))
    program = make_program("respondent_profile")
    program_answers(session, program, ["Chile", "Japan"], SURVEY)
    assert sorted(session.generations) == ["Chile", "Japan"]
    assert program.profiles == {"Chile": "People in Chile value family.", "Japan": "People in Japan value family."}
    with using_session(session, SURVEY):
        (ctx,) = program.contexts("Chile")
    assert dict(ctx.inputs)["profile"] == "People in Chile value family."
    assert "People in Chile value family." in ctx.prompt(SURVEY.item("A165").questions()[0]).turns[-1][1]
    # asked again (a second evaluation, a fresh program): no new generation
    program_answers(session, make_program("respondent_profile"), ["Chile", "Japan"], SURVEY)
    assert sorted(session.generations) == ["Chile", "Japan"]
    # a new instruction for the profile is a new key
    other = make_program("respondent_profile")
    other.describe.signature = other.describe.signature.with_instructions("Describe the culture of the country.")
    program_answers(session, other, ["Chile"], SURVEY)
    assert sorted(session.generations) == ["Chile", "Chile", "Japan"]


def test_profile_program_records_both_predictors_for_bootstrapping(tmp_path):
    session = _ProfileSession(AnswerCache(tmp_path / "q.sqlite"))
    program = make_program("respondent_profile")
    with using_session(session, SURVEY), dspy.context(trace=[]):
        program(country="Peru")
        trace = dspy.settings.trace
    assert [t[0] for t in trace] == [program.respond, program.describe]
    assert trace[0][1]["profile"] == "People in Peru value family." and trace[1][2].profile == trace[0][1]["profile"]


def test_clean_profile_takes_the_text_after_the_marker():
    from culturalign.programs.profile_respondent import clean_profile

    assert (
        clean_profile("[[ ## profile ## ]]\nMost people pray.\n  They trust family.\n\n[[ ## completed ## ]]")
        == "Most people pray. They trust family."
    )
    assert clean_profile("Most people pray.\nQuestion: what next?") == "Most people pray."
    assert clean_profile("[[ ## profile ## ]]\n") == ""


@pytest.mark.parametrize(
    "retrieval, message",
    [
        ({"pool": ["Atlantis"], "k": 3, "per_neighbour": 2}, "unknown country 'Atlantis'"),
        ({"pool": ["Chile"], "k": 0, "per_neighbour": 2}, "k must be a whole number from 1 to 20"),
        ({"pool": "Chile"}, "pool must be a list"),
        ({"pool": ["Chile"], "evidence": "all"}, "evidence must be one of typical, distribution, consensus, none"),
        ({"pool": ["Chile"], "weighting": "cosine"}, "weighting must be one of uniform, distance"),
        ({"pool": ["Chile"], "anchor": "moon"}, "anchor must be one of region, embedding, both"),
        ([], "must be a mapping"),
    ],
)
def test_a_hand_edited_retrieval_state_is_a_clear_error(tmp_path, retrieval, message):
    from culturalign.optimization.saved import check_program_state

    program = make_program("respondent_knn").fit_countries(["Chile", "Peru"])
    path = tmp_path / "program.json"
    program.save(str(path))
    state = json.loads(path.read_text())
    state["retrieval"] = retrieval
    with pytest.raises(CulturalignError, match=f"program.json: retrieval: .*{message}"):
        check_program_state(state, make_program("respondent_knn"), path)


def test_experiment_compile_conditions_take_a_respondent_objective_and_seeds():
    from culturalign.runs.compare import plan
    from culturalign.runs.experiment import parse_experiment

    exp = parse_experiment(
        {
            "name": "s",
            "models": ["qwen2.5-coder-0.5b"],
            "seeds": 1,
            "conditions": [
                "engineered",
                {"compile": "labeled-fewshot"},
                {"compile": "bootstrap-steer", "respondent": "respondent_knn", "objective": "contrastive", "seeds": 3},
                {"compile": "bootstrap-steer", "respondent": "respondent_knn", "tau": 1.0},
                {
                    "compile": "zero-shot",
                    "respondent": "respondent_knn",
                    "retrieval": {"evidence": "distribution", "k": 5},
                    "prompt_format": "chat",
                },
            ],
        }
    )
    names = [c.name for c in exp.conditions]
    assert names == [
        "engineered",
        "compiled:labeled-fewshot",
        "compiled:respondent_knn/bootstrap-steer/contrastive",
        "compiled:respondent_knn/bootstrap-steer/distance-tau1",
        "compiled:respondent_knn/zero-shot/evidence-distribution/k-5/chat",
    ]
    assert json.loads(exp.conditions[-1].settings) == {
        "prompt_format": "chat",
        "retrieval": {"evidence": "distribution", "k": 5},
    }
    cells = [(c.name, s) for _, c, s in plan(exp)]
    assert [s for n, s in cells if n.endswith("/contrastive")] == [0, 1, 2]  # its own seeds
    assert [s for n, s in cells if n == "compiled:labeled-fewshot"] == [0]  # the experiment's
    for bad, message in (
        ({"compile": "bootstrap-steer", "respondent": "recexplain"}, "comparisons run survey"),
        ({"compile": "bootstrap-steer", "objective": "closeness"}, "unknown objective"),
        ({"compile": "bootstrap-steer", "seeds": 0}, "'seeds' must be"),
        ({"compile": "bootstrap-steer", "respondnt": "respondent_knn"}, "did you mean 'respondent'"),
        ({"compile": "zero-shot", "respondent": "respondent_knn", "retrieval": {"k": 0}}, "k must be a whole number"),
        ({"compile": "zero-shot", "respondent": "respondent_knn", "retrieval": "k=5"}, "'retrieval' must be a mapping"),
        ({"compile": "zero-shot", "retrieval": {"k": 5}}, "retrieves nothing"),
        ({"compile": "zero-shot", "prompt_format": "xml"}, "unknown prompt format"),
    ):
        with pytest.raises(CulturalignError, match=message):
            parse_experiment({"name": "s", "models": ["qwen2.5-coder-0.5b"], "conditions": [bad]})


@pytest.mark.parametrize(
    "retrieval, message",
    [
        ("k=0", "k must be a whole number from 1 to 20"),
        ("k=1.5", "k must be a whole number"),
        ("evidence=all", "evidence must be one of typical, distribution, consensus, none"),
        ("weighting=cosine", "weighting must be one of uniform, distance"),
        ("anchor=moon", "anchor must be one of region, embedding, both"),
        ("pool=Japan", "unknown retrieval setting"),
        ("k", "is not KEY=VALUE"),
    ],
)
def test_compile_refuses_bad_retrieval_settings_before_any_model_starts(tmp_path, capsys, retrieval, message):
    from culturalign.cli import main

    for program, setting, expected in (
        ("respondent_knn", retrieval, message),
        ("respondent", "k=5", "retrieves nothing"),
    ):
        with pytest.raises(SystemExit) as exit_:
            main(
                [
                    "compile",
                    "--program",
                    program,
                    "--optimizer",
                    "zero-shot",
                    "--model",
                    "no-such-model",
                    "--retrieval",
                    setting,
                    "--out",
                    str(tmp_path / "p"),
                ]
            )
        assert exit_.value.code == 2 and expected in capsys.readouterr().err
    assert not (tmp_path / "p").exists()


def test_a_retrieving_programs_labelled_examples_show_their_own_evidence(in_a_run):
    from culturalign.optimization.compile import SurveyTask, survey_lists
    from culturalign.optimization.objectives import make_objective
    from culturalign.optimization.presets import load_preset

    program = make_program("respondent_knn").fit_countries(TRAIN)
    example = program.labelled_example("Chile", SURVEY)
    shown = [line for line in example["question"].splitlines() if line.startswith("Most people answered")]
    assert len(shown) == 1 and "Chile" not in shown[0]
    assert all(n in shown[0] for n in program.neighbours("Chile"))
    task = SurveyTask(survey_lists(0), make_objective("distance"), load_preset("bootstrap-steer"))
    task.prepare(program)
    train, _ = task.examples(None, SURVEY, program)
    assert any("Most people answered" in (e.get("question") or "") for e in train)
    plain, _ = task.examples(None, SURVEY)  # a program without a labeller gets the plain labelled demos
    assert not any("Most people answered" in (e.get("question") or "") for e in plain)


def test_retrieval_search_scores_every_setting_and_keeps_the_best(tmp_path):
    from culturalign.optimization.compile import run_compile
    from culturalign.optimization.saved import load_program

    preset = tmp_path / "search.yaml"
    preset.write_text(
        "optimizer: RetrievalSearch\nsettings: {grid: {evidence: [typical, distribution], k: [1, 2]}, "
        "labeled_demos: 2}\n"
    )
    session = fake_model_session(AnswerCache(tmp_path / "s.sqlite"))
    split = {"train": ["Chile", "Peru", "Japan", "Nigeria"], "val": ["Mexico"], "test": ["Argentina"]}
    out, manifest = run_compile(
        "respondent_knn", str(preset), out=tmp_path / "knn", countries=split, session=session, objective="contrastive"
    )
    tried = manifest["retrieval_search"]
    assert [(t["evidence"], t["k"]) for t in tried] == [
        ("typical", 1),
        ("typical", 2),
        ("distribution", 1),
        ("distribution", 2),
    ]
    best = max(tried, key=lambda t: t["score"])  # ties: the first
    chosen = manifest["program_settings"]["retrieval"]
    assert (chosen["evidence"], chosen["k"]) == (best["evidence"], best["k"])
    program, _ = load_program(out, SURVEY)
    assert program.evidence == best["evidence"] and program.k == best["k"] and len(program.respond.demos) == 2
    bad = tmp_path / "bad.yaml"
    bad.write_text("optimizer: RetrievalSearch\nsettings: {grid: {evidence: typical}}\n")
    with pytest.raises(CulturalignError, match="non-empty list"):
        run_compile("respondent_knn", str(bad), out=tmp_path / "b", countries=split, session=session)
    with pytest.raises(CulturalignError, match="retrieves nothing"):
        run_compile("respondent", str(preset), out=tmp_path / "c", countries=split, session=session)
