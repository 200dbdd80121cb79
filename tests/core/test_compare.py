import numpy as np

from tests.core.test_run_model import names
from vgrad_gui.core.compare import (
    BROKEN,
    ONLY_BASE,
    ONLY_OTHER,
    RATIO,
    SAME,
    banners,
    contrast,
    contrasts,
    grad_matrix,
    headline,
    layer_pairs,
)
from vgrad_gui.core.lockstep import Lockstep
from vgrad_gui.core.presets import get_preset
from vgrad_gui.core.records import RecordBlock, row_width
from vgrad_gui.core.run import Run
from vgrad_gui.core.spec import Config
from vgrad_gui.core.workspace import Cursor, Workspace


def run_with(run_id: int, norms: list[float], label: str, steps: int = 50,
             nan_at: int | None = None) -> Run:
    """A run whose weight-gradient norms are ``norms`` (per layer) at every step."""
    depth = len(norms) - 1
    run = Run.from_config(Config(depth=depth, width=4), names(depth), run_id=run_id,
                          label=label)
    n = depth + 1
    rows = np.full((steps, row_width("steps", n)), 0.5)
    rows[:, :n] = norms
    if nan_at is not None:
        rows[nan_at - 1 :, 0] = np.nan
    run.append(RecordBlock(np.arange(1, steps + 1), rows, np.empty(0, np.int64),
                           np.empty((0, row_width("probes", n))), np.empty(0, np.int64),
                           np.empty((0, 2))))
    return run


def test_headline_names_the_layer_with_the_largest_contrast():
    a = run_with(1, [1e-9, 1e-5, 1e-2], "sigmoid")
    b = run_with(2, [2e-2, 3e-2, 5e-2], "ReLU + He init")
    c = contrast(a, b, 50, 50)
    assert c.kind == RATIO and c.layer == 0 and c.layer_name == "hidden 1"
    assert np.isclose(c.ratio, 2e7)
    assert c.text == ("hidden 1: ReLU + He init receives 10^7 times more gradient than "
                      "A (sigmoid) at step 50")


def test_a_weaker_run_is_described_as_a_fraction():
    a = run_with(1, [1e-2, 1e-2, 1e-2], "ReLU")
    b = run_with(2, [3e-5, 1e-3, 1e-2], "sigmoid")
    c = contrast(a, b, 50, 50)
    assert c.layer == 0 and "receives 1/330 of the gradient of A (ReLU)" in c.text
    mild = run_with(3, [3e-3, 1e-2, 1e-2], "tanh")
    assert "tanh receives 3.3 times less gradient than A (ReLU)" in contrast(a, mild, 50, 50).text


def test_zero_gradients_are_said_in_words_never_infinite():
    a = run_with(1, [0.0, 1e-31, 1e-2], "sigmoid")  # hidden 1: float32 underflow
    b = run_with(2, [1e-3, 1e-3, 1e-2], "batch norm")
    c = contrast(a, b, 50, 50)
    assert c.kind == ONLY_OTHER and c.layer == 0 and c.ratio is None
    assert "A (sigmoid) receives none (float32 underflow)" in c.text
    assert "inf" not in c.text.lower()
    dead = run_with(3, [0.0, 1e-3, 1e-2], "dead ReLU")
    c = contrast(b, dead, 50, 50)
    assert c.kind == ONLY_BASE and "dead ReLU receives no gradient (exactly 0)" in c.text


def test_two_zeros_are_no_contrast():
    a = run_with(1, [0.0, 1e-2], "x")
    b = run_with(2, [0.0, 1e-2], "y")
    c = contrast(a, b, 50, 50)
    assert c.kind == SAME and "about the same gradient" in c.text and "nan" not in c.text.lower()


def test_a_nonfinite_run_is_named_first_with_its_step():
    a = run_with(1, [1e-9, 1e-2], "sigmoid")
    b = run_with(2, [1.0, 1.0], "exploding", nan_at=12)
    c3 = run_with(3, [1e-2, 1e-2], "ReLU")
    cursor = Cursor()
    h = headline([a, b, c3], cursor)
    assert h.kind == BROKEN and h.run_id == 2
    assert h.text == ("exploding: gradients or loss became NaN/Inf at step 12; no comparison "
                      "after that")
    cursor.set_step(11)  # before the blow-up: an ordinary comparison
    assert headline([a, b, c3], cursor).kind == RATIO


def test_layers_pair_by_place_across_depths():
    a = run_with(1, [1e-9, 1e-7, 1e-5, 1e-2], "depth 3")
    b = run_with(2, [1e-3, 1e-2], "depth 1")
    assert layer_pairs(a, b) == [(0, 0, "hidden 1"), (3, 1, "output")]
    c = contrast(a, b, 50, 50)
    assert c.layer_name == "hidden 1" and np.isclose(c.ratio, 1e6)


def test_steps_that_differ_are_both_named_and_cursor_clamps():
    a = run_with(1, [1e-6, 1e-2], "A", steps=80)
    b = run_with(2, [1e-2, 1e-2], "B", steps=30)
    cursor = Cursor()
    [c] = contrasts([a, b], cursor)
    assert c.text.endswith("at steps 30 and 80")
    cursor.set_step(20)
    assert headline([a, b], cursor).text.endswith("at step 20")


def test_headline_needs_two_runs_with_steps_and_uses_letters():
    a = run_with(1, [1e-6, 1e-2], "sigmoid")
    assert headline([a], Cursor()) is None
    empty = Run.from_config(Config(depth=1, width=4), names(1), run_id=2)
    assert headline([a, empty], Cursor()) is None
    ws = Workspace()
    b = run_with(3, [1e-2, 1e-2], "")
    ws.add(a)
    ws.add(b)
    letters = {i: ws.letter(i) for i in ws.ids}
    assert "B receives 10^4 times more gradient than A (sigmoid)" in \
        headline(ws.runs, ws.cursor, letters).text


def test_banners_quote_the_diagnosis_of_each_run_at_its_step():
    a = run_with(1, [1e-9, 1e-7, 1e-2], "sigmoid")
    b = run_with(2, [1e-2, 1e-2, 1e-2], "ReLU")
    empty = Run.from_config(Config(depth=1, width=4), names(1), run_id=3, label="new")
    lines = banners([a, b, empty], Cursor())
    assert lines[1].startswith("A (sigmoid): ") and "hidden layer" in lines[1]
    assert lines[2].startswith("ReLU: ")
    assert lines[3] == "new: no steps recorded yet"
    mats = grad_matrix([a, b, empty], Cursor())
    assert np.allclose(mats[1], [1e-9, 1e-7, 1e-2]) and mats[3] is None


def test_real_runs_deep_sigmoid_against_relu_he():
    ls = Lockstep()
    ws = Workspace()
    for run_id, preset in ((1, "deep_sigmoid"), (2, "relu_he")):
        cfg = get_preset(preset).config.replace(device="cpu", steps=60)
        tr = ls.add(run_id, cfg)
        ws.add(Run.from_config(cfg, tr.layer_names, tr.probe.inactive_kind, run_id=run_id))
    ws.relabel()
    while not ls.done:
        for run_id, block in ls.step_all(16).items():
            ws.get(run_id).append(block)
    h = headline(ws.runs, ws.cursor)
    assert h.kind == RATIO and h.ratio > 1e3 and h.layer_name == "hidden 1"
    assert h.text.startswith("hidden 1: ReLU + He init receives 10^")
    assert h.text.endswith("more gradient than A (sigmoid) at step 60")
