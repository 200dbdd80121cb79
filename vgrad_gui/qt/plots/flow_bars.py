"""View 4: gradient flow bars: each layer's current gradient norm (log scale) against the
output layer's, drawn as a dashed reference line."""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg

from vgrad_gui.qt import theme
from vgrad_gui.qt.plots.base import DecadeAxis, PlotView, set_axis_label
from vgrad_gui.qt.plots.heatmap import LayerAxis
from vgrad_gui.qt.session import RunInfo, TrainingSession

RECENT = 20  # steps averaged for the "current" norm


class FlowBarsView(PlotView):
    title = "Gradient flow"
    every, phase = 2, 1  # 30 Hz, on the frames the gradient lines skip

    def __init__(self, session: TrainingSession) -> None:
        super().__init__(session)
        self.layer_axis = LayerAxis("bottom")
        self.plot = self.add_plot(axisItems={"left": DecadeAxis("left"),
                                             "bottom": self.layer_axis})
        self.plot.showGrid(x=False, y=True, alpha=0.15)
        set_axis_label(self.plot, "left", "‖∇W‖ now")
        set_axis_label(self.plot, "bottom", "layer (input → output)  ·  dashed: the output "
                       "layer's norm")
        self.bars = pg.BarGraphItem(x=[], height=[], width=0.8)
        self.plot.addItem(self.bars)
        # The reference line is named in the axis label: a label on the line itself would
        # cover the bars it is compared with.
        dash = pg.mkPen(theme.TEXT, width=2, style=pg.QtCore.Qt.PenStyle.DashLine)
        self.reference = pg.InfiniteLine(angle=0, pen=dash)
        self.plot.addItem(self.reference)
        self.plot.setMouseEnabled(False, False)
        self.colours: list = []
        self._y_range: tuple[float, float] | None = None
        self.setToolTip("The latest gradient norm of each layer (mean of the last "
                        f"{RECENT} steps), on a log scale; the dashed line is the output "
                        "layer's.\nBars far below the line belong to layers that barely learn.")

    def on_run(self, info: RunInfo) -> None:
        n = info.history.n_layers
        self.layer_axis.configure(n)
        self.colours = [pg.mkBrush(c) for c in theme.depth_colours(n)]
        self._empty(n)
        self.plot.setRange(xRange=(0, n), yRange=(-8, 1), padding=0.02)
        self._y_range = None
        self.reference.hide()

    def _empty(self, n: int) -> None:
        # Every per-bar option is set together, always of length n: n bars with the brushes
        # of a shallower run made pyqtgraph raise IndexError while painting (a crash).
        self.bars.setOpts(x=np.arange(n) + 0.5, height=np.zeros(n), y0=np.zeros(n),
                          brushes=list(self.colours), pens=None, width=0.8)

    def refresh(self) -> None:
        if self.info is None:
            return
        h = self.info.history
        _, rows = h.steps.raw(h.cols("steps", "grad_norm"))
        n = h.n_layers
        if len(rows) == 0 or rows.shape[1] != n or len(self.colours) != n:
            self._empty(n)
            return
        recent = rows[-RECENT:].astype(np.float64)
        norms = recent.mean(0) if np.isfinite(recent[-1]).all() else recent[-1]
        with np.errstate(divide="ignore", invalid="ignore"):
            logs = np.log10(norms)
        finite = np.isfinite(logs)
        lo = math.floor(min(float(logs[finite].min()), -1.0)) - 1 if finite.any() else -8
        hi = math.ceil(max(float(logs[finite].max()), 0.0)) + 1 if finite.any() else 1
        if self._y_range is None or lo < self._y_range[0] or hi > self._y_range[1]:
            self._y_range = (lo, hi)
            self.plot.setRange(xRange=(0, n), yRange=(lo, hi), padding=0)
        base = self._y_range[0]
        heights = np.where(finite, logs - base, self._y_range[1] - base)
        brushes = [self.colours[i] if finite[i] else pg.mkBrush(theme.NONFINITE)
                   for i in range(n)]
        self.bars.setOpts(x=np.arange(n) + 0.5, height=heights, y0=np.full(n, base),
                          brushes=brushes, pens=None, width=0.8)
        if finite[-1]:
            self.reference.setPos(float(logs[-1]))
            self.reference.show()
        else:
            self.reference.hide()
