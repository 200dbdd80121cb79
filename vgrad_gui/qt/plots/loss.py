"""View 5: loss and accuracy, on the training batches (every step) and on the held-out set."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg

from vgrad_gui.core.history import AlignedBins
from vgrad_gui.qt import theme
from vgrad_gui.qt.plots.base import PlotView, set_axis_label
from vgrad_gui.qt.session import RunInfo, TrainingSession

TRAIN = "#4cc2ff"
TEST = "#ffb84d"


class LossView(PlotView):
    title = "Loss and accuracy"
    max_hz = 30.0

    def __init__(self, session: TrainingSession) -> None:
        super().__init__(session)
        self.loss_plot = self.add_plot(row=0, col=0)
        self.acc_plot = self.add_plot(row=1, col=0)
        self.acc_plot.setXLink(self.loss_plot)
        set_axis_label(self.loss_plot, "left", "loss")
        set_axis_label(self.acc_plot, "left", "accuracy")
        set_axis_label(self.acc_plot, "bottom", "step")
        self.acc_plot.setYRange(0, 1.02, padding=0)
        self.acc_plot.vb.setLimits(yMin=-0.05, yMax=1.1)
        self.loss_plot.addLegend(offset=(-10, 10),
                                          labelTextSize=f"{theme.point_size(0.85):.0f}pt",
                                          brush=pg.mkBrush(17, 19, 24, 200))
        self.train_loss = self.loss_plot.plot(pen=pg.mkPen(TRAIN, width=2), name="train")
        self.test_loss = self.loss_plot.plot(pen=pg.mkPen(TEST, width=2), symbol="o",
                                             symbolSize=6, symbolBrush=TEST, name="test")
        self.train_acc = self.acc_plot.plot(pen=pg.mkPen(TRAIN, width=2))
        self.test_acc = self.acc_plot.plot(pen=pg.mkPen(TEST, width=2), symbol="o",
                                           symbolSize=6, symbolBrush=TEST)
        self.loss_bins: AlignedBins | None = None
        self.acc_bins: AlignedBins | None = None
        self.setToolTip("Training loss and accuracy (blue: averaged over the batches of each "
                        "span of steps) and on the held-out test set (orange, every 100 "
                        "steps).\nVanishing gradients show here as a loss that barely moves.")

    def on_run(self, info: RunInfo) -> None:
        h = info.history
        self.loss_bins = AlignedBins(h.steps, h.cols("steps", "loss"))
        self.acc_bins = AlignedBins(h.steps, h.cols("steps", "accuracy"))
        for item in (self.train_loss, self.test_loss, self.train_acc, self.test_acc):
            item.setData([], [])

    def refresh(self) -> None:
        if self.info is None or self.loss_bins is None or self.acc_bins is None:
            return
        h = self.info.history
        width = max(100, int(self.loss_plot.vb.width()))
        loss = self.loss_bins.get(width)
        acc = self.acc_bins.get(width)
        self.train_loss.setData(loss.x, _finite(loss.mean[:, 0]), connect="finite")
        self.train_acc.setData(acc.x, acc.mean[:, 0], connect="finite")
        rec = h.evals.records()
        if len(rec["last"]):
            x = rec["last"].astype(float)
            tl = h.cols("evals", "test_loss")
            ta = h.cols("evals", "test_accuracy")
            tloss, tacc = rec["mean"][:, tl][:, 0], rec["mean"][:, ta][:, 0]
            ok = np.isfinite(tloss)  # after an explosion the test loss is NaN: no point
            self.test_loss.setData(x[ok], tloss[ok])
            self.test_acc.setData(x[ok], tacc[ok])
        else:
            self.test_loss.setData([], [])
            self.test_acc.setData([], [])


def _finite(y: np.ndarray) -> np.ndarray:
    """Infinite losses would wreck the axis; show them as gaps (the banner says why)."""
    return np.where(np.isfinite(y), y, np.nan)
