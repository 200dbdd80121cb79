"""View 1: the gradient norm of every layer over the steps, log scale, coloured by depth.

Each line is the mean of a bin of steps; a faint band around it spans the bin's min and max,
so spikes show at any zoom. Zooming in re-bins the visible steps. A layer whose gradient is
exactly 0 sits on a floor below every value, marked by a grey-blue line ("0: no gradient");
NaN/Inf steps are gaps marked by a cyan line at the top."""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF

from vgrad_gui.core.run import Run
from vgrad_gui.core.workspace import Workspace
from vgrad_gui.qt import theme
from vgrad_gui.qt.clock import FrameClock
from vgrad_gui.qt.plots.axes import DecadeAxis, StepAxis
from vgrad_gui.qt.plots.base import PlotView, set_axis_label, step_axis_end
from vgrad_gui.qt.plots.cursor_line import CursorLine
from vgrad_gui.qt.plots.decimate import Decimator, band_curve, envelope
from vgrad_gui.qt.plots.line_set import LineSet

BAND_PIXELS = 3
MAX_CURVES = 24  # more lines than this cannot be told apart; the heatmap shows every layer


def pick_layers(n: int, most: int = MAX_CURVES) -> list[int]:
    """Evenly spaced layer indices, always including the first hidden and the output layer."""
    if n <= most:
        return list(range(n))
    picked = {round(i * (n - 1) / (most - 1)) for i in range(most)}
    return sorted(picked)


class GradientLinesView(PlotView):
    title = "Gradient norm per layer"
    reads_cursor = False  # the whole history, with a cursor line
    # 10 Hz: 24 lines and their band are among the most expensive refreshes and paints of the
    # window, and a line over thousands of steps moves little between two frames; the heatmap
    # shows every new step. Phase 0: no other view's.
    every, phase = 6, 0

    def __init__(self, workspace: Workspace, clock: FrameClock, position: int = 0) -> None:
        super().__init__(workspace, clock, position)
        self.plot = self.add_plot(axisItems={"left": DecadeAxis("left"), "bottom": StepAxis()})
        self.cursor_lines = [CursorLine(self.plot)]
        set_axis_label(self.plot, "bottom", "step")
        set_axis_label(self.plot, "left", "‖∇W‖")  # the dock title names it; longer was cut off
        # The legend sits in its own row under the plot, where it hides no line.
        self.legend = pg.LegendItem(colCount=6, labelTextSize=f"{theme.point_size(0.85):.0f}pt",
                                    horSpacing=18)
        self.graphics.addItem(self.legend, row=1, col=0)
        self._legend_entries: tuple[tuple[int, str], ...] = ()
        # Every drawn layer's min-max strokes in one curve, one path: a curve per layer
        # doubled the view's paths, and drawPath/arrayToQPath were most of its paint time.
        self.band = band_curve(theme.TEXT, 60)
        self.plot.addItem(self.band)
        # One item for every layer's line: a curve item each cost 3x the paint (line_set).
        self.lines = LineSet()
        self.plot.addItem(self.lines)
        # Where any drawn layer has no gradient (floor) or a non-finite one (top).
        self.zero_line = pg.PlotCurveItem(pen=pg.mkPen(theme.ZERO, width=4), antialias=False)
        self.nan_line = pg.PlotCurveItem(pen=pg.mkPen(theme.NONFINITE, width=4),
                                         antialias=False)
        self.zero_label = pg.TextItem("0: no gradient", color=theme.TEXT, anchor=(0, 1))
        for item in (self.zero_line, self.nan_line, self.zero_label):
            item.hide()
            self.plot.addItem(item, ignoreBounds=item is self.zero_label)
        self.floor = -8.0  # the y of "exactly 0"
        self.envelopes: list[tuple[np.ndarray, np.ndarray]] = []  # per line, as drawn
        self.layers: list[int] = []
        self.bins: Decimator | None = None
        self.follow = True
        self._range: tuple[float, float, float, float] | None = None
        self._logs: np.ndarray | None = None
        self._x: np.ndarray | None = None
        self.hover = pg.TextItem("", color=theme.TEXT, fill=pg.mkBrush(26, 29, 36, 230),
                                 anchor=(0, 1))
        self.hover.setZValue(100)
        self.hover.hide()
        self.plot.addItem(self.hover, ignoreBounds=True)
        self.plot.vb.sigRangeChangedManually.connect(self._stop_following)
        self.plot.vb.sigXRangeChanged.connect(self._x_range_changed)
        self.plot.scene().sigMouseClicked.connect(self._clicked)
        self._mouse = pg.SignalProxy(self.plot.scene().sigMouseMoved, rateLimit=30,
                                     slot=self._moved)
        self.setToolTip("Each line is one layer's weight-gradient norm (log scale), purple at "
                        "the input, yellow at the output.\nHover for values; scroll to zoom; "
                        "double-click to follow the run again.")

    def on_run(self, run: Run) -> None:
        names = run.history.layer_names
        n = len(names)
        self.layers = pick_layers(n)
        colours = theme.depth_colours(n)
        # Measured: 24 noisy 400-point curves paint in 3 ms with 1-pixel pens, 24 ms with
        # 2-pixel pens and 385 ms antialiased; so thin lines, and a thick one for the output
        # layer, the reference every other layer is compared with (drawn at a thin line's
        # cost, as BoldCurve draws it).
        self.lines.set_pens([pg.mkPen(colours[i], width=2 if i == n - 1 else 1)
                             for i in self.layers])
        self.band.setData([], [])
        for item in (self.zero_line, self.nan_line):
            item.setData([], [])
            item.hide()
        self.zero_label.hide()
        self.envelopes = []
        # A few legend entries spread over the depth, among the layers drawn.
        legend_at = {min(self.layers, key=lambda i: abs(i - target))
                     for target in pick_layers(n, 5)} | {n - 1}
        entries = tuple((j, names[i]) for j, i in enumerate(self.layers) if i in legend_at)
        # The same entries (a Reset, the same net again) keep the legend: re-laying it out
        # was most of this view's 25-35 ms rebuild. Its samples took the new pens.
        if entries != self._legend_entries:
            self.legend.clear()
            for j, name in entries:
                self.legend.addItem(self.lines.legend_sample(j), name)
            self._legend_entries = entries
        self.bins = Decimator(run.history.steps, run.history.cols("steps", "grad_norm"))
        self.follow = True
        self._range = None
        # Not the last run's steps while the new one has none (a reset).
        self.plot.vb.setRange(xRange=(0, 10), yRange=(-8, 1), padding=0.02,
                              disableAutoRange=True)
        self._logs = self._x = None  # the hover reads them: never the old run's columns
        self.hover.hide()
        self.show_note("" if n <= MAX_CURVES else
                       f"Showing {len(self.layers)} of {n} layers, evenly spaced; the heatmap "
                       "shows all of them.")

    def on_cursor(self) -> None:
        for line in self.cursor_lines:
            line.show_at(self.shown_step())

    def refresh(self) -> None:
        for line in self.cursor_lines:
            line.show_at(self.shown_step())
        if self.bins is None:
            return
        width = max(100, int(self.plot.vb.width()))
        visible = None if self.follow else tuple(self.plot.vb.viewRange()[0])
        b = self.bins.get(width, visible)
        if not len(b.x):
            self.lines.set_data(np.empty(0), [np.empty(0)] * len(self.layers))
            for c in (self.band, self.zero_line, self.nan_line):
                c.setData([], [])
            self.zero_label.hide()
            self.envelopes = []
            return
        with np.errstate(divide="ignore", invalid="ignore"):
            logs = np.log10(b.mean[:, self.layers])
            lo = np.log10(b.min[:, self.layers].astype(np.float64))
            hi = np.log10(b.max[:, self.layers].astype(np.float64))
        zero = np.isneginf(logs)
        bad = np.isnan(logs) | np.isposinf(logs)
        finite = np.concatenate([logs[np.isfinite(logs)], hi[np.isfinite(hi)]])
        if self.follow:
            self.floor = (math.floor(float(finite.min())) - 1.0) if finite.size else -8.0
        # Exactly 0 is drawn on the floor, never left out (nor taken for NaN).
        logs = np.where(zero, self.floor, logs)
        lo = np.where(np.isneginf(lo), self.floor, lo)
        self._x, self._logs = b.x, np.where(zero, -np.inf, logs)
        self.envelopes = []
        # The band in strokes BAND_PIXELS wide: a third of the strokes, half the paint of this
        # view, and a one-step spike still reaches the screen (the max of the wider span).
        starts = np.arange(0, len(b.x), BAND_PIXELS)
        bx = b.x[starts]
        with np.errstate(invalid="ignore"):
            blo = np.fmin.reduceat(lo, starts, axis=0)
            bhi = np.fmax.reduceat(hi, starts, axis=0)
        self.lines.set_data(b.x, [logs[:, j] for j in range(len(self.layers))])
        for j in range(len(self.layers)):
            self.envelopes.append(envelope(bx, blo[:, j], bhi[:, j]))
        if self.envelopes:
            self.band.setData(np.concatenate([e[0] for e in self.envelopes]),
                              np.concatenate([e[1] for e in self.envelopes]), connect="pairs")
        if self.follow:
            self._follow(b.x, np.concatenate([logs, hi], axis=1))
        self._marks(b.x, zero.any(axis=1), bad.any(axis=1))

    def _marks(self, x: np.ndarray, zero: np.ndarray, bad: np.ndarray) -> None:
        """The floor line where some drawn layer has no gradient, the top line where one is
        NaN/Inf (a gap alone would not say which)."""
        top = self._range[3] if self._range is not None else 1.0
        for item, where, y in ((self.zero_line, zero, self.floor), (self.nan_line, bad, top)):
            item.setVisible(bool(where.any()))
            if where.any():
                item.setData(x, np.where(where, y, np.nan), connect="finite")
        self.zero_label.setVisible(bool(zero.any()))
        if zero.any():
            self.zero_label.setPos(float(x[np.argmax(zero)]), self.floor + 0.05)

    def _follow(self, x: np.ndarray, logs: np.ndarray) -> None:
        finite = logs[np.isfinite(logs)]
        if finite.size:
            lo, hi = math.floor(float(finite.min())), math.ceil(float(finite.max()))
        else:
            lo, hi = -8, 1
        if hi - lo < 2:
            lo -= 1
            hi += 1
        assert self.run is not None
        old = self._range
        end = step_axis_end(old[1] if old else 0.0, float(x[-1]), self.run.max_steps)
        if old is None or end is not None or lo < old[2] or hi > old[3]:
            rng = (0.0, end if end is not None else old[1] if old else 10.0, float(lo),
                   float(hi))
            self._range = rng
            self.plot.vb.setRange(xRange=rng[:2], yRange=rng[2:], padding=0.02,
                                  disableAutoRange=True)

    def _stop_following(self, *args: object) -> None:
        self.follow = False
        self.mark_dirty()  # re-bin the steps now in view

    def _x_range_changed(self, *args: object) -> None:
        if not self.follow:
            self.mark_dirty()

    def _clicked(self, ev: object) -> None:
        if getattr(ev, "double", lambda: False)():
            self.follow = True
            self._range = None
            self.mark_dirty()

    def _moved(self, args: tuple[QPointF]) -> None:
        pos = args[0]
        if self._logs is None or self._x is None or self.run is None or not len(self._x):
            return
        if not self.plot.sceneBoundingRect().contains(pos):
            self.hover.hide()
            return
        p = self.plot.vb.mapSceneToView(pos)
        i = int(np.clip(np.searchsorted(self._x, p.x()), 0, len(self._x) - 1))
        column = self._logs[i]
        finite = np.isfinite(column)
        if not finite.any():
            self.hover.hide()
            return
        j = int(np.nanargmin(np.where(finite, np.abs(column - p.y()), np.nan)))
        layer = self.layers[j]
        name = self.run.history.layer_names[layer]
        value = 10 ** column[j]
        self.hover.setText(f"{name}\nstep {self._x[i]:,.0f}\n‖∇W‖ = {theme.format_value(value)}"
                           + ("" if len(self._x) < 2 or self._x[1] - self._x[0] <= 1.5
                              else " (mean of the span)"))
        self.hover.setPos(p.x(), p.y())
        self.hover.show()
