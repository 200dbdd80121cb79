"""Many thin lines in one plot item: the gradient-lines view's one line per layer.

pyqtgraph's PlotCurveItem is a Python item each: the scene asks every one for its bounds,
shape and paint, and each paint re-checks its options, so 21 noisy 600-point curves painted
in 14-19 ms, against 4-7 ms for the same paths drawn by one item (measured offscreen). The
lines of one view always change together, so they are one item: their paths are built when
the data change (at the view's rate) and the paint only strokes them. A pen of 1.5 pixels or
more is drawn as three shifted 1-pixel strokes, as BoldCurve draws it (plots/bold_curve.py).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF
from PySide6.QtGui import QPainter, QPainterPath, QPen, QTransform

from vgrad_gui.qt.guard import guard_item_classes
from vgrad_gui.qt.plots.bold_curve import SHIFTS


class LineSet(pg.GraphicsObject):
    """Lines ``0..n-1``, each its own pen and data; hidden ones keep their data."""

    def __init__(self) -> None:
        super().__init__()
        self._pens: list[QPen] = []
        self._data: list[tuple[np.ndarray, np.ndarray]] = []
        self._paths: list[QPainterPath] = []
        self._hidden: set[int] = set()
        self._bounds = QRectF()
        self._samples: dict[int, pg.PlotDataItem] = {}

    def set_pens(self, pens: list[QPen]) -> None:
        """One 1-pixel-or-wider cosmetic pen per line; the lines' data are cleared."""
        self._pens = [QPen(pen) for pen in pens]
        for pen in self._pens:
            pen.setCosmetic(True)
        self._hidden.clear()
        for index, sample in self._samples.items():  # kept: making one costs milliseconds
            sample.blockSignals(True)
            sample.setVisible(True)
            sample.blockSignals(False)
            if index < len(self._pens):
                sample.setPen(self._pens[index])
        self.set_data(np.empty(0), [np.empty(0)] * len(pens))

    def restyle_pens(self, swap: Callable[[QPen], QPen | None]) -> None:
        """Recolour the pens ``swap`` changes (a theme change: theme._restyle_item), and the
        legend samples drawn in them."""
        for index, pen in enumerate(self._pens):
            new = swap(pen)
            if new is not None:
                self._pens[index] = QPen(new)
                if index in self._samples:
                    self._samples[index].setPen(new)
        self.update()

    def legend_sample(self, index: int) -> pg.PlotDataItem:
        """An item a legend can show for line ``index``: drawn in its pen, and clicking the
        legend's sample hides and shows the line, as it would a curve of its own."""
        if index in self._samples:
            return self._samples[index]
        sample = pg.PlotDataItem(pen=self._pens[index])
        # A bound method, not a lambda: Qt drops the connection when this item is deleted.
        sample.visibleChanged.connect(self._sample_toggled)
        self._samples[index] = sample
        return sample

    def _sample_toggled(self) -> None:
        for index, sample in self._samples.items():
            if sample is self.sender():
                self.set_line_visible(index, sample.isVisible())

    def set_data(self, x: np.ndarray, ys: list[np.ndarray]) -> None:
        """Every line's y over the same x; NaN and ±inf leave gaps."""
        if len(ys) != len(self._pens):
            raise ValueError(f"{len(ys)} lines of data for {len(self._pens)} pens")
        x = np.asarray(x, dtype=np.float64)
        self._data = [(x, np.asarray(y, dtype=np.float64)) for y in ys]
        self._paths = [self._path(x, y) for _, y in self._data]
        self._update_bounds()

    def data(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        """Line ``index``'s (x, y) as last set."""
        return self._data[index]

    def __len__(self) -> int:
        return len(self._pens)

    def set_line_visible(self, index: int, visible: bool) -> None:
        if index >= len(self._pens):
            return  # a kept sample of a line the current pens do not have
        if visible:
            self._hidden.discard(index)
        else:
            self._hidden.add(index)
        self.update()

    def line_visible(self, index: int) -> bool:
        return index not in self._hidden

    @staticmethod
    def _path(x: np.ndarray, y: np.ndarray) -> QPainterPath:
        if not len(x):
            return QPainterPath()
        finite = np.isfinite(y)
        if finite.all():
            return pg.arrayToQPath(x, y)
        return pg.arrayToQPath(x, y, connect=finite)

    def _update_bounds(self) -> None:
        self.prepareGeometryChange()
        x0 = x1 = y0 = y1 = np.nan
        for x, y in self._data:
            finite = y[np.isfinite(y)]
            if len(x) and finite.size:
                x0, x1 = np.fmin(x0, x[0]), np.fmax(x1, x[-1])
                y0, y1 = np.fmin(y0, finite.min()), np.fmax(y1, finite.max())
        self._bounds = QRectF() if np.isnan(x0) else \
            QRectF(float(x0), float(y0), float(x1 - x0), float(y1 - y0))
        self.update()

    def boundingRect(self) -> QRectF:
        # The data's rectangle grown by a few pixels: the pens are cosmetic, so their width
        # is in pixels, not in data units.
        if self._bounds.isNull():
            return QRectF()
        px, py = self.pixelVectors()
        pad_x = 3 * abs(px.x()) if px is not None else 0.0
        pad_y = 3 * abs(py.y()) if py is not None else 0.0
        return self._bounds.adjusted(-pad_x, -pad_y, pad_x, pad_y)

    def dataBounds(self, ax: int, frac: float = 1.0, orthoRange: Any = None):
        if self._bounds.isNull():
            return (None, None)
        if ax == 0:
            return (self._bounds.left(), self._bounds.right())
        return (self._bounds.top(), self._bounds.bottom())

    def paint(self, p: QPainter, opt: Any, widget: Any) -> None:
        p.setRenderHint(QPainter.RenderHint.Antialiasing, False)
        base = p.transform()
        for index, (path, pen) in enumerate(zip(self._paths, self._pens, strict=True)):
            if index in self._hidden or path.isEmpty():
                continue
            thin = pen
            bold = pen.widthF() >= 1.5
            if bold:
                thin = QPen(pen)
                thin.setWidthF(1)
            p.setPen(thin)
            for dx, dy in SHIFTS if bold else SHIFTS[:1]:
                if dx or dy:
                    p.setTransform(base * QTransform.fromTranslate(dx, dy))
                p.drawPath(path)
            p.setTransform(base)


guard_item_classes(LineSet)
