"""Optimizer presets: every shipped preset validates; typos fail before any model is called."""
import pytest

from culturalign.errors import CulturalignError
from culturalign.presets import load_preset, shipped_presets


def test_shipped_presets_cover_each_kind_and_validate():
    names = set(shipped_presets())
    assert {"bootstrap-rs", "mipro-light", "copro", "simba", "gepa-light"} <= names
    kinds = {load_preset(n).optimizer for n in names}
    assert kinds >= {"BootstrapFewShotWithRandomSearch", "MIPROv2", "COPRO", "SIMBA", "GEPA"}
    mipro = load_preset("mipro-light")
    assert mipro.settings["auto"] == "light" and mipro.seed == 0 and mipro.settings["num_threads"] == 1


@pytest.mark.parametrize("text, message", [
    ("optimizer: MIPROv2\nsettings: {auto: light, num_treads: 2}\n", "num_treads are not accepted by MIPROv2()"),
    ("optimizer: MIPROv2\ncompile: {minibatch_sise: 2}\n", "minibatch_sise are not accepted by MIPROv2.compile()"),
    ("optimizer: Adam\n", "'optimizer' must be one of"),
    ("optimizer: COPRO\nbudget: 3\n", "'budget' is a mapping"),
    ("optimizer: COPRO\nbudgett: 3\n", "unknown key(s) budgett"),
    ("optimizer: COPRO\nobjective: closeness\n", "unknown objective"),
    ("optimizer: COPRO\nobjective: contrastive\ntau: -1\n", "tau must be"),
    ("optimizer: SIMBA\nseed: zero\n", "'seed' must be an integer"),
    ("optimizer: [unclosed\n", "not valid YAML"),
])
def test_bad_presets_are_clear_errors(tmp_path, text, message):
    path = tmp_path / "mine.yaml"
    path.write_text(text)
    with pytest.raises(CulturalignError) as err:
        load_preset(str(path))
    assert message in str(err.value) and str(path) in str(err.value)


def test_unknown_preset_name():
    with pytest.raises(CulturalignError, match="unknown optimizer preset 'mipro-heavy'"):
        load_preset("mipro-heavy")
