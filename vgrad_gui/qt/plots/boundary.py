"""View 6: the decision boundary for the 2-D data sets: the predicted class as background
(fainter where the network is unsure), the training points on top. The worker computes the
grid a few times a second, only while this view is shown."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QStackedLayout, QWidget

from vgrad_gui.core.run import Run, Snapshot
from vgrad_gui.core.workspace import Workspace
from vgrad_gui.qt import theme
from vgrad_gui.qt.clock import FrameClock
from vgrad_gui.qt.plots.base import (
    GuardedGraphicsLayoutWidget,
    View,
    no_data_label,
    style_plot,
)

# Okabe-Ito colours: distinguishable with every common colour-vision deficiency.
CLASS_COLOURS = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00",
                 "#F0E442", "#999999", "#ffffff", "#000000"]


class BoundaryView(View):
    title = "Decision boundary"
    every, phase = 6, 3  # 10 Hz at most; the grid itself arrives twice a second
    wanted = Signal(bool)  # shown or hidden: the trainer computes the grid only when shown

    def __init__(self, workspace: Workspace, clock: FrameClock, position: int = 0) -> None:
        super().__init__(workspace, clock, position)
        self.stack = QStackedLayout(self)
        self.graphics = GuardedGraphicsLayoutWidget()
        self.plot = self.graphics.addPlot()
        style_plot(self.plot)
        self.plot.setAspectLocked(True)
        self.plot.hideAxis("left")
        self.plot.hideAxis("bottom")
        self.plot.showGrid(x=False, y=False)
        self.image = pg.ImageItem()
        self.plot.addItem(self.image)
        # One scatter item per class with one brush: per-point brushes cost ~80 ms to set.
        edge = pg.mkPen("#111318", width=1)
        self.points = [pg.ScatterPlotItem(size=7, pen=edge, brush=pg.mkBrush(c))
                       for c in CLASS_COLOURS]
        for item in self.points:
            self.plot.addItem(item)
        self.caption = pg.TextItem("", color="#e9ebef", anchor=(0, 0))
        self.plot.addItem(self.caption, ignoreBounds=True)
        self.stack.addWidget(self.graphics)
        self.message = no_data_label("")
        holder = QWidget()
        QStackedLayout(holder).addWidget(self.message)
        self.stack.addWidget(holder)
        self._drawn: Snapshot | None = None
        self.class_rgb = np.array([(QColor(c).red(), QColor(c).green(), QColor(c).blue())
                                   for c in CLASS_COLOURS], np.float32)
        theme.notifier.changed.connect(self._restyled)
        self.setToolTip("What the network predicts at every point of the plane (colour = "
                        "class, faint = unsure), with the training points on top.")

    def on_run(self, run: Run) -> None:
        self._drawn = None
        self.image.clear()
        self.caption.setText("")  # not the last run's "step 86" (issue 11)
        data = run.data
        if data is None:
            for item in self.points:
                item.clear()
            dataset = run.config.dataset if run.config is not None else "this data set"
            why = (f"The decision boundary needs a 2-D data set; {dataset} has "
                   f"{run.input_dim} inputs." if not run.is_2d else
                   "This run file holds no data sample (saved by an older vgrad-gui).")
            self.message.setText(why)
            self.stack.setCurrentIndex(1)
            return
        self.stack.setCurrentIndex(0)
        classes = data.labels % len(CLASS_COLOURS)
        for c, item in enumerate(self.points):
            item.setData(pos=data.points[classes == c])
        x0, x1, y0, y1 = data.extent
        self.plot.setRange(xRange=(x0, x1), yRange=(y0, y1), padding=0)
        self.caption.setPos(x0, y1)

    def refresh(self) -> None:
        info = self.run
        if info is None or info.data is None:
            return
        b = info.boundary_at(self.workspace.cursor.step_for(info))
        if b is None or b is self._drawn:
            return
        self._drawn = b
        base = self.class_rgb[b.classes % len(self.class_rgb)]
        # Unsure regions (confidence near 1/classes) fade towards the background.
        floor = 1.0 / max(2, info.n_classes)
        t = np.clip((b.confidence - floor) / (1 - floor), 0, 1)[..., None]
        back = QColor(theme.BACKGROUND)
        bg = np.array([back.red(), back.green(), back.blue()], np.float32)
        rgb = bg + (base - bg) * (0.25 + 0.45 * t)
        self.image.setImage(rgb.astype(np.uint8), levels=(0, 255))
        x0, x1, y0, y1 = info.data.extent
        self.image.setRect(QRectF(x0, y0, x1 - x0, y1 - y0))
        self.caption.setText(f"step {b.step:,}")

    def _restyled(self) -> None:
        self._drawn = None  # blended with the background: draw again in the new theme
        self.mark_dirty()

    def showEvent(self, event) -> None:
        super().showEvent(event)
        self.wanted.emit(True)

    def hideEvent(self, event) -> None:
        super().hideEvent(event)
        self.wanted.emit(False)
