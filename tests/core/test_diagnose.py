import numpy as np

from vgrad_gui.core.diagnose import describe_layers, diagnose, ratio_text
from vgrad_gui.core.history import RunHistory
from vgrad_gui.core.presets import get_preset
from vgrad_gui.core.trainer import Trainer


def run(name: str, steps: int) -> RunHistory:
    cfg = get_preset(name).config
    trainer = Trainer(cfg)
    history = RunHistory(cfg, trainer.layer_names, trainer.probe.inactive_kind)
    while history.step < steps and history.first_nonfinite_step is None:
        history.append(trainer.run_block(min(20, steps - history.step)))
    return history


def test_describe_layers():
    assert describe_layers([0, 1, 2, 3, 4, 5, 6], 11) == "hidden layers 1-7"
    assert describe_layers([0, 2, 3, 9, 10], 11) == "hidden layers 1, 3-4, 10 and the output layer"
    assert describe_layers([4], 11) == "hidden layer 5"
    assert describe_layers([10], 11) == "the output layer"


def test_ratio_text():
    assert ratio_text(1e-8) == "10^-8"
    assert ratio_text(0.001) == "1/1000"
    assert ratio_text(0.5) == "0.5x"
    assert ratio_text(1e5) == "10^5x"
    assert ratio_text(float("nan")) == "NaN"


def test_vanishing_is_caught_at_the_first_step():
    history = run("deep_sigmoid", 1)
    findings = diagnose(history)
    assert findings[0].kind == "vanishing"
    assert findings[0].message.startswith("vanishing: hidden layers 1-")
    assert "less than 1/1000 of the output layer's gradient" in findings[0].message
    assert 0 in findings[0].layers


def test_relu_he_is_healthy():
    findings = diagnose(run("relu_he", 200))
    assert [f.kind for f in findings] == ["healthy"]


def test_exploding_is_reported_with_the_step():
    history = run("exploding", 50)
    top = diagnose(history)[0]
    assert top.kind == "nonfinite" and top.severity == "error"
    assert f"step {history.first_nonfinite_step}" in top.message


def test_huge_norms_are_exploding_before_they_turn_nan():
    history = run("exploding", 1)
    assert diagnose(history)[0].kind == "exploding"


def test_saturation_and_dead_units_are_reported():
    cfg = get_preset("deep_sigmoid").config.replace(activation="tanh", init="large_normal",
                                                    depth=4)
    trainer = Trainer(cfg)
    history = RunHistory(cfg, trainer.layer_names, trainer.probe.inactive_kind)
    history.append(trainer.step())
    assert "saturated" in [f.kind for f in diagnose(history)]
    cfg = cfg.replace(activation="relu", init="default", depth=6, width=4, seed=5)
    trainer = Trainer(cfg)
    history = RunHistory(cfg, trainer.layer_names, trainer.probe.inactive_kind)
    history.append(trainer.step())
    frac = history.latest("probes", "inactive_fraction")
    kinds = [f.kind for f in diagnose(history)]
    assert ("dead" in kinds) == bool(np.nanmax(frac) > 0.5)


def test_slow_learning_is_an_effect_worth_naming():
    history = run("deep_sigmoid", 400)
    assert "slow" in [f.kind for f in diagnose(history)]


def test_no_steps_no_findings():
    cfg = get_preset("deep_sigmoid").config
    assert diagnose(RunHistory(cfg, [f"hidden {i}" for i in range(1, 11)] + ["output"])) == []
