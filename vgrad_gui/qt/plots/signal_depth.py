"""View: the signal across depth. Three quantities against layer index, on one absolute log
scale, at the latest statistics step, with the first one kept as a faint reference:

- the forward signal (standard deviation of each layer's output), which dies going forward
  when the initialisation is too small (He et al. 2015: ReLU with Xavier halves its variance
  at every layer);
- the back-propagated gradient dL/dh at each layer's output, which dies going backward
  (Glorot & Bengio 2010 plot both);
- the weight-gradient norm, the product of the two, which the other views show over time.

Relative measures alone cannot see a net whose every gradient is tiny; an absolute scale can.
"""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg

from vgrad_gui.core.run import Run
from vgrad_gui.core.workspace import Workspace
from vgrad_gui.qt import theme
from vgrad_gui.qt.clock import FrameClock
from vgrad_gui.qt.plots.axes import DecadeAxis, LayerAxis
from vgrad_gui.qt.plots.base import PlotView, set_axis_label

# Okabe-Ito colours, distinguishable with the common colour-vision deficiencies.
QUANTITIES = (
    ("signal_std", "probes", "forward signal std(h)", "#56B4E9"),
    ("backprop_grad", "probes", "backward ∂L/∂h (rms)", "#E69F00"),
    ("grad_norm", "steps", "weight gradient ‖∇W‖", "#CC79A7"),
)


class SignalDepthView(PlotView):
    title = "Signal across depth"
    every, phase = 12, 5  # 5 Hz: its statistics arrive every 100 steps

    def __init__(self, workspace: Workspace, clock: FrameClock, position: int = 0) -> None:
        super().__init__(workspace, clock, position)
        self.layer_axis = LayerAxis("bottom")
        self.plot = self.add_plot(axisItems={"left": DecadeAxis("left"),
                                             "bottom": self.layer_axis})
        self.plot.setMouseEnabled(False, False)
        set_axis_label(self.plot, "bottom", "layer (input → output)")
        set_axis_label(self.plot, "left", "size (log scale)")
        self.legend = pg.LegendItem(colCount=2, labelTextSize=f"{theme.point_size(0.85):.0f}pt",
                                    horSpacing=18)
        self.graphics.addItem(self.legend, row=1, col=0)
        self.now: dict[str, pg.PlotDataItem] = {}
        self.first: dict[str, pg.PlotDataItem] = {}
        for name, _table, label, colour in QUANTITIES:
            faint = pg.mkColor(colour)
            faint.setAlpha(110)
            ref = pg.PlotDataItem(pen=pg.mkPen(faint, width=1,
                                               style=pg.QtCore.Qt.PenStyle.DashLine))
            cur = pg.PlotDataItem(pen=pg.mkPen(colour, width=2), symbol="o", symbolSize=6,
                                  symbolBrush=colour, symbolPen=None)
            self.plot.addItem(ref)
            self.plot.addItem(cur)
            self.first[name], self.now[name] = ref, cur
            self.legend.addItem(cur, label)
        # Exactly zero has no place on a log axis: such layers sit on the floor, marked.
        self.zeros = pg.ScatterPlotItem(symbol="s", size=10, pen=None,
                                        brush=pg.mkBrush(theme.ZERO))
        self.bad = pg.ScatterPlotItem(symbol="t", size=11, pen=None,
                                      brush=pg.mkBrush(theme.NONFINITE))
        self.plot.addItem(self.zeros)
        self.plot.addItem(self.bad)
        self.legend.addItem(self.zeros, "exactly 0 (floor)")
        self.legend.addItem(self.bad, "NaN/Inf")
        self.caption = pg.TextItem("", color=theme.TEXT_DIM, anchor=(0, 0))
        self.plot.addItem(self.caption, ignoreBounds=True)
        self._range: tuple[float, float] | None = None
        self._reference: dict[str, np.ndarray] | None = None
        self._reference_step: int | None = None
        self._drawn: tuple[int, tuple[str, ...]] | None = None  # the record drawn, and what
        self.setToolTip("Each layer's forward signal (the spread of its output), the gradient "
                        "that reaches its output on the way back, and its weight gradient, on "
                        "one absolute log scale.\nSolid: the latest measurement; dashed: the "
                        "first step. Grey-blue square on the floor: exactly zero (nothing passes; "
                        "below float32's smallest number counts as 0); cyan ▲ at the top: NaN "
                        "or infinite.")

    def on_run(self, run: Run) -> None:
        n = run.history.n_layers
        self.layer_axis.configure(n)
        for item in (*self.now.values(), *self.first.values()):
            item.setData([], [])
        self.zeros.setData([], [])
        self.bad.setData([], [])
        self.caption.setText("")
        self._range = None
        self._reference = None
        self._reference_step = None
        self._drawn = None
        self.plot.setRange(xRange=(0, n), yRange=(-8, 1), padding=0.02)
        missing = [label for name, table, label, _ in QUANTITIES
                   if name not in dict(run.history.layouts[table])]
        self.show_note("This run file has no " + " or ".join(missing) + " (older format)."
                       if missing else "")

    def _values(self, at_probe: int) -> tuple[int, dict[str, np.ndarray]] | None:
        """The quantities at one statistics record (index into the probe records, -1 for
        the latest), with the weight-gradient norm of the same step."""
        h = self.run.history if self.run is not None else None
        if h is None:
            return None
        probe_steps, _ = h.probes.raw()
        if len(probe_steps) == 0:
            return None
        step = int(probe_steps[at_probe])
        values: dict[str, np.ndarray] = {}
        for name, table, _label, _colour in QUANTITIES:
            if name not in dict(h.layouts[table]):
                continue
            if table == "probes":
                _, rows = h.probes.raw(h.cols("probes", name))
                row = rows[at_probe].astype(np.float64)
                if np.isnan(row).all():
                    continue  # a version-1 run file: the channel was not recorded
                values[name] = row
            else:
                steps, rows = h.steps.raw(h.cols("steps", name))
                i = int(np.searchsorted(steps, step))
                if i < len(steps) and int(steps[i]) == step:
                    values[name] = rows[i].astype(np.float64)
        return step, values

    def _probe_index(self) -> int:
        """The statistics record at or before the cursor's step (-1: the latest)."""
        step = self.shown_step()
        if step is None or self.run is None:
            return -1
        probe_steps, _ = self.run.history.probes.raw()
        return max(0, int(np.searchsorted(probe_steps, step, side="right")) - 1) - len(
            probe_steps) if len(probe_steps) else -1

    def refresh(self) -> bool:
        if self.run is None:
            return False
        latest = self._values(self._probe_index())
        if latest is None:
            return False
        step, values = latest
        # Statistics come every 100 steps and this view's turn 5 times a second: the same
        # record drawn again repainted the view (~9 ms) for nothing.
        drawn = (step, tuple(values))
        if drawn == self._drawn:
            return False
        self._drawn = drawn
        if self._reference is None:
            first = self._values(0)
            if first is not None:
                self._reference = first[1]
                self._reference_step = first[0]
        n = self.run.history.n_layers
        x = np.arange(n) + 0.5
        floor, top = self._y_range(values)
        zeros_x: list[float] = []
        bad_x: list[float] = []
        for name, item in self.now.items():
            v = values.get(name)
            if v is None:
                item.setData([], [])
                continue
            with np.errstate(divide="ignore", invalid="ignore"):
                logs = np.log10(v)
            zero = v == 0
            nonfinite = np.isnan(v) | np.isinf(v)
            zeros_x += list(x[zero])
            bad_x += list(x[nonfinite])
            _set_logs(item, x, logs)
            ref = self._reference.get(name) if self._reference is not None else None
            if ref is not None:
                with np.errstate(divide="ignore", invalid="ignore"):
                    rlogs = np.log10(ref)
                _set_logs(self.first[name], x, rlogs)
        self.zeros.setData(zeros_x, [floor + 0.3] * len(zeros_x))
        self.bad.setData(bad_x, [top - 0.3] * len(bad_x))
        ref_step = self._reference_step
        self.caption.setText(f"step {step:,}" + (f"  ·  dashed: step {ref_step:,}"
                                                  if ref_step is not None and ref_step != step
                                                  else ""))
        self.caption.setPos(0, top)
        return True

    def _y_range(self, values: dict[str, np.ndarray]) -> tuple[float, float]:
        """Whole decades that hold every positive finite value (now and at the reference);
        the range only grows, so the axis is redrawn rarely."""
        pool = [v for v in values.values()]
        if self._reference is not None:
            pool += list(self._reference.values())
        allv = np.concatenate(pool) if pool else np.empty(0)
        good = allv[np.isfinite(allv) & (allv > 0)]
        lo = float(math.floor(np.log10(good.min())) - 1) if good.size else -8.0
        hi = float(math.ceil(np.log10(good.max())) + 1) if good.size else 1.0
        # Headroom for the caption, above every line: a share of the span, so it holds on a
        # 50-decade axis (a 200-layer sigmoid) as on a 5-decade one.
        hi += math.ceil(max(1.0, 0.15 * (hi - lo)))
        if self._range is None or lo < self._range[0] or hi > self._range[1]:
            if self._range is not None:
                lo, hi = min(lo, self._range[0]), max(hi, self._range[1])
            self._range = (lo, hi)
            assert self.run is not None
            self.plot.setRange(xRange=(0, self.run.history.n_layers),
                               yRange=self._range, padding=0.02)
        return self._range


def _set_logs(item: pg.PlotDataItem, x: np.ndarray, logs: np.ndarray) -> None:
    """Draw log values with gaps where they are not finite; nothing at all when none is (a
    scatter of only NaN makes pyqtgraph's bounds raise)."""
    finite = np.isfinite(logs)
    if not finite.any():
        item.setData([], [])
        return
    item.setData(x, np.where(finite, logs, np.nan), connect="finite")
