"""Figures: a view drawn from a Run, offscreen, and saved as PNG or SVG; a live view's plot
saved as it is on screen.

``render_figure`` builds a fresh pyqtgraph layout for one view from the Run (never from a live
widget, so a view hidden in a dock tab, never laid out, is not what gets saved) with the same
quantities, colours and scales the view uses, the numbers taken from ``core.export`` (the
ones its CSV holds), and saves it with pyqtgraph's ImageExporter or SVGExporter. It works
without a display (``QT_QPA_PLATFORM=offscreen``): the layout is laid out by showing it with
``WA_DontShowOnScreen``.

``export_widget_plot`` saves a live view's plot item or layout widget, and refuses one that is
not shown: a hidden widget's layout is stale or empty, and the file would be garbled.

Every paint goes through qt/guard.py; a figure whose paint failed is not written (the
exception is reported once on the terminal and ExportError says which view failed).
"""

from __future__ import annotations

import contextlib
import math
import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyqtgraph as pg
import pyqtgraph.exporters as pg_exporters
from PySide6.QtCore import QObject, QRectF, Qt
from PySide6.QtGui import QColor, QImage
from PySide6.QtWidgets import QApplication, QGraphicsItem, QGraphicsView, QWidget

from vgrad_gui.core import export, readings
from vgrad_gui.core.export import ExportError
from vgrad_gui.core.run import Run
from vgrad_gui.qt import collector, guard, theme
from vgrad_gui.qt.plots.axes import DecadeAxis, LayerAxis, StepAxis

FORMATS = ("png", "svg")
MAX_SCALE = 8.0  # 6400 x 4000 pixels at the default size: a poster, not a memory error
MAX_CURVES = 24  # as the gradient-lines view: more lines cannot be told apart
MARK_EACH = 20  # as the flow bars: a "0" over each stub up to this many layers
RULE_OF_THUMB = -3.0  # log10 of the update/weight ratio that trains well
# As the views: loss colours, signal quantities (Okabe-Ito), class colours.
TRAIN, TEST = "#4cc2ff", "#ffb84d"
SIGNAL_STYLE = {"signal_std": ("forward signal std(h)", "#56B4E9"),
                "backprop_grad": ("backward ∂L/∂h (rms)", "#E69F00"),
                "grad_norm": ("weight gradient ‖∇W‖", "#CC79A7")}
CLASS_COLOURS = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00",
                 "#F0E442", "#999999", "#ffffff", "#000000"]


# -- building blocks --------------------------------------------------------------------------
def ensure_app() -> QApplication:
    """The running QApplication, or a new one (the CLI has none)."""
    app = QApplication.instance()
    if app is None:
        app = QApplication([])
        collector.install(app)
    assert isinstance(app, QApplication)
    return app


def _style(plot: pg.PlotItem) -> pg.PlotItem:
    for name in ("left", "bottom", "right", "top"):
        axis = plot.getAxis(name)
        axis.setStyle(tickFont=theme.font(0.9), tickTextOffset=6)
        axis.setTextPen(theme.TEXT)
        axis.setPen(pg.mkPen(theme.TEXT_DIM))
        axis.enableAutoSIPrefix(False)
    plot.showGrid(x=True, y=True, alpha=0.15)
    plot.hideButtons()
    plot.setMenuEnabled(False)
    plot.setMouseEnabled(False, False)
    return plot


def _label(plot: pg.PlotItem, side: str, text: str) -> None:
    plot.setLabel(side, text, **{"font-size": f"{theme.point_size(0.95):.0f}pt",
                                 "color": theme.TEXT})


def _logs(values: Any) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.log10(np.asarray(values, np.float64))


def _decades(logs: np.ndarray, lo: float, hi: float) -> tuple[float, float]:
    """Whole decades holding every finite value, at least ``lo``..``hi``."""
    finite = logs[np.isfinite(logs)]
    if finite.size:
        lo = min(lo, math.floor(float(finite.min())) - 1)
        hi = max(hi, math.ceil(float(finite.max())) + 1)
    return float(lo), float(hi)


def pick_layers(n: int, most: int = MAX_CURVES) -> list[int]:
    """Evenly spaced layer indices, the first and the output layer always among them."""
    if n <= most:
        return list(range(n))
    return sorted({round(i * (n - 1) / (most - 1)) for i in range(most)})


class _Figure:
    """A layout widget laid out offscreen: a caption row, then the view's plots."""

    def __init__(self, size: tuple[int, int], caption: str) -> None:
        self.widget = pg.GraphicsLayoutWidget()
        self.widget.setBackground(theme.BACKGROUND)
        self.widget.setAttribute(Qt.WidgetAttribute.WA_DontShowOnScreen, True)
        self.widget.resize(int(size[0]), int(size[1]))
        self.layout = self.widget.ci
        self.layout.setContentsMargins(8, 8, 8, 8)
        self.row = 0
        self.caption = None
        if caption:
            self.caption = self.layout.addLabel(caption, row=0, col=0, colspan=3,
                                                color=theme.TEXT,
                                                size=f"{theme.point_size(1.0):.0f}pt")
            self.row = 1

    def plot(self, col: int = 0, row: int | None = None, **kwargs: Any) -> pg.PlotItem:
        return _style(self.layout.addPlot(row=self.row if row is None else row, col=col,
                                          **kwargs))

    def add(self, item: Any, col: int = 0, row: int | None = None, colspan: int = 1) -> None:
        self.layout.addItem(item, row=self.row if row is None else row, col=col,
                            colspan=colspan)

    def settle(self) -> None:
        """Deliver the events this figure posted to itself (resizes, layout requests), and
        only those: processing every pending event would run the app's timers and the
        worker's messages in the middle of an export."""
        for _ in range(3):  # a layout pass can post another
            QApplication.sendPostedEvents(self.widget, 0)
            QApplication.sendPostedEvents(self.widget.scene(), 0)
            for item in self.widget.scene().items():
                if isinstance(item, QObject):
                    QApplication.sendPostedEvents(item, 0)
            self.layout.layout.activate()

    def close(self) -> None:
        self.widget.close()
        self.widget.deleteLater()


# -- the views --------------------------------------------------------------------------------
def _heatmap(fig: _Figure, run: Run, step: int, size: tuple[int, int]) -> None:
    h = run.history
    n = h.n_layers
    plot = fig.plot(0, axisItems={"left": LayerAxis("left", n), "bottom": StepAxis()})
    plot.showGrid(x=False, y=False)
    _label(plot, "bottom", "step")
    _label(plot, "left", "layer (input at the bottom)")
    lut = theme.heat_lut()
    b = export.bin_records(export.records_upto(h, "steps", "grad_norm", step),
                           max(100, int(size[0])))
    if len(b.x):
        cols = np.clip(((b.x - 1) // b.width).astype(np.int64), 0, None)
        ncols = int(cols.max()) + 1
        img = np.full((n, ncols), theme.HEAT_EMPTY, np.uint8)
        img[:, cols] = theme.heat_indices(_logs(b.mean)).T
        image = pg.ImageItem(img, levels=(0, 255), lut=lut, axisOrder="row-major")
        image.setRect(QRectF(0, 0, ncols * b.width, n))
        plot.addItem(image)
    plot.setRange(xRange=(0, max(step, 1)), yRange=(0, n), padding=0)
    bar = fig.plot(1, axisItems={"right": DecadeAxis("right")})
    bar.showGrid(x=False, y=False)
    bar.hideAxis("left")
    bar.hideAxis("bottom")
    bar.showAxis("right")
    _label(bar, "right", "‖∇W‖")
    lo, hi = theme.HEAT_LEVELS
    column = np.arange(theme.HEAT_TOP + 1, dtype=np.uint8)[:, None]
    bar_img = pg.ImageItem(column, levels=(0, 255), lut=lut, axisOrder="row-major")
    bar_img.setRect(QRectF(0, lo, 1, hi - lo))
    bar.addItem(bar_img)
    bar.setRange(xRange=(0, 1), yRange=(lo, hi), padding=0)
    fig.layout.layout.setColumnStretchFactor(0, 10)
    fig.layout.layout.setColumnFixedWidth(1, theme.point_size() * 7)
    fig.add(_note(f"{theme.ZERO_LEGEND}  ·  {theme.NONFINITE_LEGEND}"), row=fig.row + 1,
            colspan=2)


def _note(text: str) -> pg.LabelItem:
    return pg.LabelItem(text, color=theme.TEXT_DIM, size=f"{theme.point_size(0.85):.0f}pt")


def _lines(fig: _Figure, run: Run, step: int, size: tuple[int, int]) -> None:
    h = run.history
    n = h.n_layers
    plot = fig.plot(0, axisItems={"left": DecadeAxis("left"), "bottom": StepAxis()})
    _label(plot, "bottom", "step")
    _label(plot, "left", "‖∇W‖")
    b = export.bin_records(export.records_upto(h, "steps", "grad_norm", step),
                           max(100, int(size[0])))
    layers = pick_layers(n)
    logs, lo, hi = (_logs(a[:, layers]) for a in (b.mean, b.min, b.max))
    floor, top = _decades(np.concatenate([logs.ravel(), hi.ravel()]), 0.0, 0.0)
    if not np.isfinite(logs).any():
        floor, top = -8.0, 1.0
    zero = np.isneginf(logs)
    bad = np.isnan(logs) | np.isposinf(logs)
    logs = np.where(zero, floor, logs)
    lo = np.where(np.isneginf(lo), floor, lo)
    colours = theme.depth_colours(n)
    legend = pg.LegendItem(colCount=6, labelTextSize=f"{theme.point_size(0.85):.0f}pt",
                           horSpacing=18)
    fig.add(legend, row=fig.row + 1)
    legend_at = {min(layers, key=lambda i: abs(i - t)) for t in pick_layers(n, 5)} | {n - 1}
    band_x, band_y = [], []
    for j, i in enumerate(layers):
        y = logs[:, j]
        curve = pg.PlotCurveItem(b.x, np.where(np.isfinite(y), y, np.nan), connect="finite",
                                 pen=pg.mkPen(colours[i], width=2 if i == n - 1 else 1),
                                 antialias=True)
        plot.addItem(curve)
        if i in legend_at:
            legend.addItem(curve, h.layer_names[i])
        spread = np.isfinite(lo[:, j]) & np.isfinite(hi[:, j]) & (hi[:, j] > lo[:, j])
        band_x.append(np.repeat(b.x[spread], 2))
        band_y.append(np.column_stack([lo[spread, j], hi[spread, j]]).ravel())
    if band_x and sum(len(x) for x in band_x):
        band_pen = pg.mkPen(QColor(233, 235, 239, 60), width=1)
        plot.addItem(pg.PlotCurveItem(np.concatenate(band_x), np.concatenate(band_y),
                                      connect="pairs", pen=band_pen))
    for where, level, colour in ((zero.any(axis=1), floor, theme.ZERO),
                                 (bad.any(axis=1), top, theme.NONFINITE)):
        if where.any():
            plot.addItem(pg.PlotCurveItem(b.x, np.where(where, level, np.nan), connect="finite",
                                          pen=pg.mkPen(colour, width=4)))
    if zero.any():
        label = pg.TextItem("0: no gradient", color=theme.TEXT, anchor=(0, 1))
        label.setPos(float(b.x[np.argmax(zero.any(axis=1))]), floor + 0.05)
        plot.addItem(label, ignoreBounds=True)
    plot.setRange(xRange=(0, max(step, 1)), yRange=(floor, top), padding=0.02)


def _bars(fig: _Figure, run: Run, step: int, size: tuple[int, int]) -> None:
    h = run.history
    n = h.n_layers
    reading = readings.grad_reading(h, step)
    plot = fig.plot(0, axisItems={"left": DecadeAxis("left"),
                                  "bottom": LayerAxis("bottom", n)})
    plot.showGrid(x=False, y=True, alpha=0.15)
    _label(plot, "left", "‖∇W‖ now")
    _label(plot, "bottom", "layer (input → output)  ·  dashed: the output layer's norm")
    if reading is None:
        plot.setRange(xRange=(0, n), yRange=(-8, 1), padding=0.02)
        return
    logs = _logs(reading.norms)
    finite = np.isfinite(logs)
    base, top = _decades(logs, -2.0, 1.0)
    zero = np.array([c in (readings.ZERO, readings.UNDERFLOW) for c in reading.classes])
    bad = np.array([c == readings.NONFINITE for c in reading.classes])
    stub = max(0.25, 0.03 * (top - base))
    heights = np.where(finite, logs - base, 0.0)
    heights[zero] = stub
    heights[bad] = top - base
    colours = theme.depth_colours(n)
    brushes = [pg.mkBrush(theme.ZERO) if zero[i] else pg.mkBrush(theme.NONFINITE) if bad[i]
               else pg.mkBrush(colours[i]) for i in range(n)]
    x = np.arange(n) + 0.5
    plot.addItem(pg.BarGraphItem(x=x, height=heights, y0=np.full(n, base), width=0.8,
                                 brushes=brushes, pen=pg.mkPen(None)))
    if finite[-1]:
        plot.addItem(pg.InfiniteLine(float(logs[-1]), angle=0, pen=pg.mkPen(
            theme.TEXT, width=2, style=Qt.PenStyle.DashLine)))
    where = [int(i) for i in np.flatnonzero(zero)]
    if where and n <= MARK_EACH:
        for i in where:
            mark = pg.TextItem("0", color=theme.TEXT, anchor=(0.5, 1))
            mark.setPos(float(x[i]), base + stub)
            plot.addItem(mark, ignoreBounds=True)
    elif where:
        mark = pg.TextItem(f"0: no gradient ({len(where)} layers)", color=theme.TEXT,
                           anchor=(0, 1))
        mark.setPos(float(x[where[0]]) - 0.4, base + stub)
        plot.addItem(mark, ignoreBounds=True)
    plot.setRange(xRange=(0, n), yRange=(base, top), padding=0)
    fig.add(_note(f"{theme.ZERO_LEGEND}, a stub marked 0  ·  {theme.NONFINITE_LEGEND}"),
            row=fig.row + 1)


def _loss(fig: _Figure, run: Run, step: int, size: tuple[int, int]) -> None:
    h = run.history
    loss_plot = fig.plot(0, axisItems={"bottom": StepAxis()})
    acc_plot = fig.plot(0, row=fig.row + 1, axisItems={"bottom": StepAxis()})
    _label(loss_plot, "left", "loss")
    _label(acc_plot, "left", "accuracy")
    _label(acc_plot, "bottom", "step")
    legend = loss_plot.addLegend(offset=(-10, 10),
                                 labelTextSize=f"{theme.point_size(0.85):.0f}pt",
                                 brush=pg.mkBrush(17, 19, 24, 200))
    max_bins = max(100, int(size[0]))
    values: list[np.ndarray] = []
    for plot, train, test in ((loss_plot, "loss", "test_loss"),
                              (acc_plot, "accuracy", "test_accuracy")):
        b = export.bin_records(export.records_upto(h, "steps", train, step), max_bins)
        t = export.records_upto(h, "evals", test, step)
        y = b.mean[:, 0] if len(b.x) else np.empty(0)
        y = np.where(np.isfinite(y), y, np.nan)
        line = pg.PlotCurveItem(b.x, y, connect="finite", pen=pg.mkPen(TRAIN, width=1.5),
                                antialias=True)
        plot.addItem(line)
        ty = t.mean[:, 0] if len(t) else np.empty(0)
        ok = np.isfinite(ty)
        dots = pg.PlotDataItem(t.last[ok].astype(np.float64), ty[ok],
                               pen=pg.mkPen(TEST, width=2), symbol="o", symbolSize=6,
                               symbolBrush=TEST, symbolPen=None)
        plot.addItem(dots)
        if plot is loss_plot:
            legend.addItem(line, "train")
            legend.addItem(dots, "test")
            values += [y[np.isfinite(y)], ty[ok]]
        plot.setXRange(0, max(step, 1), padding=0.01)
    acc_plot.setYRange(0, 1.02, padding=0)
    pool = np.concatenate(values) if values else np.empty(0)
    if pool.size:
        lo, hi = float(pool.min()), float(pool.max())
        span = max(hi - lo, 1e-3)
        loss_plot.setYRange(max(0.0, lo - 0.1 * span), hi + 0.1 * span, padding=0)


def _signal(fig: _Figure, run: Run, step: int, size: tuple[int, int]) -> None:
    h = run.history
    n = h.n_layers
    data = export.signal_data(run, step)
    plot = fig.plot(0, axisItems={"left": DecadeAxis("left"),
                                  "bottom": LayerAxis("bottom", n)})
    _label(plot, "bottom", "layer (input → output)")
    _label(plot, "left", "size (log scale)")
    legend = pg.LegendItem(colCount=2, labelTextSize=f"{theme.point_size(0.85):.0f}pt",
                           horSpacing=18)
    fig.add(legend, row=fig.row + 1)
    x = np.arange(n) + 0.5
    pool = np.concatenate([_logs(v) for v in (*data.values.values(), *data.first.values())])
    floor, top = _decades(pool, 0.0, 0.0) if np.isfinite(pool).any() else (-8.0, 1.0)
    top += math.ceil(max(1.0, 0.15 * (top - floor)))  # room for the caption above the lines
    zeros: list[float] = []
    bad: list[float] = []
    for name, (label, colour) in SIGNAL_STYLE.items():
        now, first = _logs(data.values[name]), _logs(data.first[name])
        if data.first_step is not None and data.first_step != data.step \
                and np.isfinite(first).any():
            faint = pg.mkColor(colour)
            faint.setAlpha(110)
            plot.addItem(pg.PlotDataItem(x, np.where(np.isfinite(first), first, np.nan),
                                         connect="finite", pen=pg.mkPen(
                                             faint, width=1, style=Qt.PenStyle.DashLine)))
        if not np.isfinite(now).any():
            continue
        cur = pg.PlotDataItem(x, np.where(np.isfinite(now), now, np.nan), connect="finite",
                              pen=pg.mkPen(colour, width=2), symbol="o", symbolSize=6,
                              symbolBrush=colour, symbolPen=None)
        plot.addItem(cur)
        legend.addItem(cur, label)
        zeros += list(x[np.isneginf(now)])
        bad += list(x[np.isnan(now) | np.isposinf(now)])
    for where, y, symbol, colour, text in ((zeros, floor + 0.3, "s", theme.ZERO,
                                            "exactly 0 (floor)"),
                                           (bad, top - 0.3, "t", theme.NONFINITE, "NaN/Inf")):
        if where:
            marks = pg.ScatterPlotItem(where, [y] * len(where), symbol=symbol, size=10,
                                       pen=None, brush=pg.mkBrush(colour))
            plot.addItem(marks)
            legend.addItem(marks, text)
    if data.step is not None:
        text = f"step {data.step:,}" + (f"  ·  dashed: step {data.first_step:,}"
                                        if data.first_step not in (None, data.step) else "")
        label = pg.TextItem(text, color=theme.TEXT_DIM, anchor=(0, 0))
        label.setPos(0, top)
        plot.addItem(label, ignoreBounds=True)
    else:
        fig.add(_note("no layer statistics yet (measured every 100 steps)"), row=fig.row + 2)
    plot.setRange(xRange=(0, n), yRange=(floor, top), padding=0.02)


def _health(fig: _Figure, run: Run, step: int, size: tuple[int, int]) -> None:
    h = run.history
    n = h.n_layers
    probe = readings.probe_reading(h, step)
    inactive = fig.plot(0, axisItems={"bottom": LayerAxis("bottom", n - 1, False)})
    acts = fig.plot(1, axisItems={"bottom": LayerAxis("bottom", n - 1, False)})
    ratio = fig.plot(2, axisItems={"bottom": LayerAxis("bottom", n),
                                   "left": DecadeAxis("left")})
    for plot in (inactive, acts, ratio):
        _label(plot, "bottom", "layer")
    title = {"saturated": "saturated units", "dead": "dead units (ReLU)"}.get(
        h.inactive_kind, "inactive units")
    _label(inactive, "left", f"share of units: {title}")
    _label(acts, "left", "activation mean ± std")
    _label(ratio, "left", "‖ΔW‖ / ‖W‖")
    inactive.setRange(xRange=(0, max(1, n - 1)), yRange=(0, 1), padding=0.02)
    acts.setXRange(0, max(1, n - 1), padding=0.02)
    lo, hi = -6.0, 0.0
    if probe is not None:
        def values(channel: str) -> np.ndarray:
            v = probe.values.get(channel)
            return np.full(n, np.nan) if v is None else np.asarray(v, np.float64)

        frac, mean, std = values("inactive_fraction"), values("act_mean"), values("act_std")
        hidden = np.arange(len(frac)) + 0.5
        if len(frac):
            inactive.addItem(pg.BarGraphItem(x=hidden, height=np.nan_to_num(frac), width=0.8,
                                             brush=theme.WARN, pen=pg.mkPen(None)))
        ok = np.isfinite(mean) & np.isfinite(std)
        if ok.any():
            acts.addItem(pg.ErrorBarItem(x=hidden[ok], y=mean[ok], height=2 * std[ok],
                                         pen=pg.mkPen(theme.ACCENT, width=2), beam=0.3))
            acts.addItem(pg.ScatterPlotItem(hidden[ok], mean[ok], size=8, brush=theme.ACCENT,
                                            pen=None))
        logs = _logs(values("update_ratio"))
        x = np.arange(len(logs)) + 0.5
        good = np.isfinite(logs)
        zero = np.isneginf(logs)
        bad = np.isnan(logs) | np.isposinf(logs)
        if good.any():
            lo = min(lo, float(np.floor(logs[good].min())))
            hi = max(hi, float(np.ceil(logs[good].max())))
            ratio.addItem(pg.PlotDataItem(x[good], logs[good], pen=pg.mkPen(theme.OK, width=2),
                                          symbol="o", symbolSize=7, symbolBrush=theme.OK))
        if zero.any():
            lo -= 1.0
            ratio.addItem(pg.ScatterPlotItem(x[zero], np.full(int(zero.sum()), lo + 0.3),
                                             symbol="s", size=10, pen=None,
                                             brush=pg.mkBrush(theme.ZERO)))
            mark = pg.TextItem("0: never changed", color=theme.TEXT, anchor=(0, 1))
            mark.setPos(float(x[zero][0]) - 0.4, lo + 0.65)
            ratio.addItem(mark, ignoreBounds=True)
        if bad.any():
            ratio.addItem(pg.ScatterPlotItem(x[bad], np.full(int(bad.sum()), hi - 0.3),
                                             symbol="t", size=10, pen=None,
                                             brush=pg.mkBrush(theme.NONFINITE)))
        fig.add(_note(f"statistics of step {probe.step:,}"), row=fig.row + 1, colspan=3)
    else:
        fig.add(_note("no layer statistics yet (measured every 100 steps)"), row=fig.row + 1,
                colspan=3)
    ratio.addItem(pg.InfiniteLine(RULE_OF_THUMB, angle=0, pen=pg.mkPen(
        theme.TEXT_DIM, width=2, style=Qt.PenStyle.DashLine), label="10⁻³ rule of thumb",
        labelOpts={"position": 0.02, "color": theme.TEXT_DIM, "anchors": [(0, 1), (0, 1)]}))
    ratio.setRange(xRange=(0, n), yRange=(lo, hi), padding=0.02)


def _boundary(fig: _Figure, run: Run, step: int, size: tuple[int, int]) -> None:
    _xs, _ys, at, classes, conf = export.boundary_grid(run, step)
    assert run.data is not None
    plot = fig.plot(0)
    plot.setAspectLocked(True)
    plot.hideAxis("left")
    plot.hideAxis("bottom")
    plot.showGrid(x=False, y=False)
    rgb_of = np.array([(QColor(c).red(), QColor(c).green(), QColor(c).blue())
                       for c in CLASS_COLOURS], np.float32)
    base = rgb_of[classes % len(rgb_of)]
    floor = 1.0 / max(2, run.n_classes)
    t = np.clip((conf - floor) / (1 - floor), 0, 1)[..., None]
    bg = np.array([17, 19, 24], np.float32)
    image = pg.ImageItem((bg + (base - bg) * (0.25 + 0.45 * t)).astype(np.uint8),
                         levels=(0, 255), axisOrder="row-major")
    x0, x1, y0, y1 = run.data.extent
    image.setRect(QRectF(x0, y0, x1 - x0, y1 - y0))
    plot.addItem(image)
    edge = pg.mkPen(theme.BACKGROUND, width=1)
    labels = run.data.labels % len(CLASS_COLOURS)
    for c, colour in enumerate(CLASS_COLOURS):
        pts = run.data.points[labels == c]
        if len(pts):
            plot.addItem(pg.ScatterPlotItem(pos=pts, size=7, pen=edge, brush=pg.mkBrush(colour)))
    label = pg.TextItem(f"step {at:,}", color=theme.TEXT, anchor=(0, 0))
    label.setPos(x0, y1)
    plot.addItem(label, ignoreBounds=True)
    plot.setRange(xRange=(x0, x1), yRange=(y0, y1), padding=0)


_BUILDERS = {"heatmap": _heatmap, "lines": _lines, "bars": _bars, "loss": _loss,
             "signal": _signal, "health": _health, "boundary": _boundary}


# -- saving -----------------------------------------------------------------------------------
def _check(fmt: str, scale: float) -> None:
    if fmt not in FORMATS:
        raise ExportError(f"format {fmt!r}: a figure is saved as {' or '.join(FORMATS)}")
    if not (isinstance(scale, (int, float)) and math.isfinite(scale)
            and 0 < scale <= MAX_SCALE):
        raise ExportError(f"scale {scale!r}: allowed: more than 0, at most {MAX_SCALE:g}")


def _write_atomic(path: Path, write: Any) -> None:
    """``write(tmp_path)`` then rename onto ``path``; nothing is left behind on failure."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    except OSError as exc:
        raise ExportError(f"cannot write {path}: {exc.strerror or exc}") from None
    finally:
        with contextlib.suppress(OSError):
            os.unlink(tmp)


_SVG_MODULE: Any = sys.modules[pg_exporters.SVGExporter.__module__]


@contextlib.contextmanager
def _closed_paths_tolerated() -> Iterator[None]:
    """pyqtgraph 0.14's SVG exporter reads every token of a path as "x,y" and raises on the
    "Z" (close path) that Qt 6.11's SVG generator writes for closed shapes (every ViewBox
    border, bars, legend boxes; pyqtgraph issue 3495). For the length of one export, its
    coordinate correction runs on the paths without their Z tokens, which are put back in
    place afterwards."""
    original = _SVG_MODULE.correctCoordinates

    def tolerant(node: Any, defs: Any, item: Any, options: Any) -> None:
        closes: list[tuple[Any, list[int]]] = []
        for path in node.getElementsByTagName("path"):
            tokens = path.getAttribute("d").split()
            at = [i for i, t in enumerate(tokens) if t in ("Z", "z")]
            if at:
                path.setAttribute("d", " ".join(t for t in tokens if t not in ("Z", "z")))
                closes.append((path, at))
        original(node, defs, item, options)
        for path, at in closes:
            tokens = path.getAttribute("d").split()
            for i in at:
                tokens.insert(i, "Z")
            path.setAttribute("d", " ".join(tokens))

    _SVG_MODULE.correctCoordinates = tolerant
    try:
        yield
    finally:
        _SVG_MODULE.correctCoordinates = original


def _export(item: Any, path: Path, fmt: str, width: int, height: int, what: str) -> Path:
    """Export ``item`` (a graphics item or scene) at width x height; a paint that fails
    (reported by the guard) writes nothing."""
    failures = guard.failures
    scene = item if isinstance(item, pg.GraphicsScene) else item.scene()
    if fmt == "svg" and isinstance(scene, pg.GraphicsScene):
        # A ViewBox maps its data to the screen lazily, just before a paint; the PNG export
        # paints through the scene, the SVG export paints item by item and would take a
        # stale mapping (curves drawn against the wrong axis range).
        scene.prepareForPaint()
    if fmt == "svg":
        svg = pg_exporters.SVGExporter(item)
        svg.params.param("width").setValue(float(width), blockSignal=svg.widthChanged)
        svg.params.param("height").setValue(float(height), blockSignal=svg.heightChanged)
        with _closed_paths_tolerated():
            data = svg.export(toBytes=True)
        if guard.failures != failures:
            raise ExportError(f"drawing the {what} failed (details on the terminal); "
                              f"nothing was written")

        def write(tmp: str) -> None:
            with open(tmp, "wb") as fh:
                fh.write(data)
    else:
        png = pg_exporters.ImageExporter(item)
        png.params.param("width").setValue(int(width), blockSignal=png.widthChanged)
        png.params.param("height").setValue(int(height), blockSignal=png.heightChanged)
        image = png.export(toBytes=True)
        if guard.failures != failures or not isinstance(image, QImage) or image.isNull():
            raise ExportError(f"drawing the {what} failed (details on the terminal); "
                              f"nothing was written")

        def write(tmp: str) -> None:
            # The stubs say bytes; PySide6 6.11 takes only str here.
            if not image.save(tmp, "PNG"):  # type: ignore[call-overload]
                raise OSError(f"Qt could not save a PNG to {tmp}")
    _write_atomic(path, write)
    return path


def render_figure(run: Run, view: str, step: int | None, fmt: str, path: str | Path,
                  scale: float = 1.0, caption: bool = True,
                  size: tuple[int, int] = (800, 500)) -> Path:
    """Draw ``view`` of ``run`` at ``step`` (None: the last step) offscreen and save it as
    ``fmt`` ("png" or "svg") to ``path``. ``size`` is the layout in pixels; a PNG is
    ``size * scale`` pixels (fonts and lines scale with it), an SVG's view box likewise.
    ``caption``: a title line naming the run, its config and the step (``export.caption``).
    ExportError (one line) for a view, step, format or scale that is not allowed, a view with
    nothing to draw (no boundary recorded), or a file that cannot be written."""
    if view not in _BUILDERS:
        raise ExportError(f"unknown view {view!r}; allowed: {', '.join(_BUILDERS)}")
    _check(fmt, scale)
    at = export.resolve_step(run, step)
    out = Path(path)
    export.check_writable(out)
    if view == "boundary":
        export.boundary_grid(run, at)  # says why there is nothing to draw, before any Qt
    ensure_app()
    fig = _Figure(size, export.caption(run, at) if caption else "")
    try:
        _BUILDERS[view](fig, run, at, size)
        fig.widget.show()
        fig.settle()
        width, height = round(size[0] * scale), round(size[1] * scale)
        return _export(fig.layout, out, fmt, max(1, width), max(1, height), f"{view} figure")
    finally:
        fig.close()


def _graphics_view(target: Any) -> QGraphicsView | None:
    if isinstance(target, QGraphicsView):
        return target
    if isinstance(target, QWidget):
        graphics = target.findChildren(pg.GraphicsView)
        shown = [g for g in graphics if g.isVisible()]
        return (shown or graphics or [None])[0]
    return None


def export_widget_plot(target: Any, path: str | Path, fmt: str, scale: float = 1.0) -> Path:
    """Save a live view's plot as it is on screen: ``target`` is a PlotItem (or any pyqtgraph
    graphics item), a GraphicsLayoutWidget, or a widget holding one (a view). A PNG is the
    item's on-screen size times ``scale``. ExportError, and nothing written, when the target
    is not shown (a closed dock or a background tab: its layout would be stale) or its
    paint fails."""
    _check(fmt, scale)
    out = Path(path)
    export.check_writable(out)
    if isinstance(target, pg.GraphicsLayoutWidget):
        view: QGraphicsView | None = target
        item: Any = target.ci
    elif isinstance(target, QGraphicsItem):
        scene = target.scene()
        views = scene.views() if scene is not None else []
        view, item = (views[0] if views else None), target
    else:
        view = _graphics_view(target)
        item = getattr(view, "ci", None) or (view.scene() if view is not None else None)
    if view is None or item is None:
        raise ExportError(f"nothing to export: {type(target).__name__} holds no plot")
    hidden = not view.isVisible() or (isinstance(item, QGraphicsItem) and not item.isVisible())
    rect = item.sceneBoundingRect() if hasattr(item, "sceneBoundingRect") else \
        QRectF(view.rect())
    if hidden or rect.width() < 1 or rect.height() < 1:
        raise ExportError("this view is not shown (closed, or in a background tab); show it "
                          "first, or export a figure drawn from the run")
    width, height = round(rect.width() * scale), round(rect.height() * scale)
    return _export(item, out, fmt, max(1, width), max(1, height), "view")
