"""A curve drawn 2 pixels wide at the cost of 1-pixel lines.

QPainter draws a 1-pixel unantialiased line with a fast line algorithm, and anything wider
through its stroker: for a noisy 700-point curve, 0.3-0.6 ms at 1 pixel against 3-17 ms at 2
(measured), and the live views draw several such curves (compare mode's loss, one per run, the
output layer's gradient). So a pen of 1.5 pixels or more is drawn as the same path three times
with a 1-pixel pen, shifted by one device pixel right and down: a line two pixels wide in every
direction. Translucent lines are QPainter's slow path as well (the faint min-max bands, hundreds
of strokes: 1,100 translucent lines took 31 ms, opaque ones 6.5): a translucent pen is drawn
opaque, in its colour as it looks over the plots' background. Antialiased, filled and
exported curves are drawn as pyqtgraph draws them. The pen keeps its width and colour, so
the item's bounds (pyqtgraph pads them by the width) hold the copies, and a theme change
finds the colour it knows.
"""

from __future__ import annotations

from typing import Any

import pyqtgraph as pg
from PySide6.QtGui import QPainter, QPen, QTransform

from vgrad_gui.qt import theme
from vgrad_gui.qt.guard import guard_item_classes

SHIFTS = ((0, 0), (1, 0), (0, 1))  # device pixels


class BoldCurve(pg.PlotCurveItem):
    def paint(self, p: QPainter, opt: Any, widget: Any) -> None:
        pen = self.opts["pen"]
        simple = (self.xData is not None and len(self.xData) > 0 and pen is not None
                  and pen.isCosmetic() and not self.opts["antialias"]
                  and self._exportOpts is False and self.opts["fillLevel"] is None
                  and self.opts["shadowPen"] is None)
        bold = simple and pen.widthF() >= 1.5
        see_through = simple and pen.color().alpha() < 255
        if not (bold or see_through):
            super().paint(p, opt, widget)
            return
        thin = QPen(pen)
        thin.setWidthF(1)
        if see_through:
            thin.setColor(theme.over(pen.color(), pen.color().alphaF()))
        p.setRenderHint(QPainter.RenderHint.Antialiasing, False)
        p.setPen(thin)
        path = self.getPath()
        base = p.transform()
        for dx, dy in SHIFTS if bold else SHIFTS[:1]:
            p.setTransform(base * QTransform.fromTranslate(dx, dy))
            p.drawPath(path)
        p.setTransform(base)


class BoldDataItem(pg.PlotDataItem):
    """A PlotDataItem (a line that may have symbols) whose line is a BoldCurve: a 2-pixel
    accuracy curve per run painted in ~0.8 ms as a plain curve, a third of that bold."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__()
        plain = self.curve
        plain.setParentItem(None)
        self.curve: pg.PlotCurveItem = BoldCurve()
        self.curve.setParentItem(self)
        self.curve.sigClicked.connect(self.curveClicked)
        self.setData(*args, **kwargs)


guard_item_classes(BoldCurve)
