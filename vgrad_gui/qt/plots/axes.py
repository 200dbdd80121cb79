"""The three kinds of axis every view and exported figure uses: layers, decades, steps.

One place for them, so a live view and the figure exported from it label the same axis the
same way.
"""

from __future__ import annotations

import math

import pyqtgraph as pg
from PySide6.QtGui import QFontMetricsF

from vgrad_gui.qt import theme

LABEL_GAP_CHARS = 1.5  # room between two step labels, in widths of a digit
LABEL_PITCH = 64  # pixels from one step label to the next, at least: more is clutter
MIN_LABEL_PIXELS = 8  # no label is narrower: the smallest spacing worth trying
# pyqtgraph asks for ticks over a length 2 pixels longer than the axis' bounds, outside which
# it drops a label: a label that fitted the length it gave was dropped, and none was shown.
EDGE_PIXELS = 3


class LayerAxis(pg.AxisItem):
    """Layer numbers at the middle of each layer's slot (x or y = i + 0.5), input first;
    'out' for the output layer (when ``with_output``)."""

    def __init__(self, orientation: str = "left", count: int = 1,
                 with_output: bool = True) -> None:
        super().__init__(orientation)
        self.count = max(1, count)
        self.with_output = with_output

    def configure(self, count: int, with_output: bool = True) -> None:
        """``count`` slots; the last is the output layer when ``with_output``."""
        if (max(1, count), with_output) == (self.count, self.with_output):
            return  # a Reset: redrawing the same labels was part of its stall
        self.count = max(1, count)
        self.with_output = with_output
        self.picture = None
        self.update()

    def tickValues(self, minVal, maxVal, size):
        n = self.count
        step = 1
        for s in (1, 2, 5, 10, 20, 25, 50, 100):
            step = s
            if size / n * s >= 22:
                break
        last = n - 1
        ticks = [i + 0.5 for i in range(n) if i == 0 or (i + 1) % step == 0 or i == last]
        if len(ticks) >= 2 and ticks[-1] - ticks[-2] < step * 0.6 and ticks[-2] != 0.5:
            del ticks[-2]  # keep the last label from crowding its neighbour
        return [(float(step), ticks)]

    def tickStrings(self, values, scale, spacing):
        last = self.count - 1
        return ["out" if self.with_output and int(v) == last else str(int(v) + 1)
                for v in values]


class DecadeAxis(pg.AxisItem):
    """An axis over log10 values that labels whole decades: 10⁻⁸ … 1 … 10²."""

    def tickValues(self, minVal, maxVal, size):
        lo, hi = math.floor(min(minVal, maxVal)), math.floor(max(minVal, maxVal)) + 1
        per_decade = size / max(1, hi - lo)
        step = 1
        for s in (1, 2, 3, 4, 5, 10, 20, 50):
            step = s
            if per_decade * s >= 28:
                break
        return [(float(step), [float(v) for v in range(lo, hi + 1) if v % step == 0])]

    def tickStrings(self, values, scale, spacing):
        return [theme.decade_label(v) for v in values]


def nice_spacings(smallest: float):
    """1, 2, 5 × 10ᵏ from the first one at or above ``smallest`` (and at least 1) upward."""
    power = 10.0 ** math.floor(math.log10(max(smallest, 1.0)))
    while True:
        for mantissa in (1, 2, 5):
            spacing = mantissa * power
            if spacing >= smallest:
                yield spacing
        power *= 10.0


def step_label(value: float) -> str:
    """A step count as a projector's back row reads it: 800, 5000, 25k, 1.5M."""
    size = abs(value)
    if size >= 1e6:
        return f"{value / 1e6:g}M"
    if size >= 1e4:
        return f"{value / 1e3:g}k"
    return f"{value:.0f}"


class StepAxis(pg.AxisItem):
    """A horizontal axis over training steps whose labels never run into each other.

    pyqtgraph picks a tick spacing from the axis' length alone, labels every major tick and
    then drops the labels that stick out of the axis, so a narrow plot (a compare panel's
    heatmap at 1024 × 768) printed "5001000 1500". This one labels the ticks of the smallest
    1-2-5 spacing (``LABEL_PITCH`` pixels or more) whose labels, in the axis' own font and
    inside the axis, keep a gap between them; the other ticks are drawn unlabelled.
    """

    def __init__(self, orientation: str = "bottom") -> None:
        super().__init__(orientation)
        self.setStyle(maxTextLevel=0)

    def tickValues(self, minVal, maxVal, size):
        lo, hi = sorted((float(minVal), float(maxVal)))
        span = hi - lo
        if not (math.isfinite(span) and span > 0 and size > 0):
            return []
        metrics = QFontMetricsF(self.style.get("tickFont") or self.font())
        gap = LABEL_GAP_CHARS * metrics.horizontalAdvance("0")
        per_step = size / span

        def fits(value: float) -> tuple[float, float] | None:
            """Where the label of ``value`` would start and end, if inside the axis."""
            half = metrics.horizontalAdvance(step_label(value)) / 2
            x = (value - lo) * per_step
            if x - half < EDGE_PIXELS or x + half > size - EDGE_PIXELS:
                return None  # pyqtgraph drops a label outside the axis
            return x - half, x + half

        # The pitch is asked of the labels kept: a narrow axis may label one step in its
        # middle (500 of 0-1,250 in 75 pixels) where 500 and 1,000 would be too close.
        for spacing in nice_spacings(span * MIN_LABEL_PIXELS / size):
            if spacing > span:
                break
            values = _multiples(lo, hi, spacing)
            labelled: list[float] = []
            right = -math.inf
            for value in values:
                where = fits(value)
                if where is None:
                    continue
                if where[0] < right + gap or (labelled and (value - labelled[-1]) * per_step
                                              < LABEL_PITCH):
                    break
                labelled.append(value)
                right = where[1]
            else:
                if labelled:
                    return _levels(lo, hi, spacing, labelled)
        # No spacing's ticks fit (a 40-pixel axis over 0-1,562): one step near the middle,
        # the roundest that fits.
        rounder: list[float] = []
        for spacing in nice_spacings(span / size):
            if spacing > span:
                break
            rounder.insert(0, spacing)
        for spacing in rounder:
            value = round((lo + hi) / 2 / spacing) * spacing
            if fits(value) is not None:
                return _levels(lo, hi, spacing, [value])
        return []

    def tickStrings(self, values, scale, spacing):
        return [step_label(v) for v in values]


def _levels(lo: float, hi: float, spacing: float, labelled: list[float]) -> list:
    """pyqtgraph's tick levels: the labelled ticks, and every tick of the spacing (and of a
    finer one for spacings of 10 or more) unlabelled (``maxTextLevel=0``)."""
    if spacing < 10:
        return [(spacing, labelled), (spacing, _multiples(lo, hi, spacing))]
    minor = spacing / (2 if _mantissa(spacing) == 2 else 5)
    return [(spacing, labelled), (minor, _multiples(lo, hi, minor))]


def _multiples(lo: float, hi: float, spacing: float) -> list[float]:
    first = math.ceil(lo / spacing)
    return [k * spacing for k in range(first, math.floor(hi / spacing) + 1)]


def _mantissa(spacing: float) -> int:
    return round(spacing / 10.0 ** math.floor(math.log10(spacing)))
