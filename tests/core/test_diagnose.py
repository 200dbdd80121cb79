import numpy as np
import pytest
import torch

from tests.core.test_readings import synthetic
from vgrad_gui.core.diagnose import describe_layers, diagnose, learning_trend, ratio_text
from vgrad_gui.core.history import RunHistory
from vgrad_gui.core.presets import get_preset
from vgrad_gui.core.trainer import Trainer


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Narrow nets train fastest on one thread (trainer.threads_for)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


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
    assert ratio_text(0.0) == "none"


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


def test_not_learning_needs_a_flat_loss_and_flat_accuracy():
    k = 400
    flat = synthetic(np.ones((k, 3)), loss=np.full(k, 0.693), accuracy=np.full(k, 0.5))
    learning, slow = learning_trend(flat)
    assert learning is False and slow is not None and slow.kind == "slow"
    assert "not learning: after 400 steps" in slow.message
    assert "slow" in [f.kind for f in diagnose(flat)]
    # The relu preset: the loss stays within 1% of 0.693 while the accuracy climbs.
    climbing = np.r_[np.full(k - 100, 0.5), np.full(100, 0.8)]
    rising = synthetic(np.ones((k, 3)), loss=np.full(k, 0.69), accuracy=climbing)
    assert learning_trend(rising) == (True, None)
    falling = synthetic(np.ones((k, 3)), loss=np.linspace(0.7, 0.3, k))
    assert learning_trend(falling) == (True, None)
    assert learning_trend(flat, 299) == (None, None)  # too early to tell


def test_zero_gradients_are_no_gradient_never_exploding():
    findings = diagnose(synthetic(np.zeros((5, 4))))
    assert findings[0].kind == "no_gradient"
    assert findings[0].message.startswith("no gradient: no gradient reaches hidden layers 1-3 "
                                          "and the output layer")
    text = " ".join(f.message for f in findings)
    assert "exploding" not in text and "infinite" not in text and "NaN" not in text


def test_dead_relus_are_named_as_the_cause():
    grads = np.tile([0.0, 0.0, 0.0, 0.3], (5, 1))
    history = synthetic(grads, inactive_kind="dead",
                        probes={5: {"inactive_fraction": [0.2, 1.0, 0.9]}})
    top = diagnose(history)[0]
    assert top.kind == "no_gradient" and top.layers == (0, 1, 2)
    assert "every unit of hidden layer 2 outputs 0 for the whole batch (dead ReLUs)" in \
        top.message


def test_a_vanished_forward_signal_is_caught_although_the_ratios_look_normal():
    n = 31
    grads = np.tile(np.full(n, 5e-6), (3, 1))
    signal = 0.2 * 2.0 ** (-np.arange(n) / 2)  # ReLU + Xavier: variance halves per layer
    history = synthetic(grads, probes={1: {"signal_std": signal, "update_ratio": [1e-7] * n}})
    top = diagnose(history)[0]
    assert top.kind == "vanished_signal" and top.evidence is not None
    assert top.evidence == pytest.approx(signal[-2] / signal[0], rel=1e-5)
    assert "every gradient is tiny, the output layer's included (5.0e-06)" in top.message
    # An old run file has no forward signal: the update ratios tell the same story.
    old = synthetic(grads, probes={1: {"update_ratio": [1e-7] * n}})
    assert diagnose(old)[0].kind == "tiny_updates"


def test_tiny_updates_of_a_converged_net_are_not_a_problem():
    k = 400
    history = synthetic(np.full((k, 3), 1e-4), loss=np.linspace(0.5, 1e-3, k),
                        probes={k: {"update_ratio": [3e-6] * 3}})
    assert [f.kind for f in diagnose(history)] == ["healthy"]


def test_findings_at_an_earlier_step():
    grads = np.tile([1.0, 1.0], (60, 1))
    grads[40:, 0] = 1e-5
    history = synthetic(grads)
    assert diagnose(history, 30)[0].kind == "healthy"
    assert diagnose(history)[0].kind == "vanishing"


def test_no_steps_no_findings():
    cfg = get_preset("deep_sigmoid").config
    assert diagnose(RunHistory(cfg, [f"hidden {i}" for i in range(1, 11)] + ["output"])) == []


def test_a_finding_in_a_few_words_names_its_kind_and_layers():
    from vgrad_gui.core.diagnose import Finding

    vanishing = Finding("vanishing", "error", "vanishing: hidden layers 1-7 receive less than "
                        "1/1000 of the output layer's gradient (hidden layer 1: 10⁻⁸).",
                        (0, 1, 2, 3, 4, 5, 6), 1e-8)
    assert vanishing.short(11) == "vanishing: hidden layers 1-7"
    healthy = Finding("healthy", "ok", "healthy: every layer receives at least 1/100 of the "
                      "output layer's gradient.", (), 1.0)
    assert healthy.short(11) == "healthy"
    nan = Finding("nonfinite", "error", "NaN/Inf: at step 3 the loss became NaN.", (10,))
    assert nan.short(11) == "NaN/Inf: the output layer"
