"""View 2: layer x step heatmap of log10 gradient norm: the fading picture.

One row per layer, input at the bottom; vanishing layers go dark. The colour scale is fixed
(decades, labelled) so that colours mean the same thing in every run; NaN/Inf are cyan.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF

from vgrad_gui.core.history import AlignedBins
from vgrad_gui.core.run import Run
from vgrad_gui.core.workspace import Workspace
from vgrad_gui.qt import theme
from vgrad_gui.qt.clock import FrameClock
from vgrad_gui.qt.plots.axes import DecadeAxis, LayerAxis, StepAxis
from vgrad_gui.qt.plots.base import PlotView, set_axis_label, step_axis_end, style_plot
from vgrad_gui.qt.plots.cursor_line import CursorLine
from vgrad_gui.qt.plots.heat_image import HeatImage


class HeatmapView(PlotView):
    title = "Layer × step heatmap"
    yields = False  # what a comparison is read from (View.yields)
    reads_cursor = False  # the whole history, with a cursor line
    every = 1  # every frame: it costs ~2 ms and is the first place a new step shows

    def __init__(self, workspace: Workspace, clock: FrameClock, position: int = 0) -> None:
        super().__init__(workspace, clock, position)
        self.layer_axis = LayerAxis("left")
        self.plot = self.add_plot(axisItems={"left": self.layer_axis, "bottom": StepAxis()})
        self.plot.showGrid(x=False, y=False)
        set_axis_label(self.plot, "bottom", "step")
        set_axis_label(self.plot, "left", "layer (input at the bottom)")
        self.image = HeatImage()
        self.lut = theme.heat_lut()
        self.plot.addItem(self.image)
        self.cursor_lines = [CursorLine(self.plot)]
        # The colour bar: the same LUT drawn as a column, with a decade axis.
        self.bar = self.graphics.addPlot(row=0, col=1,
                                         axisItems={"right": DecadeAxis("right")})
        style_plot(self.bar)
        self.bar.showGrid(x=False, y=False)
        self.bar.hideAxis("left")
        self.bar.hideAxis("bottom")
        self.bar.showAxis("right")
        set_axis_label(self.bar, "right", "‖∇W‖")
        self.bar.setMouseEnabled(False, False)
        lo, hi = theme.HEAT_LEVELS
        column = np.arange(theme.HEAT_TOP + 1, dtype=np.uint8)[:, None]
        bar_img = pg.ImageItem(column, levels=(0, 255), lut=self.lut)
        bar_img.setRect(QRectF(0, lo, 1, hi - lo))
        self.bar.addItem(bar_img)
        self.bar.setRange(xRange=(0, 1), yRange=(lo, hi), padding=0)
        self.graphics.ci.layout.setColumnStretchFactor(0, 10)
        self.bins: AlignedBins | None = None
        # The bins' width drawn last, and the first column that may still change (the bin
        # still filling): a refresh colours only from there on.
        self._drawn_width = 0
        self._open_column = 0
        self._compact = False
        self._restyled()
        theme.notifier.changed.connect(self._restyled)
        self.setToolTip("Each row is a layer (input at the bottom, output at the top), each "
                        "column a span of steps; the colour is the size of that layer's "
                        "gradient (the mean over the span).\nLayers whose gradient vanishes "
                        "fade; grey-blue: exactly 0 (no gradient, or below float32's "
                        "smallest number); cyan: NaN or infinite.")

    def _restyled(self) -> None:
        """The colour bar's width, the note and the picture's colours follow the text size
        and the theme."""
        self.image.recolour()
        self.graphics.ci.layout.setColumnFixedWidth(1, theme.point_size() * 7)
        if self._compact:
            return
        lo, hi = theme.HEAT_LEVELS
        self.show_note(f"{theme.FADED.capitalize()} = little gradient; {theme.ZERO_LEGEND}, "
                       f"also float32 underflow; {theme.NONFINITE_LEGEND}. Colour scale fixed "
                       f"from {theme.decade_label(lo)} to {theme.decade_label(hi)}.")

    def compact(self) -> None:
        """For a run's panel in compare mode: no legend note (the heatmap dock has it) and a
        short axis label, so the picture gets the room."""
        self._compact = True
        self.show_note("")
        set_axis_label(self.plot, "left", "layer")

    def on_run(self, run: Run) -> None:
        n = run.history.n_layers
        self.layer_axis.configure(n)
        self.bins = AlignedBins(run.history.steps, run.history.cols("steps", "grad_norm"))
        self._drawn_width = 0
        self.image.clear()
        self.plot.setRange(xRange=(0, 10), yRange=(0, n), padding=0)

    def on_cursor(self) -> None:
        for line in self.cursor_lines:
            line.show_at(self.shown_step())

    def refresh(self) -> None:
        for line in self.cursor_lines:
            line.show_at(self.shown_step())
        if self.bins is None or self.run is None:
            return
        n = self.run.history.n_layers
        width = max(100, int(self.plot.vb.width()))
        b = self.bins.get(width)
        if not len(b.x):
            self.image.clear()
            return
        w = self.bins.width
        # Clipped, and the width from the largest: steps out of order (a damaged file the
        # checks missed) must not index outside the image.
        cols = np.clip(((b.x - 1) // w).astype(np.int64), 0, None)
        ncols = int(cols.max()) + 1
        old = self.image.image
        # Completed bins never change (AlignedBins): while the width holds, only the columns
        # from the bin that was still filling on are coloured again.
        start = self._open_column if (w == self._drawn_width and old is not None
                                      and old.shape[0] == n and old.shape[1] <= ncols) else 0
        img = np.full((n, ncols), theme.HEAT_EMPTY, np.uint8)
        if start and old is not None:
            img[:, :start] = old[:, :start]
        new = cols >= start
        with np.errstate(divide="ignore", invalid="ignore"):
            logs = np.log10(b.mean[new])
        img[:, cols[new]] = theme.heat_indices(logs).T
        self.image.show_indices(img, QRectF(0, 0, ncols * w, n), start)
        self._drawn_width, self._open_column = w, ncols - 1
        end = step_axis_end(self.plot.vb.viewRange()[0][1], self.run.history.step,
                            self.run.max_steps)
        if end is not None:
            self.plot.setRange(xRange=(0, end), yRange=(0, n), padding=0)
