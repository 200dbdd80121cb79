"""BoldCurve draws a 2-pixel curve as three shifted 1-pixel ones: it must look like the 2-pixel
pen it stands for (the same line, as thick), and fall back to pyqtgraph's own drawing where
the trick does not apply."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtGui import QImage

from vgrad_gui.qt.plots.bold_curve import BoldCurve

COLOUR = (250, 200, 20)


def drawn(curve: pg.PlotCurveItem, qtbot) -> np.ndarray:
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
    image = widget.grab().toImage().convertToFormat(QImage.Format.Format_RGB32)
    words = np.frombuffer(image.constBits(), np.uint32, image.sizeInBytes() // 4)
    words = words.reshape(image.height(), -1)[:, :image.width()]
    rgb = np.stack([(words >> s) & 0xFF for s in (16, 8, 0)], axis=-1).astype(int)
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
