"""The classic experiments of the literature, trained small, and the diagnosis each predicts.

Each case trains a real network (moons, width 32, seed 0, SGD lr 0.1 unless stated) for as
few steps as its effect needs, then asserts the top finding's kind and that the kinds the
literature rules out never appear, at step 1, at every statistics step and at the end.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
import torch

from vgrad_gui.core import readings
from vgrad_gui.core.diagnose import diagnose
from vgrad_gui.core.history import RunHistory
from vgrad_gui.core.spec import Config
from vgrad_gui.core.trainer import Trainer

BROKEN = {"nonfinite", "exploding", "no_gradient", "underflow"}
WEAK = {"vanishing", "vanished_signal", "tiny_updates", "fading"}


@dataclass(frozen=True)
class Case:
    name: str
    config: dict[str, object]
    steps: int
    top: str  # the top finding's kind at the last step
    forbidden: frozenset[str] = field(default_factory=frozenset)  # at every step checked
    says: str = ""  # the top message contains this
    stats_every: int = 50


CASES = [
    # Glorot & Bengio 2010: sigmoid's slope is at most 1/4, so the backward signal shrinks
    # layer by layer; the first layers get ~1e-9 of the output layer's gradient at step 1.
    Case("deep sigmoid", {"depth": 10, "activation": "sigmoid"}, 1, "vanishing",
         frozenset({"healthy", *BROKEN}), "hidden layers 1-"),
    # He et al. 2015: He init keeps the variance of ReLU nets across depth.
    Case("relu + he", {"depth": 10, "activation": "relu", "init": "he_normal"}, 300, "healthy",
         frozenset({*BROKEN, *WEAK, "slow", "dead"})),
    # He et al. 2015: Xavier init halves a ReLU net's signal variance per layer; at depth 30
    # the logits are ~1e-6 and every gradient is tiny while the ratios look normal.
    Case("relu + xavier, depth 30", {"depth": 30, "activation": "relu",
                                     "init": "xavier_normal"}, 3, "vanished_signal",
         frozenset({"healthy", "vanishing", *BROKEN})),
    # LeCun et al. 1998 / Glorot & Bengio 2010: weights far too small (std 0.01) shrink the
    # signal forward and the gradient backward; tanh is not saturated.
    Case("tanh, tiny init", {"depth": 10, "activation": "tanh", "init": "small_normal"}, 1,
         "vanished_signal", frozenset({"healthy", "saturated", *BROKEN})),
    # Weights of std 1 in a ReLU net: the signal grows ~sqrt(width/2) per layer.
    Case("large init, step 1", {"depth": 10, "activation": "relu", "init": "large_normal",
                                "lr": 0.01}, 1, "exploding",
         frozenset({"healthy", "nonfinite", *WEAK})),
    Case("large init, trained on", {"depth": 10, "activation": "relu",
                                    "init": "large_normal", "lr": 0.01}, 50, "nonfinite",
         frozenset({"healthy", "no_gradient", *WEAK})),
    # Ioffe & Szegedy 2015: batch norm keeps a deep sigmoid net out of the flat ends.
    Case("batch norm", {"depth": 10, "activation": "sigmoid", "norm": "batch"}, 200, "healthy",
         frozenset({*BROKEN, *WEAK, "saturated"})),
    # He et al. 2016: identity shortcuts give the gradient a path around every block. (Hidden
    # layer 1 has no shortcut, input size 2, so it may fade at step 1; it never vanishes.)
    Case("residual", {"depth": 10, "activation": "sigmoid", "residual": True}, 200, "healthy",
         frozenset({*BROKEN, "vanishing", "vanished_signal", "tiny_updates"})),
    Case("healthy shallow", {"depth": 2, "activation": "relu", "init": "he_normal"}, 200,
         "healthy", frozenset({*BROKEN, *WEAK, "slow", "dead"})),
    # Dying ReLUs (lr 1.0, width 8): after a few large steps every unit of the last layers
    # is off for every input, and the gradients are exactly 0 everywhere.
    Case("dead relus", {"depth": 10, "width": 8, "activation": "relu", "init": "he_normal",
                        "lr": 1.0}, 50, "no_gradient",
         frozenset({"nonfinite", "exploding", "underflow", "vanished_signal"}), "dead ReLUs",
         stats_every=10),
    # A 200-layer sigmoid net: the gradient of the first ~150 layers is below 1.4e-45, so
    # float32 stores it as exactly 0: underflow, not dead units, never NaN.
    Case("200-layer sigmoid", {"depth": 200, "activation": "sigmoid"}, 1, "underflow",
         frozenset({"nonfinite", "exploding", "no_gradient", "healthy"}),
         "smaller than float32 can hold"),
]


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Narrow nets run fastest on one thread (trainer.threads_for), and on a busy machine a
    second one only waits: measured 60x slower for batch norm at load 8 on 2 cores."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def train(config: dict[str, object], steps: int, stats_every: int = 50) -> RunHistory:
    cfg = Config.from_dict({"width": 32, "steps": steps, **config})
    trainer = Trainer(cfg, stats_every=stats_every)
    history = RunHistory(cfg, trainer.layer_names, trainer.probe.inactive_kind)
    while history.step < steps and history.first_nonfinite_step is None:
        history.append(trainer.run_block(min(64, steps - history.step)))
    return history


def checked_steps(history: RunHistory) -> list[int]:
    probe_steps, _ = history.probes.raw()
    return sorted({1, history.step, *(int(s) for s in probe_steps)})


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_classic_case(case: Case) -> None:
    history = train(case.config, case.steps, case.stats_every)
    findings = diagnose(history)
    top = findings[0]
    assert top.kind == case.top, [f.message for f in findings]
    assert case.says in top.message
    for step in checked_steps(history):
        kinds = {f.kind for f in diagnose(history, step)}
        assert not kinds & case.forbidden, (step, kinds)


def test_the_first_nonfinite_step_is_one_number() -> None:
    history = train({"depth": 10, "activation": "relu", "init": "large_normal", "lr": 0.01}, 50)
    first = history.first_nonfinite_step
    assert first is not None and first == readings.first_nonfinite_step(history)
    top = diagnose(history)[0]
    assert top.evidence == first and f"at step {first} " in top.message
    # Before it happened, nothing was non-finite.
    assert readings.first_nonfinite_step(history, first - 1) is None
    assert diagnose(history, first - 1)[0].kind == "exploding"


def test_degradation_is_not_vanishing() -> None:
    """He et al. 2016: a deeper plain net (batch norm + He init) trains slower than a shallow
    one although its gradients are fine; that is degradation, not vanishing."""
    relu_bn = {"activation": "relu", "init": "he_normal", "norm": "batch"}
    deep = train({"depth": 20, **relu_bn}, 300)
    shallow = train({"depth": 2, **relu_bn}, 300)
    deep_loss = readings.window_mean(deep, "loss")
    shallow_loss = readings.window_mean(shallow, "loss")
    assert deep_loss is not None and shallow_loss is not None
    assert deep_loss[0] > 1.5 * shallow_loss[0]  # measured: 0.026 vs 0.013
    assert diagnose(deep)[0].kind == "healthy"
    for step in checked_steps(deep):
        kinds = {f.kind for f in diagnose(deep, step)}
        assert not kinds & {*BROKEN, *WEAK}, (step, kinds)
