"""View 7: activation health per layer (the saturated or dead fraction, mean and spread of the
activations) and the update-to-weight ratio per layer against the 1e-3 rule of thumb."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg

from vgrad_gui.core import readings
from vgrad_gui.core.run import Run
from vgrad_gui.core.workspace import Workspace
from vgrad_gui.qt import theme
from vgrad_gui.qt.clock import FrameClock
from vgrad_gui.qt.plots.axes import DecadeAxis, LayerAxis
from vgrad_gui.qt.plots.base import PlotView, set_axis_label, steady_range

RULE_OF_THUMB = -3.0  # log10 of the update/weight ratio that trains well
ACTS_GRAIN = 0.25  # the activations axis moves in quarters


class HealthView(PlotView):
    title = "Activation health and update ratio"
    every, phase = 12, 4  # 5 Hz: its statistics arrive every 100 steps

    def __init__(self, workspace: Workspace, clock: FrameClock, position: int = 0) -> None:
        super().__init__(workspace, clock, position)
        self._ratio_range: tuple[float, float] | None = None
        self._acts_range: tuple[float, float] | None = None
        self._drawn_step: int | None = None  # the statistics record drawn
        self.axes = [LayerAxis("bottom") for _ in range(3)]
        self.inactive = self.add_plot(row=0, col=0, axisItems={"bottom": self.axes[0]})
        self.acts = self.add_plot(row=0, col=1, axisItems={"bottom": self.axes[1]})
        self.ratio = self.add_plot(row=0, col=2, axisItems={"bottom": self.axes[2],
                                                            "left": DecadeAxis("left")})
        for plot in (self.inactive, self.acts, self.ratio):
            plot.setMouseEnabled(False, False)
            set_axis_label(plot, "bottom", "layer")
        set_axis_label(self.inactive, "left", "share of units")
        set_axis_label(self.acts, "left", "activation mean ± std")
        set_axis_label(self.ratio, "left", "‖ΔW‖ / ‖W‖")
        self.inactive.setYRange(0, 1, padding=0.02)
        self.acts.enableAutoRange(y=False)  # set in steps (base.steady_range), not each record
        self.inactive_bars = pg.BarGraphItem(x=[], height=[], width=0.8, brush=theme.WARN)
        self.inactive.addItem(self.inactive_bars)
        self.inactive_title = pg.TextItem("", color=theme.TEXT, anchor=(0, 0))
        self.inactive.addItem(self.inactive_title, ignoreBounds=True)
        self.spread = pg.ErrorBarItem(x=np.array([]), y=np.array([]), height=np.array([]),
                                      pen=pg.mkPen(theme.ACCENT, width=2), beam=0.3)
        self.acts.addItem(self.spread)
        self.means = pg.ScatterPlotItem(size=8, brush=theme.ACCENT, pen=None)
        self.acts.addItem(self.means)
        self.ratio_points = pg.PlotDataItem(pen=pg.mkPen(theme.OK, width=2), symbol="o",
                                            symbolSize=7, symbolBrush=theme.OK)
        self.ratio.addItem(self.ratio_points)
        # A ratio of exactly 0 (the weights never changed: the strongest sign of vanishing)
        # has no place on a log axis: it sits on the floor, in the no-gradient colour, named.
        self.ratio_zero = pg.ScatterPlotItem(symbol="s", size=10, pen=None,
                                             brush=pg.mkBrush(theme.ZERO))
        self.ratio_bad = pg.ScatterPlotItem(symbol="t", size=10, pen=None,
                                            brush=pg.mkBrush(theme.NONFINITE))
        self.ratio_zero_label = pg.TextItem("0: never changed", color=theme.TEXT,
                                            anchor=(0, 1))
        for item in (self.ratio_zero, self.ratio_bad):
            self.ratio.addItem(item)
        self.ratio.addItem(self.ratio_zero_label, ignoreBounds=True)
        self.ratio_zero_label.hide()
        self.ratio_floor = -6.0
        self.rule = pg.InfiniteLine(RULE_OF_THUMB, angle=0,
                                    pen=pg.mkPen(theme.TEXT_DIM, width=2,
                                                 style=pg.QtCore.Qt.PenStyle.DashLine),
                                    label="10⁻³ rule of thumb",
                                    labelOpts={"position": 0.02, "color": theme.TEXT_DIM,
                                               "anchors": [(0, 1), (0, 1)]})
        self.ratio.addItem(self.rule)
        self.setToolTip("Left: units that are saturated (sigmoid/tanh stuck near a flat end) "
                        "or dead (ReLU output 0 for the whole batch).\nMiddle: mean and spread "
                        "of each layer's activations.\nRight: how far one optimizer step moves "
                        "each layer's weights, relative to their size; around 10⁻³ trains well, "
                        "far below it barely learns; a grey-blue square on the floor: exactly 0, "
                        "the weights never changed; cyan ▲: NaN/Inf.")

    def on_run(self, run: Run) -> None:
        n = run.history.n_layers
        self.axes[0].configure(n - 1, with_output=False)
        self.axes[1].configure(n - 1, with_output=False)
        self.axes[2].configure(n)
        self.inactive.setXRange(0, n - 1, padding=0.02)
        self.acts.setXRange(0, n - 1, padding=0.02)
        self.ratio.setXRange(0, n, padding=0.02)
        kind = run.inactive_kind
        title = {"saturated": "saturated units", "dead": "dead units (ReLU)"}.get(
            kind, f"no saturation test for {run.history.config.activation}")
        if title != self.inactive_title.toPlainText():  # the same run again: nothing to lay out
            self.inactive_title.setText(title)
        self.inactive_title.setPos(0, 1)
        self.inactive_bars.setOpts(x=[], height=[])
        self.means.setData([], [])
        self.spread.setData(x=np.array([]), y=np.array([]), height=np.array([]))
        self.ratio_points.setData([], [])
        self.ratio_zero.setData([], [])
        self.ratio_bad.setData([], [])
        self.ratio_zero_label.hide()
        self._ratio_range = None
        self._acts_range = None
        self._drawn_step = None

    def refresh(self) -> bool:
        if self.run is None:
            return False
        probe = readings.probe_reading(self.run.history, self.shown_step())
        # Statistics come every 100 steps and this view's turn 5 times a second: setting the
        # same numbers again repainted its three plots (26-34 ms while training) for nothing.
        if probe is None or probe.step == self._drawn_step:
            return False
        self._drawn_step = probe.step
        frac = probe.values["inactive_fraction"]
        hidden = np.arange(len(frac)) + 0.5
        self.inactive_bars.setOpts(x=hidden, height=np.nan_to_num(frac), width=0.8)
        mean, std = probe.values["act_mean"], probe.values["act_std"]
        ok = np.isfinite(mean) & np.isfinite(std)  # NaN after an explosion: leave a gap
        self.means.setData(hidden[ok], mean[ok])
        self.spread.setData(x=hidden[ok], y=mean[ok], height=2 * std[ok])
        if ok.any():
            acts_range = steady_range(self._acts_range, float((mean - std)[ok].min()),
                                      float((mean + std)[ok].max()), ACTS_GRAIN)
            if acts_range is not None:
                self._acts_range = acts_range
                self.acts.setYRange(*acts_range, padding=0.05)
        ratio = probe.values["update_ratio"]
        with np.errstate(divide="ignore", invalid="ignore"):
            logs = np.log10(ratio.astype(np.float64))
        x = np.arange(len(ratio)) + 0.5
        ok = np.isfinite(logs)
        finite = logs[ok]
        zero = np.isneginf(logs)
        bad = np.isnan(logs) | np.isposinf(logs)
        lo = min(-6.0, float(np.floor(finite.min()))) if finite.size else -6.0
        hi = max(0.0, float(np.ceil(finite.max()))) if finite.size else 0.0
        if zero.any():
            lo -= 1.0  # a decade of room: the floor is below every real ratio
        self.ratio_floor = lo + 0.3
        self.ratio_points.setData(x[ok], logs[ok])
        self.ratio_zero.setData(x[zero], np.full(int(zero.sum()), self.ratio_floor))
        self.ratio_bad.setData(x[bad], np.full(int(bad.sum()), hi - 0.3))
        self.ratio_zero_label.setVisible(bool(zero.any()))
        if zero.any():
            self.ratio_zero_label.setPos(float(x[zero][0]) - 0.4, self.ratio_floor + 0.35)
        if (lo, hi) != self._ratio_range:  # whole decades: the axis is redrawn rarely
            self._ratio_range = (lo, hi)
            self.ratio.setYRange(lo, hi, padding=0.02)
        return True
