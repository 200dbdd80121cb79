"""Issue 7, view side: every view quotes ``readings`` (one number per concept), shows exactly
zero in its own colour (never NaN's), draws the min/max of decimated data, and wires the
signal-across-depth view; stale state after Reset is gone."""

from __future__ import annotations

import numpy as np
from PySide6.QtGui import QColor

from tests.qt.conftest import SMALL, configure
from tests.qt.helpers import draw_every_view, views_follow
from vgrad_gui.core import readings
from vgrad_gui.core.diagnose import diagnose
from vgrad_gui.core.history import RunHistory
from vgrad_gui.core.report import summary_text
from vgrad_gui.qt import theme
from vgrad_gui.qt.plots.banner import readable

# Six layers: 0 underflow (exactly 0 next to 1e-35), 1 tiny, 2 ordinary, 3 exactly zero
# (next to ordinary gradients: no gradient, not underflow), 4 NaN, 5 the output layer.
NORMS = np.array([0.0, 1e-35, 1e-3, 0.0, np.nan, 1e-2])


def synthetic(norms: np.ndarray = NORMS, n_steps: int = 40, spike: tuple[int, float] | None
              = None) -> RunHistory:
    config = SMALL.replace(depth=len(norms) - 1, steps=max(n_steps, 300))
    names = [f"hidden {i + 1}" for i in range(len(norms) - 1)] + ["output"]
    h = RunHistory(config, names, "saturated")
    steps = np.arange(1, n_steps + 1)
    for table in ("steps", "probes"):
        width = sum(w for _, w in h.layouts[table])
        rows = np.full((n_steps, width), 0.5, np.float32)
        if table == "steps":
            rows[:, h.cols("steps", "grad_norm")] = norms
            if spike is not None:
                rows[spike[0] - 1, h.cols("steps", "grad_norm")] = spike[1]
        else:
            for name in ("update_ratio", "signal_std", "backprop_grad"):
                cols = h.cols("probes", name)
                rows[:, cols] = np.where(np.isnan(norms), np.nan, norms)[: cols.stop - cols.start]
        h.extend(table, steps, rows)
    return h


def show(window, qtbot, history: RunHistory) -> None:
    window.session.view_history(history, "synthetic")
    qtbot.waitUntil(lambda: views_follow(window), timeout=5000)
    draw_every_view(window, qtbot)
    qtbot.wait(300)
    draw_every_view(window, qtbot)


def test_zero_is_never_drawn_in_the_nan_colour(app, qtbot, window):
    history = synthetic()
    show(window, qtbot, history)
    nan, zero = QColor(theme.NONFINITE), QColor(theme.ZERO)
    assert nan != zero
    v = window.views
    bars = v["bars"]
    qtbot.waitUntil(lambda: len(bars.values) == 6)
    for i in (0, 3):  # underflow and plain zero
        assert bars.brush_for(i).color() == zero
        base, top = bars._y_range  # a stub on the floor, not full height
        assert 0 < bars.bars.opts["height"][i] <= max(0.25, 0.03 * (top - base))
    assert bars.brush_for(4).color() == nan
    assert bars.values[0] == "0 (underflow)" and bars.values[3] == "0"
    diagram = window.diagram
    qtbot.waitUntil(lambda: len(diagram.classes) == 6)
    for i in (0, 3):
        assert diagram.layer_colour(i).rgb() == zero.rgb() != nan.rgb()
    assert diagram.layer_colour(4).rgb() == nan.rgb()
    assert "underflow" in diagram.layer_words(0)
    assert "exactly" in diagram.layer_words(3)
    heat = v["heatmap"]
    qtbot.waitUntil(lambda: heat.image.image is not None)
    img = heat.image.image
    assert (img[0] == theme.HEAT_ZERO).all() and (img[3] == theme.HEAT_ZERO).all()
    assert (img[4] == theme.HEAT_NONFINITE).all()
    assert tuple(heat.lut[theme.HEAT_ZERO]) != tuple(heat.lut[theme.HEAT_NONFINITE])
    assert "exactly 0" in heat.note.text()
    lines = v["lines"]
    qtbot.waitUntil(lambda: lines.zero_line.isVisible())
    assert lines.zero_line.opts["pen"].color() == zero
    assert lines.nan_line.opts["pen"].color() == nan
    _, y = lines.lines.data(0)  # the underflowed layer sits on the floor, drawn
    assert np.isfinite(y).all() and np.allclose(y, lines.floor)
    health = v["health"]
    qtbot.waitUntil(lambda: health.ratio_zero_label.isVisible())
    zx, zy = health.ratio_zero.getData()
    assert sorted(np.round(zx - 0.5).astype(int)) == [0, 3]
    assert np.allclose(zy, health.ratio_floor)
    assert health.ratio_zero.opts["brush"].color() == zero
    assert "never changed" in health.ratio_zero_label.toPlainText()
    signal = v["signal"]
    qtbot.waitUntil(lambda: len(signal.zeros.getData()[0]) > 0)
    assert signal.zeros.opts["brush"].color() == zero
    assert signal.bad.opts["brush"].color() == nan


def test_underflow_is_named_in_the_caption_and_status(app, qtbot, window):
    history = synthetic(np.array([0.0, 1e-35, 1e-3, 1e-2]))
    show(window, qtbot, history)
    qtbot.waitUntil(lambda: "underflow" in window.diagram.caption)
    window.status.update()
    assert "underflow" in window.status.grad.text()


def test_a_one_step_spike_reaches_the_drawn_max_band(app, qtbot, window):
    n = 100_000
    history = synthetic(np.array([1e-3, 1e-3, 1e-2]), n_steps=n, spike=(50_001, 1e3))
    show(window, qtbot, history)
    lines = window.views["lines"]
    qtbot.waitUntil(lambda: len(lines.envelopes) == 3)
    assert lines.follow
    ex, ey = lines.envelopes[0]
    assert ex.max() > 90_000  # the whole run is in view
    assert ey.max() >= 2.99  # log10(1e3): the spike, at full zoom-out
    _, mean_y = lines.lines.data(0)
    assert mean_y.max() < 2.0  # ... which the bin means alone would hide
    # Zoomed into a range, the steps in view are re-binned (finer than the whole run's).
    whole_width = np.diff(lines._x).max()
    lines.plot.vb.setRange(xRange=(49_000, 51_000), padding=0)
    lines._stop_following()
    qtbot.waitUntil(lambda: lines._x is not None and lines._x.max() < 52_000, timeout=5000)
    assert np.diff(lines._x).max() < whole_width
    assert lines.envelopes[0][1].max() >= 2.99
    loss = window.views["loss"]
    assert len(loss.loss_band.getData()[0]) > 0


def test_live_run_every_view_quotes_the_same_reading(app, qtbot, window):
    configure(app, window, SMALL.replace(steps=100_000))
    window.speed.setValue(4)  # 20 steps a second
    window.start_training()
    qtbot.waitUntil(lambda: window.session.run.history.step >= 40, timeout=20_000)
    window.toggle_training()
    qtbot.waitUntil(lambda: window.session.state == "paused")
    history = window.session.run.history
    held = history.step
    reading = readings.grad_reading(history)
    assert reading is not None and reading.step == held
    draw_every_view(window, qtbot)
    diagram, bars = window.diagram, window.views["bars"]
    qtbot.waitUntil(lambda: diagram.step == held and bars.reading is not None
                    and bars.reading.step == held, timeout=5000)
    ratio = readable(readings.ratio_label(reading, 0))
    norm = readings.norm_label(reading, 0)
    assert f"step {held:,}" in diagram.caption
    assert ratio in diagram.caption and norm in diagram.caption
    # The few words a narrow panel shows instead quote the same ratio.
    assert diagram.short_caption == f"hidden 1: {ratio} of output"
    assert bars.values == [readings.norm_label(reading, i) for i in range(history.n_layers)]
    np.testing.assert_array_equal(bars.reading.norms, reading.norms)
    window.status.update()
    assert window.status.grad.text() == f"hidden 1: ‖∇W‖ {norm} · {ratio} of out"
    qtbot.waitUntil(lambda: window.banner.findings == diagnose(history), timeout=5000)
    summary = summary_text(history, "live")
    assert f"step {held}" in summary
    row = next(line for line in summary.splitlines() if line.startswith("hidden 1 "))
    assert norm in row and readings.ratio_label(reading, 0) in row
    # The signal across depth draws the three quantities of this run.
    signal = window.views["signal"]
    window.docks["signal"].raise_()
    signal.mark_dirty()
    def drawn(k: str) -> int:
        x, _ = signal.now[k].getData()
        return 0 if x is None else len(x)

    qtbot.waitUntil(lambda: all(drawn(k) == history.n_layers
                                for k in ("signal_std", "backprop_grad", "grad_norm")),
                    timeout=5000)


def test_reset_leaves_no_stale_state(app, qtbot, window):
    configure(app, window, SMALL.replace(steps=100_000))
    window.speed.setValue(len(window.speed_values()) - 1)
    window.start_training()
    qtbot.waitUntil(lambda: window.session.run.history.step >= 300, timeout=20_000)
    window.toggle_training()
    qtbot.waitUntil(lambda: window.session.state == "paused")
    draw_every_view(window, qtbot)
    window.reset_training()
    qtbot.waitUntil(lambda: window.session.state == "ready" and views_follow(window),
                    timeout=20_000)
    draw_every_view(window, qtbot)
    qtbot.wait(200)
    v = window.views
    assert v["boundary"].caption.toPlainText() in ("", "step 0")  # the new run's, if any
    assert len(v["bars"].marks.data) == 0 and not v["bars"].zero_label.isVisible()
    assert v["lines"].plot.vb.viewRange()[0][1] < 50
    assert v["loss"].loss_plot.vb.viewRange()[0][1] < 50
    assert window.diagram.caption == ""
    assert window.status.grad.text() == ""
    assert len(v["signal"].zeros.getData()[0]) == 0
