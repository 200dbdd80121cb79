"""BoldCurve draws a 2-pixel curve as three shifted 1-pixel ones: it must look like the 2-pixel
pen it stands for (the same line, as thick), and fall back to pyqtgraph's own drawing where
the trick does not apply."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg

from tests.qt.helpers import rgb_pixels
from vgrad_gui.qt.plots.bold_curve import BoldCurve

COLOUR = (250, 200, 20)


def drawn(curve: pg.PlotCurveItem | pg.PlotDataItem, qtbot) -> np.ndarray:
    """Where the curve's colour is, in a 600 x 300 plot of it."""
    widget = pg.PlotWidget(background=(0, 0, 0))
    qtbot.addWidget(widget)
    widget.resize(600, 300)
    widget.hideAxis("left")
    widget.hideAxis("bottom")
    widget.addItem(curve)
    x, y = curve.getData()
    widget.setXRange(float(x.min()), float(x.max()), padding=0.02)  # the same in every plot
    widget.setYRange(float(y.min()), float(y.max()), padding=0.05)
    widget.show()
    qtbot.waitExposed(widget)
    rgb = rgb_pixels(widget.grab().toImage())
    return (np.abs(rgb - np.array(COLOUR)).max(axis=-1) <= 8)


def noisy() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    x = np.arange(400.0)
    return x, np.exp(-x / 150) + 0.05 * rng.standard_normal(400)


def test_a_bold_curve_covers_what_a_two_pixel_pen_covers(app, qtbot):
    x, y = noisy()
    bold = drawn(BoldCurve(x, y, pen=pg.mkPen(COLOUR, width=2), antialias=False), qtbot)
    wide = drawn(pg.PlotCurveItem(x, y, pen=pg.mkPen(COLOUR, width=2), antialias=False),
                 qtbot)
    thin = drawn(pg.PlotCurveItem(x, y, pen=pg.mkPen(COLOUR, width=1), antialias=False),
                 qtbot)
    assert thin.sum() > 500  # the plot shows the curve at all
    # As thick as the 2-pixel pen (within a fifth), twice the 1-pixel line...
    assert 0.8 < bold.sum() / wide.sum() < 1.25
    assert bold.sum() > 1.6 * thin.sum()
    # ...along the same line: nearly every pixel of one is on or next to the other.
    near = np.zeros_like(wide)
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            near |= np.roll(np.roll(wide, dy, axis=0), dx, axis=1)
    assert (bold & near).sum() >= 0.97 * bold.sum()
    assert thin[bold].mean() > 0 and (bold[thin]).mean() > 0.97  # the thin line lies inside


def test_thin_and_antialiased_curves_are_drawn_as_pyqtgraph_draws_them(app, qtbot):
    x, y = noisy()
    for pen_width, antialias in ((1, False), (2, True)):
        ours = drawn(BoldCurve(x, y, pen=pg.mkPen(COLOUR, width=pen_width),
                               antialias=antialias), qtbot)
        theirs = drawn(pg.PlotCurveItem(x, y, pen=pg.mkPen(COLOUR, width=pen_width),
                                        antialias=antialias), qtbot)
        assert (ours == theirs).all()


def test_a_translucent_thin_curve_is_drawn_opaque_in_the_colour_it_shows(app, qtbot):
    """The min-max bands: faint strokes, drawn opaque in the colour one translucent stroke
    has over the background; strokes drawn over each other no longer add up."""
    from PySide6.QtGui import QColor

    from vgrad_gui.qt import theme

    faint = QColor(*COLOUR)
    faint.setAlpha(80)
    background = QColor(theme.BACKGROUND)
    bg = np.array([background.red(), background.green(), background.blue()])
    once = np.round(bg + (np.array(COLOUR) - bg) * 80 / 255)
    twice = np.round(once + (np.array(COLOUR) - once) * 80 / 255)
    widget = pg.PlotWidget(background=background)
    qtbot.addWidget(widget)
    widget.resize(600, 300)
    widget.hideAxis("left")
    widget.hideAxis("bottom")
    # The same vertical stroke, twice (a band's strokes of two layers that overlap).
    x, y = np.array([1.0, 1.0, 1.0, 1.0]), np.array([0.0, 1.0, 0.0, 1.0])
    curve = BoldCurve(x, y, pen=pg.mkPen(faint, width=1), antialias=False, connect="pairs")
    widget.addItem(curve)
    widget.setXRange(0, 2, padding=0)
    widget.setYRange(-0.5, 1.5, padding=0)
    widget.show()
    qtbot.waitExposed(widget)
    rgb = rgb_pixels(widget.grab().toImage())
    assert (np.abs(rgb - once).max(axis=-1) <= 2).sum() > 50  # the stroke, blended once
    assert not (np.abs(rgb - twice).max(axis=-1) <= 2).any()  # never twice
    assert curve.opts["pen"].color().alpha() == 80  # the item keeps its own pen


def test_a_bold_data_item_draws_its_line_as_a_bold_curve_and_keeps_its_symbols(app, qtbot):
    """The loss view's accuracy lines (dots for a short run): PlotDataItems whose line is a
    BoldCurve, drawn as the BoldCurve alone draws it."""
    from vgrad_gui.qt.plots.bold_curve import BoldDataItem

    x, y = noisy()
    item = BoldDataItem(x, y, pen=pg.mkPen(COLOUR, width=2), antialias=False)
    assert isinstance(item.curve, BoldCurve) and item.curve.parentItem() is item
    assert len(item.childItems()) == 2  # its line and its scatter, no stray plain curve
    ours = drawn(item, qtbot)
    alone = drawn(BoldCurve(x, y, pen=pg.mkPen(COLOUR, width=2), antialias=False), qtbot)
    assert ours.sum() > 500 and (ours == alone).all()
    dots = BoldDataItem(x[:20], y[:20], pen=pg.mkPen(COLOUR, width=2), symbol="o",
                        symbolSize=5, symbolBrush=COLOUR)  # a short run's few evaluations
    assert dots.scatter.isVisible() and len(dots.scatter.data) == 20
    assert len(dots.curve.getData()[0]) == 20
