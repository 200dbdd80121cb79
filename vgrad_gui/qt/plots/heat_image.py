"""The heatmap's picture: one pixel per (layer, span of steps), coloured through the heat LUT.

pyqtgraph's ImageItem turns a uint8 image with a LUT into an indexed QImage, and QPainter
converts an indexed image to RGB at every paint: 1.1-1.3 ms for 50 x 400 pixels, 2.5 ms with
smooth scaling, against 0.2-0.3 ms for an RGB32 image (measured); and the view coloured every
column again at every frame (0.4-0.6 ms, plus 0.6-0.9 ms of ImageItem's render). Here the
colours live in a premultiplied ARGB32 buffer that a refresh updates only from the first
column that changed (a live run adds a column or two a frame), and a paint draws it as it is.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF
from PySide6.QtGui import QImage, QPainter

from vgrad_gui.qt import theme
from vgrad_gui.qt.guard import guard_item_classes


class HeatImage(pg.GraphicsObject):
    """``image``: the heat indices drawn (``theme.heat_indices``, one row per layer, input
    first), or None; ``rect``: where they are drawn, in the plot's coordinates."""

    def __init__(self) -> None:
        super().__init__()
        self.image: np.ndarray | None = None
        self.rect = QRectF()
        self._words = np.zeros((0, 0), np.uint32)  # rows x capacity; the first columns used
        self._qimage: QImage | None = None
        self._lut = theme.argb32(theme.heat_lut())

    def clear(self) -> None:
        self.prepareGeometryChange()
        self.image, self._qimage, self.rect = None, None, QRectF()
        self.update()

    def show_indices(self, indices: np.ndarray, rect: QRectF, changed_from: int = 0) -> None:
        """Draw ``indices`` (rows x columns, uint8) in ``rect``; only columns from
        ``changed_from`` on differ from what was drawn before (0: all of them)."""
        rows, cols = indices.shape
        if self.image is None or self.image.shape[0] != rows or changed_from <= 0:
            changed_from = 0
        if self._words.shape[0] != rows or self._words.shape[1] < cols:
            # Room to grow: a live run adds a column every few frames.
            grown = np.zeros((rows, max(cols, 2 * self._words.shape[1], 64)), np.uint32)
            if changed_from:  # the same rows as before (checked above)
                grown[:, :changed_from] = self._words[:, :changed_from]
            self._words = grown
        # mode="clip": uint8 indices into 256 colours are always in range, and with out= the
        # default "raise" checks through a buffer, 2-3 times slower.
        np.take(self._lut, indices[:, changed_from:], out=self._words[:, changed_from:cols],
                mode="clip")
        self.image = indices
        self._qimage = QImage(self._words.data, cols, rows, self._words.shape[1] * 4,
                              QImage.Format.Format_ARGB32_Premultiplied)
        if rect != self.rect:
            self.prepareGeometryChange()
            self.rect = QRectF(rect)
        self.update()

    def recolour(self) -> None:
        """The theme's heat map changed: colour every column again."""
        self._lut = theme.argb32(theme.heat_lut())
        if self.image is not None:
            self.show_indices(self.image, self.rect)

    def boundingRect(self) -> QRectF:
        return QRectF(self.rect)

    def paint(self, p: QPainter, *args: Any) -> None:
        if self._qimage is None or self.image is None or self.rect.isEmpty():
            return
        rows, cols = self.image.shape
        p.drawImage(self.rect, self._qimage, QRectF(0, 0, cols, rows))


guard_item_classes(HeatImage)
