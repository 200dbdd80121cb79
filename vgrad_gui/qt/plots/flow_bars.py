"""View 4: gradient flow bars: each layer's current gradient norm (log scale) against the
output layer's, drawn as a dashed reference line. The numbers are ``readings.grad_reading``,
the ones the diagram, banner, status bar and ``summary`` quote."""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg

from vgrad_gui.core import readings
from vgrad_gui.core.run import Run
from vgrad_gui.core.workspace import Workspace
from vgrad_gui.qt import theme
from vgrad_gui.qt.clock import FrameClock
from vgrad_gui.qt.plots.axes import DecadeAxis, LayerAxis
from vgrad_gui.qt.plots.base import PlotView, set_axis_label

FLOOR_HEIGHT = 0.25  # decades: a layer with no gradient is a stub on the floor, not nothing
# No outline: pyqtgraph draws a white one when none is given, and on 200 thin bars the
# outlines are all one sees (zero stubs looked white).
NO_PEN = pg.mkPen(None)
MARK_EACH = 20  # up to this many layers, a "0" over each stub; beyond, one label


class FlowBarsView(PlotView):
    """One run: a bar per layer in the depth colours. Compare mode: the runs' bars side by
    side at each layer, in the runs' colours (grouped per layer)."""

    title = "Gradient flow"
    every, phase = 2, 1  # 30 Hz, on odd frames: never the gradient lines' (plots/grad_lines)
    multi = True

    def __init__(self, workspace: Workspace, clock: FrameClock, position: int = 0) -> None:
        super().__init__(workspace, clock, position)
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
        # "0" above each layer with no gradient, "NaN" above each non-finite one: colour alone
        # is not enough for a room (or a colour-blind reader).
        self.marks = pg.ScatterPlotItem(size=13, pxMode=True)
        self.plot.addItem(self.marks)
        # Too many layers for a "0" each (a 200-layer net): one label over the run of stubs.
        self.zero_label = pg.TextItem("", color=theme.TEXT, anchor=(0, 1))
        self.plot.addItem(self.zero_label, ignoreBounds=True)
        self.zero_label.hide()
        self.plot.setMouseEnabled(False, False)
        self.colours: list = []
        self.zero_brush = pg.mkBrush(theme.ZERO)
        self.nan_brush = pg.mkBrush(theme.NONFINITE)
        self.reading: readings.GradReading | None = None
        self.values: list[str] = []  # each bar's value as printed (readings.norm_label)
        self._y_range: tuple[float, float] | None = None
        self._layers_shown = 0  # the layer count of the range on screen (on_run)
        self.group_bars: list[pg.BarGraphItem] = []
        self.show_note(f"{theme.ZERO_LEGEND}, a stub marked 0  ·  {theme.NONFINITE_LEGEND}")
        self.setToolTip("The current gradient norm of each layer (the median of the last "
                        f"{readings.WINDOW} steps), on a log scale; the dashed line is the "
                        "output layer's.\nBars far below the line belong to layers that barely "
                        "learn. A grey-blue stub marked 0: no gradient at all (exactly 0, or "
                        "below float32's smallest number); cyan full height: NaN or infinite.")

    def on_runs(self, runs: tuple[Run, ...]) -> None:
        for item in self.group_bars:
            self.plot.removeItem(item)
        self.group_bars = []
        if len(runs) > 1:
            n = max(r.history.n_layers for r in runs)
            width = 0.84 / len(runs)
            for k, run in enumerate(runs):
                colour = theme.RUN_COLOURS[self.workspace.slot(run.run_id)
                                           % len(theme.RUN_COLOURS)]
                item = pg.BarGraphItem(x=[], height=[], width=width, brush=pg.mkBrush(colour),
                                       pen=NO_PEN)
                item.offset = -0.42 + width * (k + 0.5)
                self.plot.addItem(item)
                self.group_bars.append(item)
        super().on_runs(runs[:1])
        self.bars.setVisible(len(runs) <= 1)
        if len(runs) > 1:
            self.layer_axis.configure(n)
            self.plot.setRange(xRange=(0, n), yRange=(-8, 1), padding=0.02)
            self._layers_shown = 0  # one run again: its range is set afresh
            self.show_note("Each layer: one bar per run, in the run's colour (A, B, …); "
                           f"{theme.ZERO_LEGEND} shows as a stub.")
        else:
            self.show_note(f"{theme.ZERO_LEGEND}, a stub marked 0  ·  "
                           f"{theme.NONFINITE_LEGEND}")

    def on_run(self, run: Run) -> None:
        n = run.history.n_layers
        self.layer_axis.configure(n)
        self.colours = [pg.mkBrush(c) for c in theme.depth_colours(n)]
        self._empty(n)
        if n != self._layers_shown:
            # Another net. The same one again (a Reset) keeps its range until its first
            # reading sets one: two relayouts of the axes in a row were half of a Reset's
            # stall in this view.
            self.plot.setRange(xRange=(0, n), yRange=(-8, 1), padding=0.02)
            self._layers_shown = n
        self._y_range = None
        self.reference.hide()

    def _empty(self, n: int) -> None:
        # Every per-bar option is set together, always of length n: n bars with the brushes
        # of a shallower run made pyqtgraph raise IndexError while painting (a crash).
        self.bars.setOpts(x=np.arange(n) + 0.5, height=np.zeros(n), y0=np.zeros(n),
                          brushes=list(self.colours), pens=None, pen=NO_PEN, width=0.8)
        self.marks.setData([], [])
        self.zero_label.hide()
        self.reading = None
        self.values = []

    def brush_for(self, i: int) -> pg.QtGui.QBrush:
        """Bar i's brush as last drawn (tests compare zero's with NaN's)."""
        return self.bars.opts["brushes"][i]

    def refresh(self) -> None:
        if self.run is None:
            return
        if self.group_bars:
            self._refresh_grouped()
            return
        h = self.run.history
        n = h.n_layers
        reading = readings.grad_reading(h, self.shown_step())
        if reading is None or len(reading.norms) != n or len(self.colours) != n:
            self._empty(n)
            return
        norms = reading.norms
        with np.errstate(divide="ignore", invalid="ignore"):
            logs = np.log10(norms)
        finite = np.isfinite(logs)
        lo = math.floor(min(float(logs[finite].min()), -1.0)) - 1 if finite.any() else -8
        hi = math.ceil(max(float(logs[finite].max()), 0.0)) + 1 if finite.any() else 1
        if self._y_range is None or lo < self._y_range[0] or hi > self._y_range[1]:
            self._y_range = (lo, hi)
            self.plot.setRange(xRange=(0, n), yRange=(lo, hi), padding=0)
        base, top = self._y_range
        classes = reading.classes
        zero = np.array([c in (readings.ZERO, readings.UNDERFLOW) for c in classes])
        bad = np.array([c == readings.NONFINITE for c in classes])
        heights = np.where(finite, logs - base, 0.0)
        stub = max(FLOOR_HEIGHT, 0.03 * (top - base))  # visible on a 50-decade axis too
        heights[zero] = stub
        heights[bad] = top - base
        self.zero_brush = pg.mkBrush(theme.ZERO)  # the theme's, now (it can change)
        self.nan_brush = pg.mkBrush(theme.NONFINITE)
        brushes = [self.zero_brush if zero[i] else self.nan_brush if bad[i]
                   else self.colours[i] for i in range(n)]
        x = np.arange(n) + 0.5
        self.bars.setOpts(x=x, height=heights, y0=np.full(n, base), brushes=brushes,
                          pens=None, pen=NO_PEN, width=0.8)
        self._mark(x, zero, bad, base, top, stub)
        self.reading = reading
        self.values = [readings.norm_label(reading, i) for i in range(n)]
        if finite[-1]:
            self.reference.setPos(float(logs[-1]))
            self.reference.show()
        else:
            self.reference.hide()

    def _refresh_grouped(self) -> None:
        """Each run's bars at its layers; a layer with no gradient a stub, a NaN one full
        height (as for one run; the marks are left out, the colours being the runs')."""
        found = []
        for run in self.runs:
            reading = readings.grad_reading(run.history, self.shown_step(run))
            found.append(reading)
        with np.errstate(divide="ignore", invalid="ignore"):
            logs_all = [np.log10(r.norms) for r in found if r is not None]
        finite = np.concatenate([v[np.isfinite(v)] for v in logs_all]) if logs_all else \
            np.empty(0)
        lo = math.floor(min(float(finite.min()), -1.0)) - 1 if finite.size else -8
        hi = math.ceil(max(float(finite.max()), 0.0)) + 1 if finite.size else 1
        n = max(r.history.n_layers for r in self.runs)
        if self._y_range is None or lo < self._y_range[0] or hi > self._y_range[1]:
            self._y_range = (lo, hi)
            self.plot.setRange(xRange=(0, n), yRange=(lo, hi), padding=0)
        base, top = self._y_range
        stub = max(FLOOR_HEIGHT, 0.03 * (top - base))
        for item, reading in zip(self.group_bars, found, strict=False):
            if reading is None:
                item.setOpts(x=[], height=[], y0=[])
                continue
            with np.errstate(divide="ignore", invalid="ignore"):
                logs = np.log10(reading.norms)
            ok = np.isfinite(logs)
            zero = np.array([c in (readings.ZERO, readings.UNDERFLOW)
                             for c in reading.classes])
            heights = np.where(ok, logs - base, 0.0)
            heights[zero] = stub
            heights[np.array([c == readings.NONFINITE for c in reading.classes])] = top - base
            m = len(heights)
            item.setOpts(x=np.arange(m) + 0.5 + item.offset, height=heights,
                         y0=np.full(m, base))
        self.reference.hide()
        self.marks.setData([], [])
        self.zero_label.hide()

    def _mark(self, x: np.ndarray, zero: np.ndarray, bad: np.ndarray, base: float,
              top: float, stub: float) -> None:
        many = len(x) > MARK_EACH
        spots = [] if many else [
            {"pos": (float(x[i]), base + stub + 0.35), "symbol": zero_symbol(),
             "brush": pg.mkBrush(theme.TEXT), "pen": None} for i in np.flatnonzero(zero)]
        self.zero_label.setVisible(many and bool(zero.any()))
        if many and zero.any():
            where = [int(i) for i in np.flatnonzero(zero)]
            span = _short_span(where, len(x))
            self.zero_label.setText(f"0: no gradient ({span})")
            self.zero_label.setPos(float(x[where[0]]) - 0.4, base + stub)
        spots += [{"pos": (float(x[i]), top - 0.3), "symbol": "t1",
                   "brush": pg.mkBrush(theme.BACKGROUND), "pen": None}
                  for i in np.flatnonzero(bad)]
        self.marks.setData(spots)


_symbols: dict[str, pg.QtGui.QPainterPath] = {}


def zero_symbol() -> pg.QtGui.QPainterPath:
    """The "0" marker (made on first use: text paths need the application's fonts)."""
    if "0" not in _symbols:
        _symbols["0"] = _text_symbol("0")
    return _symbols["0"]


def _text_symbol(text: str) -> pg.QtGui.QPainterPath:
    """A scatter symbol drawn as text (pyqtgraph scales symbols to a unit box)."""
    path = pg.QtGui.QPainterPath()
    font = theme.font(1.0, bold=True)
    path.addText(0, 0, font, text)
    box = path.boundingRect()
    scale = 1.0 / max(box.width(), box.height())
    tr = pg.QtGui.QTransform()
    tr.scale(scale, scale)
    tr.translate(-box.x() - box.width() / 2, -box.y() - box.height() / 2)
    return tr.map(path)



def _short_span(where: list[int], n: int) -> str:
    """'layers 1–30, out' (the axis's own names), short enough for a narrow dock."""
    hidden = [i for i in where if i < n - 1]
    parts = []
    if hidden:
        parts.append(f"layer {hidden[0] + 1}" if len(hidden) == 1 else
                     f"layers {hidden[0] + 1}–{hidden[-1] + 1}"
                     if hidden[-1] - hidden[0] + 1 == len(hidden) else f"{len(hidden)} layers")
    if n - 1 in where:
        parts.append("out")
    return ", ".join(parts)
