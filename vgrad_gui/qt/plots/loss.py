"""View 5: loss and accuracy, on the training batches (every step) and on the held-out set."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg

from vgrad_gui.qt import theme
from vgrad_gui.qt.plots.base import PlotView, set_axis_label, step_axis_end
from vgrad_gui.qt.plots.decimate import Decimator, band_curve, envelope
from vgrad_gui.qt.session import RunInfo, TrainingSession

TRAIN = "#4cc2ff"
TEST = "#ffb84d"


class LossView(PlotView):
    title = "Loss and accuracy"
    every, phase = 6, 2  # 10 Hz

    def __init__(self, session: TrainingSession) -> None:
        super().__init__(session)
        self.loss_plot = self.add_plot(row=0, col=0)
        self.acc_plot = self.add_plot(row=1, col=0)
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
        self.test_loss = self.loss_plot.plot(pen=pg.mkPen(TEST, width=2), name="test", **flat)
        self.train_acc = self.acc_plot.plot(pen=pg.mkPen(TRAIN, width=1), **flat)
        self.test_acc = self.acc_plot.plot(pen=pg.mkPen(TEST, width=2), **flat)
        # The min/max of each span of training steps: a one-batch spike stays visible.
        self.loss_band = band_curve(TRAIN, 80)
        self.acc_band = band_curve(TRAIN, 80)
        self.loss_plot.addItem(self.loss_band)
        self.acc_plot.addItem(self.acc_band)
        self.follow = True
        for plot in (self.loss_plot, self.acc_plot):
            plot.vb.sigRangeChangedManually.connect(self._zoomed)
        self.bins: dict[str, Decimator] = {}
        self.setToolTip("Training loss and accuracy (blue: averaged over the batches of each "
                        "span of steps) and on the held-out test set (orange, every 100 "
                        "steps); the faint band spans each span's min and max.\nVanishing "
                        "gradients show here as a loss that barely moves. Scroll to zoom (the "
                        "zoomed steps are re-binned); double-click to follow the run again.")
        self.loss_plot.scene().sigMouseClicked.connect(self._clicked)

    def on_run(self, info: RunInfo) -> None:
        h = info.history
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

    def refresh(self) -> None:
        if self.info is None or not self.bins:
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
        # Ranges move in jumps, not every frame: each change relays the axes out and costs a
        # second paint. (Not an x-link either, for the same reason.)
        end = step_axis_end(self.loss_plot.vb.viewRange()[0][1], self.info.history.step,
                            self.info.config.steps)
        if end is not None:
            for plot in (self.loss_plot, self.acc_plot):
                plot.setXRange(0, end, padding=0)
        values = np.concatenate([loss.min[:, 0], loss.max[:, 0], tl.mean[ok, 0]])
        values = values[np.isfinite(values)]
        if values.size:
            lo, hi = float(values.min()), float(values.max())
            y0, y1 = self.loss_plot.vb.viewRange()[1]
            span = max(hi - lo, 1e-3)
            if lo < y0 or hi > y1 or (y1 - y0) > 3 * span:
                self.loss_plot.setYRange(max(0.0, lo - 0.1 * span), hi + 0.1 * span,
                                         padding=0)


def _finite(y: np.ndarray) -> np.ndarray:
    """Infinite losses would wreck the axis; show them as gaps (the banner says why)."""
    return np.where(np.isfinite(y), y, np.nan)
