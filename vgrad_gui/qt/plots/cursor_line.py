"""The timeline's cursor drawn on a plot over steps: a vertical line at the step shown, only
while the timeline is not following the live run."""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtCore import Qt

from vgrad_gui.qt import theme


class CursorLine:
    def __init__(self, plot: pg.PlotItem) -> None:
        self.line = pg.InfiniteLine(angle=90, movable=False,
                                    pen=pg.mkPen(theme.ACCENT, width=2,
                                                 style=Qt.PenStyle.DashLine))
        self.line.setZValue(50)
        plot.addItem(self.line, ignoreBounds=True)
        self.line.hide()

    def show_at(self, step: int | None) -> None:
        """At ``step`` (None: following live, no line)."""
        if step is None:
            self.line.hide()
            return
        self.line.setPos(float(step))
        self.line.show()
