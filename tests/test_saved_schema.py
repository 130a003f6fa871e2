"""Saved programs are checked against a schema on load (fast, no model): a hand-edited or hostile program.json or
manifest.json is one CulturalignError naming the file, the field and what is allowed; never an AttributeError or
KeyError, never minutes of work on megabytes of instructions or thousands of demos. The checks follow each
program's own predictors, so programs with several predictors and other input fields are covered too."""

import copy
import json
import shutil
from pathlib import Path

import dspy
import pytest

from culturalign.errors import CulturalignError
from culturalign.instrument.survey import load_survey
from culturalign.optimization.saved import MAX_DEMOS, MAX_TEXT, load_manifest, load_program, save_program
from culturalign.programs import PROGRAMS
from culturalign.programs.programs import register_program

ROOT = Path(__file__).resolve().parents[1]
RESPONDENT = ROOT / "programs" / "respondent-mipro-light-qwen2.5-coder-0.5b"
EXPLAINER = ROOT / "programs" / "recexplain-bootstrap-rs-small-qwen2.5-coder-0.5b"
SURVEY = load_survey()
STATE = json.loads((RESPONDENT / "program.json").read_text())
MANIFEST = json.loads((RESPONDENT / "manifest.json").read_text())


def edited(tmp_path, state=None, manifest=None, source=RESPONDENT) -> Path:
    folder = tmp_path / "prog"
    shutil.copytree(source, folder)
    for name, value in (("program.json", state), ("manifest.json", manifest)):
        if value is not None:
            (folder / name).write_text(json.dumps(value))
    return folder


def with_state(change):
    state = copy.deepcopy(STATE)
    change(state)
    return state


def with_manifest(change):
    manifest = copy.deepcopy(MANIFEST)
    change(manifest)
    return manifest


STATE_EDITS = {
    "a list for the state": (lambda s: [s], "program.json: must be a JSON object"),
    "predictor missing": (lambda s: s.pop("respond"), "program.json: missing respond"),
    "unknown predictor": (lambda s: s.update(other={}), "unknown key(s) 'other'; allowed: respond, metadata"),
    "a list for the predictor": (lambda s: s.update(respond=[1]), "program.json: respond: must be a JSON object"),
    "a number for instructions": (
        lambda s: s["respond"]["signature"].update(instructions=5),
        "respond.signature.instructions: must be text, got 5",
    ),
    "megabytes of instructions": (
        lambda s: s["respond"]["signature"].update(instructions="x" * 2_000_000),
        f"respond.signature.instructions: is 2,000,000 characters long; at most {MAX_TEXT:,}",
    ),
    "a field missing": (
        lambda s: s["respond"]["signature"]["fields"].pop(),
        "respond.signature.fields: holds 2 entries; the predictor has 3 fields (country, question, answer)",
    ),
    "a field without a prefix": (
        lambda s: s["respond"]["signature"]["fields"][1].pop("prefix"),
        "respond.signature.fields[1]: missing prefix",
    ),
    "demos as an object": (lambda s: s["respond"].update(demos={"a": 1}), "respond.demos: must be a list"),
    "junk demos": (lambda s: s["respond"].update(demos=[1, "two"]), "respond.demos[0]: must be a JSON object"),
    "a demo answer that is a list": (
        lambda s: s["respond"]["demos"][1].update(answer=[1, 2]),
        "respond.demos[1].answer: must be text (or a number), got [1, 2]",
    ),
    "ten thousand demos": (
        lambda s: s["respond"].update(demos=[{"country": "Chile"}] * 10_000),
        f"respond.demos: holds 10,000 entries; at most {MAX_DEMOS}",
    ),
    "a huge demo value": (
        lambda s: s["respond"]["demos"][1].update(question="q" * 30_000),
        "respond.demos[1].question: is 30,000 characters long",
    ),
    "a huge extra demo value": (
        lambda s: s["respond"]["demos"][1].update(notes=["n" * 100] * 300),
        "respond.demos[1].notes: is",
    ),
    "augmented not a boolean": (
        lambda s: s["respond"]["demos"][0].update(augmented="yes"),
        "respond.demos[0].augmented: must be true or false",
    ),
    "a model of its own": (
        lambda s: s["respond"].update(lm={"model": "openai/gpt-4o"}),
        "respond.lm: must be null: a saved program never chooses its own model",
    ),
    "no metadata": (lambda s: s.pop("metadata"), "program.json: missing metadata"),
    "unknown dependency": (
        lambda s: s["metadata"]["dependency_versions"].update(torch="2"),
        "metadata.dependency_versions: unknown key(s) 'torch'",
    ),
    "signature missing": (lambda s: s["respond"].pop("signature"), "respond: missing signature"),
}


@pytest.mark.parametrize("case", sorted(STATE_EDITS))
def test_a_hand_edited_program_state_is_one_clear_error(tmp_path, case):
    change, message = STATE_EDITS[case]
    state = copy.deepcopy(STATE)
    state = change(state) if case == "a list for the state" else (change(state), state)[1]
    folder = edited(tmp_path, state=state)
    with pytest.raises(CulturalignError) as err:
        load_program(folder, SURVEY)
    assert str(folder / "program.json") in str(err.value) and message in str(err.value), str(err.value)


MANIFEST_EDITS = {
    "program missing": (lambda m: m.pop("program"), "missing program"),
    "unknown program": (
        lambda m: m.update(program="respondant"),
        "program: 'respondant' is not a registered program; registered: ",
    ),
    "a list for the program": (lambda m: m.update(program=["respondent"]), "program: ['respondent'] is not a"),
    "a baseline for the program": (lambda m: m.update(program="engineered"), "is a fixed baseline"),
    "task of another program": (lambda m: m.update(task="recexplain"), "task: 'recexplain' does not match"),
    "split missing": (lambda m: m.pop("split"), "missing split"),
    "a list for the split": (lambda m: m.update(split=["Chile"]), "split: must be a JSON object"),
    "test list missing": (lambda m: m["split"].pop("test"), "split: missing test"),
    "a number for a country": (lambda m: m["split"]["test"].append(7), "split.test[21]: 7 is not a reference"),
    "an unknown country": (lambda m: m["split"]["val"].append("Atlantis"), "split.val[4]: 'Atlantis' is not"),
    "a test country in train": (
        lambda m: m["split"]["test"].append("Chile"),
        "split.test[21]: Chile is also in split.train; the splits never overlap",
    ),
    "an empty training split": (lambda m: m["split"].update(train=[]), "split.train: is empty"),
    "seed as text": (lambda m: m.update(seed="0"), "seed: must be a whole number from 0 to"),
    "seed a boolean": (lambda m: m.update(seed=True), "seed: must be a whole number"),
    "model a string": (lambda m: m.update(model="qwen"), "model: must be a JSON object with name"),
    "model name a number": (lambda m: m["model"].update(name=3), "model.name: must be text, got 3"),
    "optimizer a list": (lambda m: m.update(optimizer=[]), "optimizer: must be a JSON object"),
    "unknown optimizer": (lambda m: m["optimizer"].update(optimizer="Adam"), "optimizer.optimizer: must be one of"),
    "a setting of the wrong type": (
        lambda m: m["optimizer"]["settings"].update(max_labeled_demos="four"),
        "optimizer: settings.max_labeled_demos must be a whole number",
    ),
    "a negative setting": (
        lambda m: m["optimizer"]["settings"].update(max_labeled_demos=-4),
        "optimizer: settings.max_labeled_demos must be a finite number from 0",
    ),
    "data hashes a list": (lambda m: m.update(data_hashes=[]), "data_hashes: must be a JSON object"),
    "reference hashes a list": (
        lambda m: m["data_hashes"].update(reference=[1]),
        "data_hashes.reference: must be a JSON object",
    ),
    "generation with other settings": (
        lambda m: m.update(generation={"api_base": "http://x"}),
        "generation: unknown key(s) 'api_base'; allowed: temperature, max_tokens",
    ),
    "a record of the wrong type": (lambda m: m.update(usage=[1]), "usage: must be a JSON object"),
}


@pytest.mark.parametrize("case", sorted(MANIFEST_EDITS))
def test_a_hand_edited_manifest_is_one_clear_error(tmp_path, case):
    change, message = MANIFEST_EDITS[case]
    folder = edited(tmp_path, manifest=with_manifest(change))
    with pytest.raises(CulturalignError) as err:
        load_program(folder, SURVEY)
    assert str(folder / "manifest.json") in str(err.value) and message in str(err.value), str(err.value)


def test_manifest_nan_is_refused_and_culturalign_never_writes_one(tmp_path):
    folder = edited(tmp_path)
    (folder / "manifest.json").write_text((folder / "manifest.json").read_text().replace("1.9775100695850374", "NaN"))
    with pytest.raises(CulturalignError, match="NaN is not a JSON number"):
        load_manifest(folder)


def test_a_split_without_validation_or_test_countries_loads(tmp_path):
    # compile --val 0 --test 0 is allowed, so its manifest must load (CI once failed on exactly this)
    folder = edited(tmp_path, manifest=with_manifest(lambda m: m["split"].update(val=[], test=[])))
    assert load_program(folder, SURVEY)[1]["split"]["test"] == []


def test_the_committed_programs_pass_their_own_schema():
    for folder in (RESPONDENT, EXPLAINER):
        program, manifest = load_program(folder, SURVEY)
        assert program.named_predictors() and manifest["program"] in ("respondent", "recexplain")


def test_an_explainer_manifest_with_a_broken_task_list_is_one_clear_error(tmp_path):
    manifest = json.loads((EXPLAINER / "manifest.json").read_text())
    manifest["split"]["test"][0] = "Libya"
    folder = edited(tmp_path, manifest=manifest, source=EXPLAINER)
    with pytest.raises(CulturalignError, match=r"split.test\[0\]: must be a JSON object with user, item, country"):
        load_program(folder, SURVEY)


class Profiled(dspy.Signature):
    """Answer as the person described."""

    country: str = dspy.InputField()
    profile: str = dspy.InputField(desc="who answers")
    question: str = dspy.InputField()
    answer: str = dspy.OutputField()


class TwoStep(dspy.Module):
    """A program of another shape: two predictors, one with an extra input field."""

    def __init__(self):
        super().__init__()
        self.draft = dspy.Predict("country, question -> answer")
        self.refine = dspy.Predict(Profiled)


@pytest.fixture
def two_step():
    register_program("two_step", TwoStep)
    yield
    PROGRAMS.unregister("two_step")


def test_the_schema_follows_the_programs_own_predictors_and_fields(tmp_path, two_step):
    program = TwoStep()
    program.refine.demos = [{"country": "Chile", "profile": "a teacher", "question": "q", "answer": "2"}]
    manifest = {**copy.deepcopy(MANIFEST), "program": "two_step"}
    manifest.pop("versions")
    folder = save_program(program, tmp_path / "two", manifest)
    loaded, _ = load_program(folder, SURVEY)
    assert loaded.refine.demos[0]["profile"] == "a teacher"

    state = json.loads((folder / "program.json").read_text())
    state["refine"]["demos"][0]["profile"] = {"age": 40}
    (folder / "program.json").write_text(json.dumps(state))
    with pytest.raises(CulturalignError, match=r"refine.demos\[0\].profile: must be text"):
        load_program(folder, SURVEY)
    state["refine"]["demos"][0]["profile"] = "a teacher"
    state["refine"]["signature"]["fields"] = state["refine"]["signature"]["fields"][:3]
    (folder / "program.json").write_text(json.dumps(state))
    with pytest.raises(
        CulturalignError,
        match=r"refine.signature.fields: holds 3 entries; the predictor has 4 "
        r"fields \(country, profile, question, answer\)",
    ):
        load_program(folder, SURVEY)
    state.pop("draft")
    (folder / "program.json").write_text(json.dumps(state))
    with pytest.raises(CulturalignError, match="missing draft"):
        load_program(folder, SURVEY)
