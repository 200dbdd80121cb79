"""LineSet draws many lines as one item: each line must come out pixel for pixel as its own
curve item would draw it (a BoldCurve for a bold pen), with gaps where the data are not
finite; hiding a line (a click on its legend sample) leaves the others."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
import pytest

from tests.qt.helpers import rgb_pixels
from vgrad_gui.qt.plots.bold_curve import BoldCurve
from vgrad_gui.qt.plots.line_set import LineSet

COLOURS = [(250, 200, 20), (40, 220, 120), (230, 60, 200)]


def grab(items: list[pg.GraphicsObject], qtbot) -> np.ndarray:
    widget = pg.PlotWidget(background=(0, 0, 0))
    qtbot.addWidget(widget)
    widget.resize(600, 300)
    widget.hideAxis("left")
    widget.hideAxis("bottom")
    for item in items:
        widget.addItem(item)
    widget.setXRange(0, 400, padding=0.02)
    widget.setYRange(-1.5, 3.5, padding=0.05)
    widget.show()
    qtbot.waitExposed(widget)
    return rgb_pixels(widget.grab().toImage())


def data() -> tuple[np.ndarray, list[np.ndarray]]:
    rng = np.random.default_rng(1)
    x = np.arange(400.0)
    ys = [k + np.exp(-x / 150) + 0.2 * rng.standard_normal(400) for k in range(3)]
    ys[1][100:130] = np.nan  # a gap (NaN)
    ys[2][300] = np.inf  # and a non-finite step
    return x, ys


def pens(widths: list[float]) -> list:
    return [pg.mkPen(c, width=w) for c, w in zip(COLOURS, widths, strict=True)]


@pytest.mark.parametrize("widths", [[1, 1, 1], [1, 1, 2]])
def test_each_line_is_drawn_as_its_own_curve_would_be(app, qtbot, widths):
    x, ys = data()
    lines = LineSet()
    lines.set_pens(pens(widths))
    lines.set_data(x, ys)
    ours = grab([lines], qtbot)
    curves = [BoldCurve(x, y, pen=pen, antialias=False, connect="finite")
              for y, pen in zip(ys, pens(widths), strict=True)]
    theirs = grab(curves, qtbot)
    for colour in COLOURS:  # every line shows, on the same pixels
        assert (theirs == colour).all(axis=-1).sum() > 300
    assert (ours == theirs).all()


def test_a_gap_where_the_data_are_not_finite(app, qtbot):
    x, ys = data()
    lines = LineSet()
    lines.set_pens(pens([1, 1, 1]))
    lines.set_data(x, ys)
    x0, x1 = lines.data(1)[0][[100, 129]]
    shown = (grab([lines], qtbot) == COLOURS[1]).all(axis=-1)
    # Columns of the gap (well inside it) hold none of that line's pixels.
    # x from -8 to 408 (2% padding) over 600 pixels; 8 steps inside each end of the gap.
    left = int(600 * (float(x0) + 8 + 8) / 416)
    right = int(600 * (float(x1) - 8 + 8) / 416)
    assert shown[:, left:right].sum() == 0
    assert shown[:, :left].sum() > 100


def test_a_hidden_line_leaves_the_others(app, qtbot):
    x, ys = data()
    lines = LineSet()
    lines.set_pens(pens([1, 1, 1]))
    lines.set_data(x, ys)
    sample = lines.legend_sample(0)
    sample.setVisible(False)  # what a click on its legend sample does
    assert not lines.line_visible(0)
    sample.setVisible(True)
    assert lines.line_visible(0)
    sample.setVisible(False)
    rgb = grab([lines], qtbot)
    assert not (rgb == COLOURS[0]).all(axis=-1).any()
    assert (rgb == COLOURS[1]).all(axis=-1).sum() > 300


def test_wrong_line_counts_are_refused(app):
    lines = LineSet()
    lines.set_pens(pens([1, 1, 1]))
    with pytest.raises(ValueError, match="2 lines of data for 3 pens"):
        lines.set_data(np.arange(3.0), [np.zeros(3), np.zeros(3)])


def test_legend_samples_are_kept_across_new_pens_and_show_the_new_colour(app):
    lines = LineSet()
    lines.set_pens(pens([1, 1, 1]))
    sample = lines.legend_sample(2)
    sample.setVisible(False)
    lines.set_pens(pens([1, 1, 2])[::-1])  # a new run: other colours, every line shown
    again = lines.legend_sample(2)
    assert again is sample and sample.isVisible() and lines.line_visible(2)
    assert again.opts["pen"].color().getRgb()[:3] == COLOURS[0]
    lines.set_pens(pens([1, 1, 1])[:1])  # fewer lines: a kept sample's clicks change nothing
    sample.setVisible(False)
    assert lines.line_visible(0)
