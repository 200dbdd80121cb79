"""What every view shares: it follows a session, redraws only when shown and when its data
changed, at most ``max_hz`` times a second, and reports its paints for latency measurement."""

from __future__ import annotations

import time

import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QPaintEvent
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from vgrad_gui.qt import theme
from vgrad_gui.qt.session import RunInfo, TrainingSession


class View(QWidget):
    """A live view. Subclasses implement ``on_run`` (a new run: rebuild) and ``refresh``
    (draw the history's current state)."""

    title = "View"
    max_hz = 60.0

    def __init__(self, session: TrainingSession, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.info: RunInfo | None = None
        self._stale = False
        self._last_refresh = 0.0
        self._seen_version = -1
        self._later = QTimer(self)
        self._later.setSingleShot(True)
        self._later.timeout.connect(self._on_frame)
        session.runChanged.connect(self._on_run)
        session.frame.connect(self._on_frame)
        self.setMinimumSize(160, 120)

    def _on_run(self, info: RunInfo) -> None:
        self.info = info
        self._seen_version = -1
        self.on_run(info)
        self._stale = True
        self._on_frame()

    def _on_frame(self) -> None:
        if self.info is None:
            return
        if not self.is_shown():
            self._stale = True
            return
        now = time.monotonic()
        wait = self._last_refresh + 1.0 / self.max_hz - now
        if wait > 0:
            # Too soon: draw once the interval is over, so the last frame is never lost.
            self._stale = True
            if not self._later.isActive():
                self._later.start(int(wait * 1000) + 1)
            return
        self._last_refresh = now
        self._stale = False
        self.refresh()

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if self._stale:
            self._on_frame()

    def is_shown(self) -> bool:
        """Visible on screen: not in a hidden dock tab, not closed, window not minimised.
        (visibleRegion() would not do: children that cover a view empty its region.)"""
        return self.isVisible() and not self.window().isMinimized()

    def on_run(self, info: RunInfo) -> None:
        raise NotImplementedError

    def refresh(self) -> None:
        raise NotImplementedError


class PlotView(View):
    """A view holding one pyqtgraph plot, themed and with readable axes."""

    def __init__(self, session: TrainingSession, parent: QWidget | None = None) -> None:
        super().__init__(session, parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.setSpacing(2)
        self.note = QLabel("")
        self.note.setObjectName("viewNote")
        self.note.setWordWrap(True)
        self.note.hide()
        self.graphics = TimedGraphicsLayoutWidget(session)
        layout.addWidget(self.graphics, 1)
        layout.addWidget(self.note)

    def add_plot(self, row: int = 0, col: int = 0, **kwargs) -> pg.PlotItem:
        plot = self.graphics.addPlot(row=row, col=col, **kwargs)
        style_plot(plot)
        return plot

    def show_note(self, text: str) -> None:
        self.note.setText(text)
        self.note.setVisible(bool(text))


class TimedGraphicsLayoutWidget(pg.GraphicsLayoutWidget):
    """Tells the session when it has painted (for the step-to-pixel latency figure)."""

    def __init__(self, session: TrainingSession) -> None:
        super().__init__()
        self._session = session

    def paintEvent(self, ev: QPaintEvent) -> None:
        super().paintEvent(ev)
        self._session.painted()


def style_plot(plot: pg.PlotItem) -> None:
    for name in ("left", "bottom", "right", "top"):
        axis = plot.getAxis(name)
        axis.setStyle(tickFont=theme.font(0.9), tickTextOffset=6)
        axis.setTextPen(theme.TEXT)
        axis.setPen(pg.mkPen(theme.TEXT_DIM))
        axis.enableAutoSIPrefix(False)  # "loss (x0.001)" confuses more than it helps
    plot.showGrid(x=True, y=True, alpha=0.15)
    plot.setMenuEnabled(True)
    plot.hideButtons()


def set_axis_label(plot: pg.PlotItem, side: str, text: str) -> None:
    plot.setLabel(side, text, **{"font-size": f"{theme.point_size(0.95):.0f}pt",
                                 "color": theme.TEXT})


class DecadeAxis(pg.AxisItem):
    """An axis over log10 values that labels whole decades: 10⁻⁸ … 1 … 10²."""

    def tickValues(self, minVal, maxVal, size):
        lo, hi = int(min(minVal, maxVal) // 1), int(max(minVal, maxVal) // 1) + 1
        span = max(1, hi - lo)
        px_per_decade = size / span
        step = 1
        for s in (1, 2, 3, 4, 5, 10, 20):
            step = s
            if px_per_decade * s >= 28:
                break
        major = [float(v) for v in range(lo, hi + 1) if v % step == 0]
        return [(float(step), major)]

    def tickStrings(self, values, scale, spacing):
        return [theme.decade_label(v) for v in values]


def no_data_label(text: str) -> QLabel:
    label = QLabel(text)
    label.setAlignment(Qt.AlignmentFlag.AlignCenter)
    label.setWordWrap(True)
    label.setObjectName("viewNote")
    return label
