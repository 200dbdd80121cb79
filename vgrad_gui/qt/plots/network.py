"""View 3: the network diagram. Layers are columns of units joined by links; each layer's
brightness follows its gradient relative to the output layer, so the layers nearest the input
fade as their gradients vanish and light up again when a fix is applied. NaN/Inf are cyan;
layers with no gradient at all (exactly 0) are grey-blue. The numbers are ``readings``'."""

from __future__ import annotations

import math
import time

import numpy as np
from PySide6.QtCore import QLineF, QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QImage, QPainter, QPaintEvent, QPen
from PySide6.QtWidgets import QToolTip

from vgrad_gui.core import readings
from vgrad_gui.core.run import Run
from vgrad_gui.core.workspace import Workspace
from vgrad_gui.qt import theme
from vgrad_gui.qt.clock import FrameClock
from vgrad_gui.qt.guard import guarded_paint_event
from vgrad_gui.qt.plots.banner import readable
from vgrad_gui.qt.plots.base import View
from vgrad_gui.qt.plots.dense_raster import DenseRaster
from vgrad_gui.qt.text import fitting_line

MAX_UNITS = 10  # units drawn per column at most; the rest are implied by a gap
UNIT_FLOOR, LINK_FLOOR = 0.12, 0.06  # opacity of a unit, and of a link, at brightness 0
SHORT = 160  # px: below this height the legend line gives its room to the units


class NetworkDiagramView(View):
    title = "Network: gradient reaching each layer"
    yields = False  # what a comparison is read from (View.yields)
    every, phase = 4, 1  # 15 Hz: brightness changes slowly, and looks smooth at 15

    def __init__(self, workspace: Workspace, clock: FrameClock, position: int = 0) -> None:
        super().__init__(workspace, clock, position)
        self._raster_key: tuple | None = None
        self._raster: DenseRaster | None = None
        self._geometry_key: tuple | None = None
        self._dense = False  # links drawn as bands (see _geometry)
        self._geometry_kept: tuple[list[float], list[list[float]], float] = ([], [], 0.0)
        self._palette_key: str | None = None
        self._palette_kept: tuple[list[QColor], list[QColor], list[QColor]] = ([], [], [])
        self._palette_arrays = (np.empty((0, 4), np.float32), np.empty((0, 3), np.float32))
        self.setMouseTracking(True)
        # Every paint covers every pixel (the background, or the dense image that holds it):
        # Qt need not paint the panel's background under it first.
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent, True)
        self.setMinimumSize(320, 200)
        self.layer_names: list[str] = []
        self.widths: list[int] = []  # units per column, input column first
        self.norms = np.empty(0)
        self.levels: list[float] = []  # brightness 0..1 per Linear layer (NaN: non-finite)
        self._index = np.empty(0, np.intp)  # _palette_index per layer, -1 for None
        self._labels: tuple[tuple, QImage | None] = ((), None)  # _static_labels, its key
        self.classes: tuple[str, ...] = ()  # readings classes per Linear layer
        self.reading: readings.GradReading | None = None
        self.first_nonfinite: int | None = None
        self.caption = ""
        self.short_caption = ""  # drawn where the caption would be cut
        self.residual = False
        self.norm_kind = "none"
        self.step = 0
        self.setToolTip("")

    def on_run(self, run: Run) -> None:
        cfg = run.history.config
        self.layer_names = run.history.layer_names
        # From the recorded layers, not the config: a run file's config may disagree.
        hidden = max(0, len(self.layer_names) - 1)
        self.widths = [run.input_dim] + [cfg.width] * hidden + [run.n_classes]
        self.residual = cfg.residual
        self.norm_kind = cfg.norm
        self.norms = np.full(len(self.layer_names), np.nan)
        self.levels = []
        self._index = np.empty(0, np.intp)
        self.classes = ()
        self.reading = None
        self.first_nonfinite = None
        self.caption = self.short_caption = ""
        self.step = 0
        self.update()

    def refresh(self) -> None:
        if self.run is None:
            return
        h = self.run.history
        reading = readings.grad_reading(h, self.shown_step())
        if reading is None or len(reading.norms) != len(self.layer_names):
            if self.levels:
                self.levels, self.classes, self.reading = [], (), None
                self._index = np.empty(0, np.intp)
                self.norms = np.full(len(self.layer_names), np.nan)
                self.update()
            return
        finite = np.array([c == readings.FINITE for c in reading.classes], bool)
        nonfinite = np.array([c == readings.NONFINITE for c in reading.classes], bool)
        levels = np.where(finite, theme.brightness(reading.ratios),
                          np.where(nonfinite, np.nan, 0.0))
        self.levels = levels.tolist()
        # A palette index per layer (see _palette_index), worked out once per reading: per
        # layer in Python at every paint it was a fifth of a 50-layer diagram's paint. Every
        # class but "finite" has a colour of its own (theme.class_colour).
        self._index = np.where(finite, np.round(levels * 255), -1).astype(np.intp)
        self.classes = reading.classes
        self.reading = reading
        self.norms = reading.norms
        self.step = reading.step
        self.first_nonfinite = readings.first_nonfinite_step(h, reading.step)
        self.caption = self._caption()
        self.short_caption = self._caption(short=True)
        self.update()

    def _caption(self, short: bool = False) -> str:
        """The diagnosis in numbers under the diagram: the first hidden layer's gradient
        against the output layer's, as ``readings`` words it; ``short``: the same in a few
        words, for a panel too narrow for it (a comparison at 1024 x 768)."""
        r = self.reading
        if r is None:
            return ""
        if self.first_nonfinite is not None:
            return f"NaN/Inf since step {self.first_nonfinite:,}" if short else \
                f"NaN/Inf gradients since step {self.first_nonfinite:,}"
        if short:
            what = ("underflow (0)" if r.classes[0] == readings.UNDERFLOW else
                    "no gradient (0)" if r.classes[0] == readings.ZERO else
                    f"{readable(readings.ratio_label(r, 0))} of output")
            return f"hidden 1: {what}"
        if r.classes[0] == readings.UNDERFLOW:
            what = "no gradient (below float32's smallest number: underflow)"
        elif r.classes[0] == readings.ZERO:
            what = "no gradient (exactly 0)"
        else:
            what = (f"{readable(readings.ratio_label(r, 0))} of the output layer's gradient "
                    f"(‖∇W‖ {readable(readings.norm_label(r, 0))})")
        return f"hidden 1 gets {what}  ·  step {r.step:,}"

    # -- drawing -----------------------------------------------------------------------------
    def _geometry(self) -> tuple[list[float], list[list[float]], float]:
        """x of each column, y of each drawn unit per column, unit radius (kept while the
        size and the layers hold)."""
        key = (self.width(), self.height(), tuple(self.widths))
        if self._geometry_key != key:
            self._geometry_kept = self._layout()
            self._geometry_key = key
            xs, ys, _ = self._geometry_kept
            # Many layers or many links: each layer's links are drawn as one band, which
            # reads the same from the back of a room and costs a fraction of thousands of
            # lines. A small diagram (four runs in a grid) shows bands too: a thousand
            # antialiased lines in 100 pixels read as a band anyway, at several times the
            # paint.
            links = sum(len(ys[i]) * len(ys[i + 1]) for i in range(len(ys) - 1))
            self._dense = (len(xs) > 1 and (xs[1] - xs[0]) < 14) or links > 1500 or \
                self.height() < 300
        return self._geometry_kept

    def _layout(self) -> tuple[list[float], list[list[float]], float]:
        w, h = self.width(), self.height()
        n_cols = len(self.widths)
        left, right, bottom = 40.0, 40.0, 48.0
        # A short panel (two runs side by side at 1280 x 720) leaves out the legend line, so
        # the units end above the column names instead of under them.
        top = 46.0 if self.shows_legend() else 28.0
        span = max(1.0, w - left - right)
        xs = [left + span * i / max(1, n_cols - 1) for i in range(n_cols)]
        usable = max(40.0, h - top - bottom)
        col_gap = span / max(1, n_cols - 1)
        radius = max(2.0, min(12.0, col_gap * 0.28, usable / (2.6 * MAX_UNITS)))
        # Narrow columns (many layers): spread the units over the height, so the picture
        # is a band that fades from output to input rather than a thin stripe.
        stretch = col_gap < 14
        ys: list[list[float]] = []
        for units in self.widths:
            k = min(units, MAX_UNITS)
            spacing = usable / max(1, k) if stretch else min(usable / max(1, k), radius * 3.2)
            mid = top + usable / 2
            ys.append([mid + (j - (k - 1) / 2) * spacing for j in range(k)])
        return xs, ys, radius

    def _dense_image(self, xs: list[float], ys: list[list[float]], r: float,
                     background: QColor) -> QImage:
        """The bands and squares in the current colours (see ``dense_raster``); its pixel
        map is kept while the size, the screen's pixel ratio and the layers hold."""
        ratio = self.devicePixelRatioF()
        key = (self.width(), self.height(), tuple(self.widths), ratio)
        if self._raster_key != key or self._raster is None:
            self._raster = DenseRaster(round(self.width() * ratio), round(self.height() * ratio),
                                       [x * ratio for x in xs],
                                       [[y * ratio for y in col] for col in ys], r * ratio)
            self._raster_key = key
        bands, units = self._dense_colours(background)
        outline = QColor(theme.TEXT_DIM)
        outline.setAlphaF(0.35)
        image = self._raster.image(np.array(_rgb(background), np.float32), bands, units,
                                   np.array(_rgba(outline), np.float32))
        image.setDevicePixelRatio(ratio)
        return image

    def _dense_colours(self, background: QColor) -> tuple[np.ndarray, np.ndarray]:
        """Each layer's band colour (RGB) and each column's unit colour (RGBA, the input
        column first), as ``_band_colour`` and ``layer_colour`` give them: from the palette's
        arrays where a layer's colour is its brightness, one by one where it is not."""
        n = len(self.widths) - 1
        units = np.empty((n + 1, 4), np.float32)
        units[0] = _rgba(QColor(theme.TEXT_DIM))
        if len(self.levels) != n:  # no reading yet: every layer alike
            units[1:] = _rgba(self.layer_colour(0))
            return np.tile(np.array(_rgb(self._band_colour(0, background)), np.float32),
                           (n, 1)), units
        self._palette()
        unit_table, band_table = self._palette_arrays
        k = np.maximum(self._index, 0)
        bands = band_table[k]
        units[1:] = unit_table[k]
        for i in np.flatnonzero(self._index < 0):  # no gradient, NaN: the class's own colour
            bands[i] = _rgb(self._band_colour(int(i), background))
            units[i + 1] = _rgba(self.layer_colour(int(i)))
        return bands, units

    def _palette_index(self, i: int) -> int | None:
        """Layer i's brightness as an index into ``_palette()`` (0..255); None where its
        colour is not its brightness (no reading yet, no gradient, NaN)."""
        if len(self._index) != len(self.widths) - 1 or self._index[i] < 0:
            return None
        return int(self._index[i])

    def layer_colour(self, i: int, alpha_floor: float = UNIT_FLOOR) -> QColor:
        """Layer i's colour as drawn: its class's colour (no gradient, NaN) or its
        brightness. Not to be changed: the usual ones are shared."""
        k = self._palette_index(i)
        if k is not None and alpha_floor in (UNIT_FLOOR, LINK_FLOOR):
            units, links, _ = self._palette()
            return (units if alpha_floor == UNIT_FLOOR else links)[k]
        levels = self.levels if len(self.levels) == len(self.widths) - 1 else None
        if levels is None:
            return self._colour(0.35, alpha_floor)
        special = theme.class_colour(self.classes[i]) if i < len(self.classes) else None
        if special is not None:
            c = QColor(special)
            if alpha_floor < 0.1 and special == theme.ZERO:
                c.setAlphaF(0.55)  # links: a quieter band than the units it joins
            return c
        return self._colour(levels[i], alpha_floor)

    def _band_colour(self, i: int, background: QColor) -> QColor:
        """Layer i's links as one dense band, blended with the background."""
        k = self._palette_index(i)
        if k is not None:
            return self._palette()[2][k]
        colour = self.layer_colour(i, LINK_FLOOR)
        return theme.over(colour, colour.alphaF() * 0.8, background)

    def _palette(self) -> tuple[list[QColor], list[QColor], list[QColor]]:
        """Per brightness level (0..255, as ``_colour`` quantises it): a unit's colour, a
        link's, and a dense band's (the link's blended with the background), kept per theme:
        made per layer at every paint they were half of a 200-layer diagram's paint."""
        if self._palette_key != theme.current():
            background = QColor(theme.BACKGROUND)
            units = [self._colour(k / 255, UNIT_FLOOR) for k in range(256)]
            links = [self._colour(k / 255, LINK_FLOOR) for k in range(256)]
            bands = [theme.over(c, c.alphaF() * 0.8, background) for c in links]
            self._palette_kept = (units, links, bands)
            self._palette_arrays = (np.array([_rgba(c) for c in units], np.float32),
                                    np.array([_rgb(c) for c in bands], np.float32))
            self._palette_key = theme.current()
        return self._palette_kept

    def _colour(self, level: float, alpha_floor: float = UNIT_FLOOR) -> QColor:
        if math.isnan(level):
            return QColor(theme.NONFINITE)
        c = QColor(theme.level_colours()[round(level * 255)])
        c.setAlphaF(alpha_floor + (1 - alpha_floor) * level)
        return c

    @guarded_paint_event
    def paintEvent(self, event: QPaintEvent) -> None:
        started = time.perf_counter()
        p = QPainter(self)
        if not self.widths:
            p.fillRect(self.rect(), QColor(theme.BACKGROUND))
            p.setPen(QColor(theme.TEXT_DIM))
            p.setFont(theme.font(1.1))
            p.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter,
                       "Configure a network to see it here")
            p.end()
            return
        p.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        background = QColor(theme.BACKGROUND)
        xs, ys, r = self._geometry()
        n_layers = len(self.widths) - 1
        dense = self._dense
        if dense:
            # One image, its background included, unantialiased: bands and squares by the
            # hundred drawn one by one cost tens of milliseconds a paint, and at these sizes
            # nobody sees the difference.
            p.setRenderHint(QPainter.RenderHint.Antialiasing, False)
            p.drawImage(QPointF(0, 0), self._dense_image(xs, ys, r, background))
        else:
            p.fillRect(self.rect(), background)
            # Links: layer i joins column i to column i+1 and is lit by layer i's gradient.
            # Opaque, blended with the background beforehand, and 1 pixel wide: translucent
            # or wider lines go through QPainter's slow paths (a thousand links of a 10 x 32
            # net painted in 115-130 ms; opaque 1-pixel ones in ~13).
            for i in range(n_layers):
                colour = self.layer_colour(i, LINK_FLOOR)
                a, b = ys[i], ys[i + 1]
                p.setPen(QPen(theme.over(colour, colour.alphaF(), background), 1))
                p.drawLines([QLineF(xs[i], ya, xs[i + 1], yb) for ya in a for yb in b])
        # Residual shortcuts: arcs over the blocks that have them.
        if self.residual:
            p.setBrush(Qt.BrushStyle.NoBrush)
            for i in range(2, n_layers):
                colour = self.layer_colour(i - 1, 0.25)
                p.setPen(QPen(colour, 2, Qt.PenStyle.DashLine))
                p.drawArc(self.arc_rect(i, xs, ys), 0, 180 * 16)
        # Units. A faint outline keeps a layer visible even when its gradient has vanished.
        if not dense:
            outline = QColor(theme.TEXT_DIM)
            outline.setAlphaF(0.35)
            p.setPen(QPen(outline, 1))
            for c, x in enumerate(xs):
                fill = QColor(theme.TEXT_DIM) if c == 0 else self.layer_colour(c - 1)
                p.setBrush(theme.over(fill, fill.alphaF(), background))  # opaque: see the links
                for y in ys[c]:
                    p.drawEllipse(QPointF(x, y), r, r)
        p.drawImage(QPointF(0, 0), self._static_labels(xs, ys, r))
        p.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        h = self.height()
        p.setFont(theme.font(0.95, bold=True))
        p.setPen(QColor(theme.TEXT))
        if self.caption:
            if self.first_nonfinite is not None:
                p.setPen(QColor(theme.NONFINITE))
            elif self.classes and self.classes[0] != readings.FINITE:
                p.setPen(QColor(theme.ZERO).lighter(150))
            text = fitting_line(p.fontMetrics(), self.width() - 12, self.caption,
                                self.short_caption)
            p.drawText(QRectF(0, h - 24, self.width(), 22), Qt.AlignmentFlag.AlignCenter, text)
        p.end()
        self.painted(time.perf_counter() - started)

    def shows_legend(self) -> bool:
        """Whether the legend line fits over the units (not in a short compare panel)."""
        return self.height() >= SHORT

    def count_rect(self, c: int, xs: list[float], ys: list[list[float]], r: float
                   ) -> tuple[QRectF, Qt.AlignmentFlag]:
        """Where column c's unit count ("32 units") is written: centred over the column; with
        residual shortcuts, whose arcs run over the columns from the first hidden one on,
        ending at the first hidden column, on the input side, where no arc runs."""
        top = ys[c][0] - r - 22
        if self.residual and c == 1:
            return QRectF(xs[c] - 80, top, 80, 18), \
                Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
        return QRectF(xs[c] - 40, top, 80, 18), Qt.AlignmentFlag.AlignCenter

    def arc_rect(self, i: int, xs: list[float], ys: list[list[float]]) -> QRectF:
        """The residual shortcut over block i (drawn as its upper half)."""
        top = min(ys[i - 1][0], ys[i][0]) - 10
        return QRectF(xs[i - 1], top - 16, xs[i] - xs[i - 1], 32)

    def _static_labels(self, xs: list[float], ys: list[list[float]], r: float) -> QImage:
        """The texts that change only with the size, the layers and the theme (column names,
        unit counts, the legend) on a transparent image, kept while those hold: drawn at
        every paint they were a quarter of a compare panel's diagram paint."""
        ratio = self.devicePixelRatioF()
        key = (self.width(), self.height(), tuple(self.widths), ratio, theme.current(),
               theme.point_size(1.0), self.residual)
        if self._labels[0] == key and self._labels[1] is not None:
            return self._labels[1]
        image = QImage(round(self.width() * ratio), round(self.height() * ratio),
                       QImage.Format.Format_ARGB32_Premultiplied)
        image.setDevicePixelRatio(ratio)
        image.fill(Qt.GlobalColor.transparent)
        p = QPainter(image)
        p.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        p.setRenderHint(QPainter.RenderHint.TextAntialiasing, True)
        # How many units each column stands for, when more than are drawn.
        p.setFont(theme.font(0.8))
        p.setPen(QColor(theme.TEXT_DIM))
        shown_counts = {1, len(xs) - 1} if len(xs) > 2 else set()
        for c in sorted(shown_counts):
            if self.widths[c] > MAX_UNITS:
                rect, align = self.count_rect(c, xs, ys, r)
                p.drawText(rect, align, f"{self.widths[c]} units")
        # Column names (the caption, under them, changes with each reading: paintEvent).
        p.setFont(theme.font(0.85))
        p.setPen(QColor(theme.TEXT_DIM))
        every = max(1, math.ceil(len(xs) * 46 / max(1, self.width())))
        h = self.height()
        for c, x in enumerate(xs):
            last = c == len(xs) - 1
            if (c % every and not last and c != 0) or (not last and len(xs) - 1 - c < every
                                                         and c != 0):
                continue
            label = "in" if c == 0 else "out" if last else str(c)
            p.drawText(QRectF(x - 24, h - 44, 48, 18), Qt.AlignmentFlag.AlignCenter, label)
        if self.shows_legend():
            p.setFont(theme.font(0.9))
            p.setPen(QColor(theme.TEXT_DIM))
            legend = (f"brightness = gradient relative to the output layer ({theme.FADED} at "
                      f"{theme.decade_label(-theme.RELATIVE_DECADES)})  ·  "
                      f"{theme.ZERO_LEGEND}  ·  {theme.NONFINITE_LEGEND}")
            p.drawText(QRectF(10, 6, self.width() - 20, 20), Qt.AlignmentFlag.AlignLeft,
                       p.fontMetrics().elidedText(legend, Qt.TextElideMode.ElideRight,
                                                  self.width() - 20))
        p.end()
        self._labels = (key, image)
        return image

    def mouseMoveEvent(self, event) -> None:
        if not self.widths or not len(self.norms):
            return
        xs, _, _ = self._geometry()
        x = event.position().x()
        c = int(np.argmin([abs(x - cx) for cx in xs]))
        if c == 0:
            text = f"input: {self.widths[0]} features"
        else:
            text = f"{self.layer_names[c - 1]}: {self.widths[c]} units\n" + \
                self.layer_words(c - 1)
        QToolTip.showText(event.globalPosition().toPoint(), text, self)


    def layer_words(self, i: int) -> str:
        """Layer i's current gradient in the tooltip's words (``readings``' numbers)."""
        r = self.reading
        if r is None or i >= len(r.classes):
            return "no steps yet"
        cls = r.classes[i]
        if cls == readings.UNDERFLOW:
            return ("‖∇W‖ = 0: underflow, the gradient is below float32's smallest number\n"
                    "no gradient reaches this layer")
        if cls == readings.ZERO:
            return "‖∇W‖ = 0 exactly: no gradient reaches this layer"
        text = f"‖∇W‖ = {readings.norm_label(r, i)}"
        if cls == readings.NONFINITE:
            return text + " (NaN/Inf)"
        return text + f"\nvs output layer: {readable(readings.ratio_label(r, i))}"


def _rgb(colour: QColor) -> tuple[int, int, int]:
    return colour.red(), colour.green(), colour.blue()


def _rgba(colour: QColor) -> tuple[int, int, int, float]:
    return colour.red(), colour.green(), colour.blue(), colour.alphaF()
