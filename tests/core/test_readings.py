"""readings: one number per concept, the same for the same step, zero never taken for NaN."""

from __future__ import annotations

import math

import numpy as np

from vgrad_gui.core import readings
from vgrad_gui.core.diagnose import diagnose
from vgrad_gui.core.history import RunHistory
from vgrad_gui.core.report import summary_text
from vgrad_gui.core.spec import Config


def synthetic(grads: np.ndarray, *, loss: np.ndarray | None = None,
              accuracy: np.ndarray | None = None, probes: dict[int, dict[str, object]] | None
              = None, inactive_kind: str = "") -> RunHistory:
    """A history from chosen numbers: ``grads`` [steps, layers] weight-gradient norms (step
    1 first); ``probes`` maps a step to channel values (the other channels are NaN)."""
    grads = np.atleast_2d(np.asarray(grads, np.float64))
    k, n = grads.shape
    cfg = Config(depth=n - 1, width=8)
    history = RunHistory(cfg, [f"hidden {i}" for i in range(1, n)] + ["output"], inactive_kind)
    loss = np.full(k, 0.69) if loss is None else loss
    accuracy = np.full(k, 0.5) if accuracy is None else accuracy
    rows = np.concatenate([grads, grads * 0.1, loss[:, None], accuracy[:, None]], axis=1)
    history.extend("steps", np.arange(1, k + 1), rows)
    for step, values in sorted((probes or {}).items()):
        width = history.probes.width
        row = np.full((1, width), np.nan)
        for name, v in values.items():
            row[0, history.cols("probes", name)] = v
        history.extend("probes", np.array([step]), row)
    return history


def test_classify_tells_zero_from_nonfinite():
    assert readings.classify(0.0) == readings.classify(-0.0) == "zero"
    assert readings.classify(float("nan")) == readings.classify(float("inf")) == "nonfinite"
    assert readings.classify(-math.inf) == "nonfinite"
    assert readings.classify(1e-44) == readings.classify(3.0) == "finite"


def test_exact_zero_next_to_a_tiny_gradient_is_underflow_next_to_an_ordinary_one_is_not():
    under = readings.classify_layers(np.array([0.0, 0.0, 4.7e-43, 1e-20, 0.5]))
    assert under == ["underflow", "underflow", "finite", "finite", "finite"]
    dead = readings.classify_layers(np.array([0.0, 0.0, 1e-3, 0.5]))
    assert dead == ["zero", "zero", "finite", "finite"]
    assert readings.classify_layers(np.zeros(3)) == ["zero"] * 3
    assert readings.classify_layers(np.array([np.nan, 1.0])) == ["nonfinite", "finite"]


def test_zero_over_zero_is_no_gradient_never_infinite():
    assert readings.ratio_to_output(np.zeros(4)).tolist() == [0.0] * 4
    r = readings.ratio_to_output(np.array([0.0, 2.0, 1.0]))
    assert r.tolist() == [0.0, 2.0, 1.0]
    # x / 0 with x > 0 is +inf (documented; the output layer has no gradient, this one has).
    assert readings.ratio_to_output(np.array([3.0, 0.0]))[0] == math.inf
    assert math.isnan(readings.ratio_to_output(np.array([np.nan, 1.0]))[0])
    assert np.isnan(readings.ratio_to_output(np.array([1.0, np.inf]))).all()


def test_current_gradient_is_the_median_of_the_last_window_at_or_before_a_step():
    steps = 100
    grads = np.stack([np.arange(1, steps + 1, dtype=float), np.full(steps, 10.0)], 1)
    history = synthetic(grads)
    now = readings.grad_reading(history)
    assert now is not None and now.step == steps and now.source == "median"
    assert now.norms[0] == np.median(np.arange(81, 101))
    at_50 = readings.current_grad_norms(history, 50)
    assert at_50 is not None and at_50[0] == np.median(np.arange(31, 51))
    # The same question gives the same number, also after the run has moved on.
    history.extend("steps", np.arange(101, 121), np.tile(history.steps.raw()[1][-1], (20, 1)))
    again = readings.current_grad_norms(history, 50)
    assert again is not None and again[0] == at_50[0]
    assert readings.grad_reading(history, 0) is None


def test_a_nonfinite_step_in_the_window_is_quoted_as_it_is():
    grads = np.ones((30, 3))
    grads[25, 1] = np.nan
    history = synthetic(grads)
    assert history.first_nonfinite_step == 26
    r = readings.grad_reading(history, 28)
    assert r is not None and r.source == "last" and r.classes == ("finite", "finite", "finite")
    r = readings.grad_reading(history, 26)
    assert r is not None and r.classes[1] == "nonfinite" and math.isnan(r.ratios[1])
    assert readings.first_nonfinite_step(history) == 26
    assert readings.first_nonfinite_step(history, 25) is None
    assert readings.first_nonfinite_step(history, 26) == 26


def test_probe_reading_is_the_row_at_or_before_the_step():
    history = synthetic(np.ones((250, 3)), probes={1: {"update_ratio": [1e-3] * 3},
                                                   101: {"update_ratio": [2e-3] * 3}})
    p = readings.probe_reading(history, 100)
    assert p is not None and p.step == 1
    ur = p.get("update_ratio")
    assert ur is not None and ur[0] == np.float32(1e-3)
    latest = readings.probe_reading(history)
    assert latest is not None and latest.step == 101
    assert latest.get("signal_std") is None  # not recorded (all NaN): None, not zeros
    assert readings.probe_reading(history, 0) is None


def test_decimated_history_falls_back_to_bucket_means():
    k = 12_500  # more than the history keeps at full resolution
    grads = np.stack([np.full(k, 2.0), np.full(k, 4.0)], 1)
    history = synthetic(grads)
    assert history.steps.decimated
    r = readings.grad_reading(history, 100)
    assert r is not None and r.source == "bucket" and r.norms.tolist() == [2.0, 4.0]
    assert r.ratios[0] == 0.5
    first = readings.window_mean(history, "loss", first=True, n=50)
    assert first is not None and first[1] >= 50 and math.isclose(first[0], 0.69, rel_tol=1e-6)


def test_window_means_and_evals():
    loss = np.linspace(1.0, 0.0, 400)
    history = synthetic(np.ones((400, 2)), loss=loss)
    first = readings.window_mean(history, "loss", first=True, n=50)
    last = readings.window_mean(history, "loss", 200, n=50)
    assert first is not None and first[1] == 50 and math.isclose(first[0], loss[:50].mean(),
                                                                 rel_tol=1e-6)
    assert last is not None and math.isclose(last[0], loss[150:200].mean(), rel_tol=1e-6)
    assert readings.eval_at(history, "test_accuracy") is None


def test_value_text():
    assert readings.value_text(0.0) == "0"
    assert readings.value_text(float("nan")) == "NaN"
    assert readings.value_text(float("-inf")) == "-Inf"
    assert readings.value_text(7.389e-9) == "7.39e-09"


def test_summary_table_and_diagnosis_quote_the_same_number():
    # Hidden layer 1 at 1/3000 of the output layer now, but at 1/10 over most of the run: a
    # whole-run median would say 1/10, the diagnosis (last 20 steps) 1/3000.
    grads = np.tile([0.1, 1.0], (300, 1))
    grads[-20:, 0] = 1 / 3000
    history = synthetic(grads)
    text = summary_text(history, "run.npz")
    top = diagnose(history)[0]
    assert top.kind == "vanishing" and "1/3000" in top.message
    row = next(line for line in text.splitlines() if line.startswith("hidden 1 "))
    assert "1/3000" in row and top.message in text


def test_a_trained_run_quotes_one_number_per_concept():
    from vgrad_gui.core.trainer import Trainer

    cfg = Config(depth=6, width=16, activation="sigmoid", steps=40)
    trainer = Trainer(cfg, stats_every=20)
    history = RunHistory(cfg, trainer.layer_names, trainer.probe.inactive_kind)
    for _ in range(4):
        history.append(trainer.run_block(10))
    now = readings.grad_reading(history)
    assert now is not None and now.step == 40
    top = diagnose(history)[0]
    assert top.kind == "vanishing"
    worst = top.layers[int(np.argmin(now.ratios[list(top.layers)]))]
    assert top.evidence == now.ratios[worst]  # the diagnosis quotes the reading itself
    table = summary_text(history, "run.npz").splitlines()
    for i, name in enumerate(history.layer_names):
        row = next(line for line in table if line.startswith(f"{name} "))
        assert readings.value_text(now.norms[i]) in row.split()
    # The same step asked later gives the same number.
    history.append(trainer.run_block(10))
    again = readings.grad_reading(history, 40)
    assert again is not None and np.array_equal(again.norms, now.norms)
    assert diagnose(history, 40)[0].message == top.message


def test_labels_for_views():
    r = readings.grad_reading(synthetic(np.array([[0.0, 1e-31, 1e-3, np.nan, 0.0, 2.0]])))
    assert r is not None
    assert [readings.norm_label(r, i) for i in range(6)] == [
        "0 (underflow)", "1.00e-31", "1.00e-03", "NaN", "0", "2.00e+00"]
    assert [readings.ratio_label(r, i) for i in (0, 2, 3, 4)] == ["none", "1/2000", "NaN", "none"]


def test_a_reading_is_kept_until_the_steps_change_and_cannot_be_changed_by_a_reader():
    """Every view asks for the same reading each frame: one object while the steps hold,
    read-only (one view writing into it would change what the others quote), and a new one
    as soon as a step arrives."""
    history = synthetic(np.abs(np.random.default_rng(0).standard_normal((40, 4))) + 0.1)
    first = readings.grad_reading(history)
    assert first is not None and readings.grad_reading(history) is first
    assert readings.grad_reading(history, 30) is readings.grad_reading(history, np.int64(30))
    assert readings.grad_reading(history, 30) is not first
    try:
        first.norms[0] = 0.0
    except ValueError:
        pass
    else:
        raise AssertionError("a reading's norms could be written")
    history.extend("steps", np.array([41]), history.steps.raw()[1][-1:] * 100)
    after = readings.grad_reading(history)
    assert after is not None and after is not first and after.step == 41
    assert after.norms[0] == np.median(history.steps.raw()[1][-20:, 0].astype(np.float64))


def test_the_median_of_a_window_is_numpys_to_the_bit():
    rng = np.random.default_rng(3)
    for n in (1, 2, 5, 19, 20):
        rows = (10.0 ** rng.uniform(-40, 3, (n, 7))).astype(np.float32).astype(np.float64)
        rows[rng.random((n, 7)) < 0.2] = 0.0
        assert np.array_equal(readings._median(rows), np.median(rows, axis=0))
