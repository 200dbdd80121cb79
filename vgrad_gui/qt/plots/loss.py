"""View 5: loss and accuracy, on the training batches (every step) and on the held-out set."""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg

from vgrad_gui.core.run import Run
from vgrad_gui.core.workspace import Workspace
from vgrad_gui.qt import theme
from vgrad_gui.qt.clock import FrameClock
from vgrad_gui.qt.plots.axes import StepAxis
from vgrad_gui.qt.plots.base import PlotView, set_axis_label, steady_range, step_axis_end
from vgrad_gui.qt.plots.bold_curve import BoldCurve, BoldDataItem
from vgrad_gui.qt.plots.cursor_line import CursorLine
from vgrad_gui.qt.plots.decimate import Decimator, band_curve, envelope

TRAIN = "#4cc2ff"
TEST = "#ffb84d"


class LossView(PlotView):
    """One run: training loss and accuracy (mean and min-max band) and the held-out set's.
    Compare mode: every run's training loss and test accuracy overlaid, in the runs' colours."""

    title = "Loss and accuracy"
    reads_cursor = False  # the whole history, with a cursor line
    every, phase = 6, 2  # 10 Hz
    multi = True

    def __init__(self, workspace: Workspace, clock: FrameClock, position: int = 0) -> None:
        super().__init__(workspace, clock, position)
        self.loss_plot = self.add_plot(row=0, col=0, axisItems={"bottom": StepAxis()})
        self.acc_plot = self.add_plot(row=1, col=0, axisItems={"bottom": StepAxis()})
        self.cursor_lines = [CursorLine(self.loss_plot), CursorLine(self.acc_plot)]
        set_axis_label(self.loss_plot, "left", "loss")
        set_axis_label(self.acc_plot, "left", "accuracy")
        set_axis_label(self.acc_plot, "bottom", "step")
        # Ranges are set here, once per refresh: pyqtgraph's auto-range would repaint twice.
        for plot in (self.loss_plot, self.acc_plot):
            plot.enableAutoRange(False)
        self.acc_plot.setYRange(0, 1.02, padding=0)
        self.loss_plot.addLegend(offset=(-10, 10),
                                 labelTextSize=f"{theme.point_size(0.85):.0f}pt",
                                 brush=pg.mkBrush(17, 19, 24, 200))
        # Long, noisy curves: antialiased 2-pixel lines cost ~15 ms each per paint,
        # 1-pixel plain ones well under 1 ms.
        flat = {"antialias": False, "skipFiniteCheck": False}
        self.train_loss = self.loss_plot.plot(pen=pg.mkPen(TRAIN, width=1), name="train", **flat)
        self.test_loss = BoldDataItem(pen=pg.mkPen(TEST, width=2), name="test", **flat)
        self.loss_plot.addItem(self.test_loss)
        self.train_acc = self.acc_plot.plot(pen=pg.mkPen(TRAIN, width=1), **flat)
        self.test_acc = BoldDataItem(pen=pg.mkPen(TEST, width=2), **flat)
        self.acc_plot.addItem(self.test_acc)
        # The min/max of each span of training steps: a one-batch spike stays visible.
        self.loss_band = band_curve(TRAIN, 80)
        self.acc_band = band_curve(TRAIN, 80)
        self.loss_plot.addItem(self.loss_band)
        self.acc_plot.addItem(self.acc_band)
        self.follow = True
        for plot in (self.loss_plot, self.acc_plot):
            plot.vb.sigRangeChangedManually.connect(self._zoomed)
        self.bins: dict[str, Decimator] = {}
        self._overlay_items: list[tuple[BoldCurve, BoldDataItem]] = []  # per compared run
        self._overlay_styles: list[tuple[str, str]] = []  # their (colour, letter)
        self.overlay_bins: list[tuple[Decimator, Decimator, BoldCurve, pg.PlotDataItem]] = []
        self.setToolTip("Training loss and accuracy (blue: averaged over the batches of each "
                        "span of steps) and on the held-out test set (orange, every 100 "
                        "steps); the faint band spans each span's min and max.\nVanishing "
                        "gradients show here as a loss that barely moves. Scroll to zoom (the "
                        "zoomed steps are re-binned); double-click to follow the run again.")
        self.loss_plot.scene().sigMouseClicked.connect(self._clicked)

    def on_runs(self, runs: tuple[Run, ...]) -> None:
        comparing = len(runs) > 1
        # Each run's curves, by its colour and letter: a Reset or Start in compare mode
        # brings new runs in the same slots, and keeps the items and their legend entries
        # (making them and laying the legend out again was a 22 ms rebuild).
        styles = [(theme.RUN_COLOURS[self.workspace.slot(run.run_id) % len(theme.RUN_COLOURS)],
                   self.workspace.letter(run.run_id)) for run in runs] if comparing else []
        if styles != self._overlay_styles:
            self._overlays_for(styles)
        self.overlay_bins = []
        # Outside compare mode there are no overlay items, so nothing to pair.
        for (loss, acc), run in zip(self._overlay_items, runs, strict=False):
            loss.setData([], [])
            acc.setData([], [])
            h = run.history
            self.overlay_bins.append((
                Decimator(h.table("steps"), h.cols("steps", "loss")),
                Decimator(h.table("evals"), h.cols("evals", "test_accuracy")), loss, acc))
        super().on_runs(runs[:1])

    def _overlays_for(self, styles: list[tuple[str, str]]) -> None:
        """One loss and one accuracy curve per (colour, letter); none outside compare mode,
        where the train/test curves show instead."""
        for pair in self._overlay_items:
            for plot, item in zip((self.loss_plot, self.acc_plot), pair, strict=True):
                plot.removeItem(item)
                if plot.legend is not None:
                    plot.legend.removeItem(item)
        self._overlay_items = []
        self._overlay_styles = styles
        comparing = bool(styles)
        for item in (self.train_loss, self.test_loss, self.train_acc, self.test_acc,
                     self.loss_band, self.acc_band):
            item.setVisible(not comparing)
        legend = self.loss_plot.legend
        if legend is not None:  # one entry per run when comparing, train/test otherwise
            for item, name in ((self.train_loss, "train"), (self.test_loss, "test")):
                legend.removeItem(item)
                if not comparing:
                    legend.addItem(item, name)
        for colour, letter in styles:
            # A noisy curve per run: drawn bold at a thin line's cost (bold_curve).
            loss = BoldCurve(pen=pg.mkPen(colour, width=2), name=f"{letter} train",
                             antialias=False)
            self.loss_plot.addItem(loss)
            acc = BoldDataItem(pen=pg.mkPen(colour, width=2), antialias=False,
                               symbolSize=5, symbolBrush=colour, symbolPen=None)
            self.acc_plot.addItem(acc)
            self._overlay_items.append((loss, acc))

    def on_run(self, run: Run) -> None:
        h = run.history
        self.follow = True
        self.bins = {name: Decimator(h.table(table), h.cols(table, name))
                     for table, name in (("steps", "loss"), ("steps", "accuracy"),
                                         ("evals", "test_loss"), ("evals", "test_accuracy"))}
        for item in (self.train_loss, self.test_loss, self.train_acc, self.test_acc,
                     self.loss_band, self.acc_band):
            item.setData([], [])
        for plot in (self.loss_plot, self.acc_plot):
            plot.setXRange(0, 10, padding=0)  # not the last run's steps

    def _zoomed(self, *args: object) -> None:
        self.follow = False
        self.mark_dirty()

    def _clicked(self, ev: object) -> None:
        if getattr(ev, "double", lambda: False)():
            self.follow = True
            self.mark_dirty()

    def on_cursor(self) -> None:
        for line in self.cursor_lines:
            line.show_at(self.shown_step())

    def refresh(self) -> None:
        for line in self.cursor_lines:
            line.show_at(self.shown_step())
        if self.run is None or not self.bins:
            return
        if self.overlay_bins:
            self._refresh_overlay()
            return
        width = max(100, int(self.loss_plot.vb.width()))
        visible = None if self.follow else tuple(self.loss_plot.vb.viewRange()[0])
        got = {name: bins.get(width, visible)
               for name, bins in self.bins.items()}
        loss, acc = got["loss"], got["accuracy"]
        self.train_loss.setData(loss.x, _finite(loss.mean[:, 0]), connect="finite")
        self.train_acc.setData(acc.x, acc.mean[:, 0], connect="finite")
        self.loss_band.setData(*envelope(loss.x, _finite(loss.min[:, 0].astype(np.float64)),
                                         _finite(loss.max[:, 0].astype(np.float64))),
                               connect="pairs")
        self.acc_band.setData(*envelope(acc.x, acc.min[:, 0].astype(np.float64),
                                        acc.max[:, 0].astype(np.float64)), connect="pairs")
        if not self.follow:
            return
        tl, ta = got["test_loss"], got["test_accuracy"]
        ok = np.isfinite(tl.mean[:, 0])  # after an explosion the test loss is NaN: no point
        # Dots for the few evaluations of a short run, a plain line for a long one.
        symbols = {"symbol": "o", "symbolSize": 6, "symbolBrush": TEST,
                   "symbolPen": None} if ok.sum() <= 60 else {"symbol": None}
        self.test_loss.setData(tl.x[ok], tl.mean[ok, 0], **symbols)
        self.test_acc.setData(ta.x[ok], ta.mean[ok, 0], **symbols)
        self._follow(self.run.history.step, self.run.max_steps,
                     np.concatenate([loss.min[:, 0], loss.max[:, 0], tl.mean[ok, 0]]))


    def _refresh_overlay(self) -> None:
        width = max(100, int(self.loss_plot.vb.width()))
        visible = None if self.follow else tuple(self.loss_plot.vb.viewRange()[0])
        last, values = 10.0, []
        for loss_bins, acc_bins, loss_item, acc_item in self.overlay_bins:
            loss = loss_bins.get(width, visible)
            acc = acc_bins.get(width, visible)
            y = _finite(loss.mean[:, 0])
            loss_item.setData(loss.x, y, connect="finite")
            ok = np.isfinite(acc.mean[:, 0])
            # Dots for a short run's few evaluations; hundreds of symbols per run cost more
            # than the rest of the view.
            acc_item.setData(acc.x[ok], acc.mean[ok, 0],
                             symbol="o" if ok.sum() <= 60 else None)
            values.append(y[np.isfinite(y)])
            if len(loss.x):
                last = max(last, float(loss.x[-1]))
        if not self.follow:
            return
        self._follow(last, max(r.max_steps for r in self.runs),
                     np.concatenate(values) if values else np.empty(0))

    def _follow(self, last: float, max_steps: int, values: np.ndarray) -> None:
        """Ranges move in jumps, not every frame: each change relays the axes out and costs a
        second paint. (Not an x-link either, for the same reason.)"""
        end = step_axis_end(self.loss_plot.vb.viewRange()[0][1], last, max_steps)
        if end is not None:
            for plot in (self.loss_plot, self.acc_plot):
                plot.setXRange(0, end, padding=0)
        values = values[np.isfinite(values)]
        if values.size:
            lo, hi = float(values.min()), float(values.max())
            # In round steps of the values' own size (a loss of 0.69 +- 0.003 moves in
            # 0.001s, one of 30 in 10s): set to the values plus a tenth, the range followed
            # every wander of four runs' noisy losses, and each move repainted the axis
            # (up to 30 ms, the stalls of a compare grid).
            span = max(hi - lo, 1e-3)
            grain = 10.0 ** math.floor(math.log10(span))
            y0, y1 = self.loss_plot.vb.viewRange()[1]
            y_range = steady_range((y0, y1), max(0.0, lo - 0.1 * span), hi + 0.1 * span, grain)
            if y_range is not None:
                self.loss_plot.setYRange(*y_range, padding=0)


def _finite(y: np.ndarray) -> np.ndarray:
    """Infinite losses would wreck the axis; show them as gaps (the banner says why)."""
    return np.where(np.isfinite(y), y, np.nan)
