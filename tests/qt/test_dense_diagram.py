"""The network diagram's dense picture is drawn as one image (plots/dense_raster): it must look
like the bands and squares QPainter drew one by one, in the colours the diagram gives each
layer, and a painted diagram must show them."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QImage, QPainter, QPen, QPolygonF

from tests.qt.helpers import rgb_pixels
from tests.qt.test_readings_views import show, synthetic
from vgrad_gui.qt import theme
from vgrad_gui.qt.plots.dense_raster import DenseRaster


def layout(n_layers: int, width: int, height: int, r: float) -> tuple[list[float],
                                                                       list[list[float]]]:
    """Columns as the diagram lays them out: two inputs, ten units a hidden layer, two
    outputs, spread over the height."""
    xs = [40 + (width - 80) * i / n_layers for i in range(n_layers + 1)]
    ys = []
    for c in range(n_layers + 1):
        k = 10 if 0 < c < n_layers else 2
        ys.append([46 + (height - 94) * (j + 0.5) / k for j in range(k)])
    return xs, ys


def painted(width: int, height: int, xs: list[float], ys: list[list[float]], r: float,
            background: QColor, bands: list[QColor], units: list[QColor],
            outline: QColor) -> np.ndarray:
    """The picture as the diagram drew it before: a polygon per band, rectangles per column,
    unantialiased."""
    image = QImage(width, height, QImage.Format.Format_RGB32)
    p = QPainter(image)
    p.fillRect(image.rect(), background)
    p.setPen(Qt.PenStyle.NoPen)
    for i, colour in enumerate(bands):
        p.setBrush(colour)
        p.drawPolygon(QPolygonF([QPointF(xs[i], ys[i][0]), QPointF(xs[i + 1], ys[i + 1][0]),
                                 QPointF(xs[i + 1], ys[i + 1][-1]),
                                 QPointF(xs[i], ys[i][-1])]))
    p.setPen(QPen(outline, 1))
    for c, x in enumerate(xs):
        p.setBrush(units[c])
        p.drawRects([QRectF(x - r, y - r, 2 * r, 2 * r) for y in ys[c]])
    p.end()
    return rgb_pixels(image)


@pytest.mark.parametrize("n_layers,width,height,r", [
    (10, 700, 280, 6.0), (50, 426, 217, 3.0), (200, 812, 268, 2.0), (37, 641, 333, 4.5),
    (120, 1000, 250, 2.0)])
def test_the_image_matches_the_shapes_qpainter_drew(app, n_layers, width, height, r):
    rng = np.random.default_rng(n_layers)
    xs, ys = layout(n_layers, width, height, r)
    background = QColor(theme.BACKGROUND)
    bands = [QColor(*rng.integers(0, 256, 3).tolist()) for _ in range(n_layers)]
    units = []
    for _ in range(n_layers + 1):
        c = QColor(*rng.integers(0, 256, 3).tolist())
        c.setAlphaF(float(rng.uniform(0.1, 1.0)))
        units.append(c)
    outline = QColor(theme.TEXT_DIM)
    outline.setAlphaF(0.35)
    expected = painted(width, height, xs, ys, r, background, bands, units, outline)

    raster = DenseRaster(width, height, xs, ys, r)
    got = rgb_pixels(raster.image(
        np.array([background.red(), background.green(), background.blue()], np.float32),
        np.array([[c.red(), c.green(), c.blue()] for c in bands], np.float32),
        np.array([[c.red(), c.green(), c.blue(), c.alphaF()] for c in units], np.float32),
        np.array([outline.red(), outline.green(), outline.blue(), outline.alphaF()],
                 np.float32)))

    # The same pixels, in the same colours but for rounding, at 200 layers too, where each
    # column's squares overlap their neighbours'.
    off = np.abs(got - expected).max(axis=-1) > 2
    assert not off.any(), f"{off.sum()} pixels differ"
    squares = raster.slot > n_layers
    for i in range(n_layers):  # the middle of each band, between squares
        x = int((xs[i] + xs[i + 1]) / 2)
        y = int((ys[i][0] + ys[i][-1]) / 2)
        if not squares[y, x]:
            assert tuple(got[y, x]) == (bands[i].red(), bands[i].green(), bands[i].blue())


def test_a_painted_deep_diagram_shows_each_layers_band_colour(app, qtbot, window):
    norms = np.logspace(-12, -2, 60)  # fades from the output down to the input
    norms[3], norms[7] = 0.0, np.nan  # no gradient, and NaN: their classes' own colours
    show(window, qtbot, synthetic(norms))
    diagram = window.diagram
    qtbot.waitUntil(lambda: len(diagram.levels) == len(norms))
    image = rgb_pixels(diagram.grab().toImage())
    xs, ys, _ = diagram._geometry()
    assert xs[1] - xs[0] < 14  # dense: bands, not lines
    background = QColor(theme.BACKGROUND)
    ratio = diagram.devicePixelRatioF()
    checked = 0
    for i in range(len(norms)):
        x, y = (xs[i] + xs[i + 1]) / 2, (ys[i][0] + ys[i][-1]) / 2
        # Between two rows of squares, so the band shows.
        y = (ys[i + 1][len(ys[i + 1]) // 2 - 1] + ys[i + 1][len(ys[i + 1]) // 2]) / 2 \
            if 0 < i < len(norms) - 1 else y
        want = diagram._band_colour(i, background)
        got = image[int(y * ratio), int(x * ratio)]
        assert tuple(got) == (want.red(), want.green(), want.blue()), i
        checked += 1
    assert checked == len(norms)
    zero, nan = QColor(theme.ZERO), QColor(theme.NONFINITE)
    assert diagram.layer_colour(3).rgb() == zero.rgb() and diagram.layer_colour(7).rgb() == \
        nan.rgb()
    # Input layers faded, output layers bright: the picture the diagram is for.
    assert diagram._band_colour(0, background).lightness() < \
        diagram._band_colour(len(norms) - 1, background).lightness()
