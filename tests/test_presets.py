"""Optimizer presets: every shipped preset validates; typos fail before any model is called."""

import pytest

from culturalign.errors import CulturalignError
from culturalign.optimization.presets import load_preset, shipped_presets


def test_shipped_presets_cover_each_kind_and_validate():
    names = set(shipped_presets())
    assert {"bootstrap-rs", "mipro-light", "copro", "simba", "gepa-light"} <= names
    kinds = {load_preset(n).optimizer for n in names}
    assert kinds >= {"BootstrapFewShotWithRandomSearch", "MIPROv2", "COPRO", "SIMBA", "GEPA"}
    mipro = load_preset("mipro-light")
    assert mipro.settings["auto"] == "light" and mipro.seed == 0 and mipro.settings["num_threads"] == 1


@pytest.mark.parametrize(
    "text, message",
    [
        ("optimizer: MIPROv2\nsettings: {auto: light, num_treads: 2}\n", "num_treads are not accepted by MIPROv2()"),
        ("optimizer: MIPROv2\ncompile: {minibatch_sise: 2}\n", "minibatch_sise are not accepted by MIPROv2.compile()"),
        ("optimizer: Adam\n", "'optimizer' must be one of"),
        ("optimizer: COPRO\nbudget: 3\n", "'budget' must be a mapping"),
        ("optimizer: COPRO\nbudgett: 3\n", "unknown key(s) 'budgett'"),
        ("optimizer: COPRO\nobjective: closeness\n", "unknown objective"),
        ("optimizer: COPRO\nobjective: contrastive\ntau: -1\n", "tau must be"),
        ("optimizer: SIMBA\nseed: zero\n", "'seed' must be a whole number"),
        ("optimizer: [unclosed\n", "not valid YAML"),
        # values of the wrong type or sign never reach DSPy
        (
            "optimizer: MIPROv2\nsettings: {max_labeled_demos: four}\n",
            "settings.max_labeled_demos must be a whole number from 0 to 1,000,000, got 'four'",
        ),
        (
            "optimizer: MIPROv2\nsettings: {max_bootstrapped_demos: -1}\n",
            "settings.max_bootstrapped_demos must be a finite",
        ),
        (
            "optimizer: MIPROv2\nsettings: {auto: fast}\n",
            "settings.auto must be null or 'heavy' or 'light' or 'medium'",
        ),
        (
            "optimizer: MIPROv2\nsettings: {metric_threshold: .nan}\n",
            "settings.metric_threshold must be a finite number",
        ),
        ("optimizer: BootstrapFewShot\nsettings: {max_errors: lots}\n", "settings.max_errors must be a whole number"),
        ("optimizer: LabeledFewShot\nsettings: {k: true}\n", "settings.k must be a whole number"),
        ("optimizer: LabeledFewShot\nsettings: {k: 4.5}\n", "settings.k must be a whole number"),
        ("optimizer: COPRO\ncompile: {eval_kwargs: {num_threads: -1}}\n", "compile.eval_kwargs.num_threads must be"),
        ("optimizer: SIMBA\nsettings: {bsize: '32'}\n", "settings.bsize must be a whole number"),
        ("optimizer: MIPROv2\nprompt_model: [a]\n", "'prompt_model' must be text"),
    ],
)
def test_bad_presets_are_clear_errors(tmp_path, text, message):
    path = tmp_path / "mine.yaml"
    path.write_text(text)
    with pytest.raises(CulturalignError) as err:
        load_preset(str(path))
    assert message in str(err.value) and str(path) in str(err.value)


def test_unknown_preset_name():
    with pytest.raises(CulturalignError, match="unknown optimizer preset 'mipro-heavy'"):
        load_preset("mipro-heavy")
