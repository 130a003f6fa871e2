"""The wvs7 survey and its societies' answer shares: option order from the questionnaire, every catalogued defect of
the extraction handled or its rows left out (surveys/reference/wvs7_results_exclusions.csv), societies named as on
the map. The raw percentages below are the WVSA's published figures (Results By Country v6.0.0), copied here so that
the renormalisation is checked independently of the build script."""

import pandas as pd
import pytest

from culturalign.errors import CulturalignError, SurveyError
from culturalign.instrument.populations import countries_with_data, resolve_targets, target_distributions
from culturalign.instrument.question_splits import question_splits, stratified_questions
from culturalign.instrument.survey import load_survey
from culturalign.map import reference

WVS7 = load_survey("wvs7")
EXCLUDED = reference.read_data("wvs7_results_exclusions.csv")


def _dist(question, country):
    t = target_distributions(WVS7)
    sub = t[(t.question == question) & (t.country == country)].sort_values("option")
    return sub.share.to_numpy()


@pytest.mark.parametrize(
    "question, country, substantive",
    [
        # Q46 happiness: labels garbled ("No", "No"), the 4 options are the first 4 slots; 1.4 and 0.4 are missing codes
        ("Q46", "Argentina", [31.9, 53.8, 11.2, 1.3]),
        # Q241: slot 1 is the spontaneous "against democracy", scale points 1-10 are slots 2-11
        ("Q241", "Andorra", [9.4, 2.9, 2.1, 3.4, 10.2, 8.6, 9.4, 15.4, 11, 26.9]),
        # Q48: the row runs from 10 ("a great deal") down to 1
        ("Q48", "Mexico", [1.4, 1.1, 1.6, 1.4, 7.4, 7.1, 10, 17.7, 11.3, 40.9]),
    ],
)
def test_a_society_distribution_is_the_published_percentages_renormalised(question, country, substantive):
    expected = [v / sum(substantive) for v in substantive]
    assert _dist(question, country) == pytest.approx(expected, abs=2e-6)


def test_the_dropped_share_is_kept():
    rows = reference.read_data("wvs7_results_distributions.csv")
    ar = rows[(rows.question == "Q46") & (rows.iso2 == "AR")]
    assert ar.dropped_share.iloc[0] == pytest.approx(1 - 98.2 / 100.0, abs=1e-4)


def test_survey_covers_every_theme_with_at_least_150_questions():
    assert len(WVS7.items) >= 150
    assert len(WVS7.themes) == 18
    assert WVS7.map is None  # scored by its distributions only
    assert len(countries_with_data(WVS7)) == 67


def test_options_follow_the_questionnaire_not_the_garbled_labels():
    assert dict(WVS7.item("Q46").options) == {
        1: "Very happy",
        2: "Quite happy",
        3: "Not very happy",
        4: "Not at all happy",
    }
    assert WVS7.item("Q8").options[1] == "Mentioned"  # labelled "Not mentioned" in the extraction (PROVENANCE 5d)
    assert list(WVS7.item("Q27").options.values())[2:] == ["Disagree", "Disagree strongly"]  # 5d: swapped labels
    assert WVS7.item("Q241").range == (1, 10)
    assert WVS7.item("Q152").type == "choice" and not WVS7.item("Q152").ordinal  # nominal: no EMD


def test_every_question_not_in_the_survey_is_excluded_with_a_reason():
    whole = EXCLUDED[EXCLUDED.iso2 == "*"]
    assert whole.reason.str.len().min() > 10
    for question in ("Q262", "Q270", "Q274"):  # slots hold means and SDs, not percentages
        assert question in set(whole.question)
    asked = set(WVS7.codes)
    assert not asked & set(whole.question)
    assert len(asked) + len(whole) == 307  # every published question: in the survey or listed with its reason


@pytest.mark.parametrize(
    "defect, rows",
    [
        (
            "identical_rows",
            {
                ("Q177", "FR"),
                ("Q182", "FR"),
                ("Q184", "FR"),
                ("Q195", "FR"),
                ("Q228", "ET"),
                ("Q229", "ET"),
                ("Q19", "KE"),
                ("Q21", "KE"),
                ("Q72", "MM"),
                ("Q77", "MM"),
            },
        ),  # 5e
        ("empty_first", {("Q33", "AR"), ("Q33", "BR"), ("Q33", "NG"), ("Q36", "AR"), ("Q41", "BR")}),  # 5g
        ("isolated", {("Q254", "AD"), ("Q182", "IQ"), ("Q146", "MV"), ("Q104", "ID"), ("Q48", "FR")}),  # 5i
        ("single_value", {("Q105", "LB")}),  # 5h
    ],
)
def test_each_known_defect_is_excluded_with_its_reason(defect, rows):
    listed = EXCLUDED[EXCLUDED.defect == defect]
    assert rows <= set(zip(listed.question, listed.iso2))
    targets = target_distributions(WVS7)
    names = reference.countries().set_index("iso2").country
    for question, iso2 in rows:
        assert targets[(targets.question == question) & (targets.country == names[iso2])].empty


def test_societies_resolve_to_map_names_and_off_map_ones_stay_valid():
    assert resolve_targets(WVS7, "RU,Northern Ireland,EG") == ["Russia", "North Ireland", "Egypt"]
    assert "Egypt" not in set(reference.countries().country)  # off the map, still a target
    with pytest.raises(CulturalignError, match="no published answer shares"):
        resolve_targets(WVS7, "Sweden")  # on the map, but not in WVS-7's results
    with pytest.raises(CulturalignError, match="Did you mean"):
        resolve_targets(WVS7, "Nigerai")


def test_ivs_items_have_wvs7_distributions_too():
    ivs = load_survey("ivs-iw10")
    t = target_distributions(ivs)
    assert {"Q164", "Q8", "Q14", "Q15", "Q17", "Q184", "Q254", "Q45", "Q154", "Q46", "Q182", "Q209", "Q57"} == set(
        t.question
    )
    assert t.groupby(["question", "country"]).share.sum().to_numpy() == pytest.approx(1.0)
    assert t.country.nunique() >= 50


def test_questions_select_by_id_or_theme_and_refuse_unknowns():
    assert load_survey("wvs7").select("Q1,happiness").codes[0] == "Q1"
    assert {i.theme for i in WVS7.select("happiness").items} == {"happiness"}
    with pytest.raises(SurveyError, match="neither a question"):
        WVS7.select("Q9999")
    with pytest.raises(SurveyError, match="needs"):
        load_survey("ivs-iw10").select("F063")  # the map needs every one of its items


def test_question_split_is_seeded_and_theme_stratified():
    a, b = question_splits(WVS7, seed=0), question_splits(WVS7, seed=0)
    pd.testing.assert_frame_equal(a, b)
    assert not a.equals(question_splits(WVS7, seed=1))
    held = a[a.split == "test"]
    assert set(held.theme) == set(WVS7.themes)  # every theme has held-out questions
    assert 0.2 < len(held) / len(a) < 0.4
    chosen = stratified_questions(WVS7, 4)
    assert chosen == stratified_questions(WVS7, 4) and len(chosen) == 72


def test_societies_present_for_few_questions_and_garbled_titles():
    t = target_distributions(WVS7)
    per_society = t.groupby("country").question.nunique()
    assert per_society["Uzbekistan"] <= 2 and per_society["United States"] <= 4  # PROVENANCE 5f: extraction gaps
    assert per_society["Japan"] > 250
    # 5j: titles run together with option text; those items are named from their question instead
    assert "spontan" not in WVS7.item("Q241").name and "democrac y" not in WVS7.item("Q241").name
    assert WVS7.item("Q240").name != "Q240"


def test_a_program_never_silently_scores_on_another_survey():
    from culturalign.optimization.saved import load_manifest, survey_for

    manifest = load_manifest("programs/respondent_knn-bootstrap-steer-contrastive-qwen2.5-coder-0.5b")
    survey, other = survey_for(manifest, "prog")
    assert survey.name == "ivs-iw10" and not other  # the survey it was compiled on, by digest
    edited = {**manifest, "data_hashes": {**manifest["data_hashes"], "survey": "0" * 64}}
    with pytest.raises(CulturalignError, match="another version of survey 'ivs-iw10'"):
        survey_for(edited, "prog")  # the shipped survey changed since: refused, not used quietly
    with pytest.raises(CulturalignError, match="pass its file with --survey"):
        survey_for({**manifest, "survey": "my-own"}, "prog")  # a manifest never picks a file to read
    chosen, other = survey_for(manifest, "prog", "wvs7")
    assert chosen.name == "wvs7" and other  # only when asked, and flagged


def test_surveys_lists_the_questions_a_user_can_select(capsys):
    import json

    from culturalign.cli import main

    main(["surveys", "wvs7", "--questions", "--json"])
    rows = json.loads(capsys.readouterr().out)
    assert len(rows) == len(WVS7.items) and rows[0]["code"] == "Q1" and rows[0]["theme"] == "important-in-life"
    assert {r["societies"] for r in rows} <= set(range(1, 68))
    main(["surveys", "wvs7", "--json"])  # a shipped name given again is listed once
    assert [r["name"] for r in json.loads(capsys.readouterr().out)] == ["ivs-iw10", "wvs7"]
