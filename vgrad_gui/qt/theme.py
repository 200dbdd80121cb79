"""Colours, fonts and colour maps: one place for how the app looks.

Dark, so that layers whose gradient vanishes fade into the background; large type, so a room
can read it from the back. Colour maps are perceptually uniform and colour-blind safe
(viridis for depth, inferno for gradient size); non-finite values get their own colour.
"""

from __future__ import annotations

import math
from importlib import resources

import numpy as np
import pyqtgraph as pg
from PySide6.QtGui import QColor, QFont, QPalette
from PySide6.QtWidgets import QApplication

BACKGROUND = "#111318"
PANEL = "#1a1d24"
PANEL_LIGHT = "#252a33"
TEXT = "#e9ebef"
TEXT_DIM = "#9aa3b2"
ACCENT = "#4cc2ff"
OK = "#5ad17a"
WARN = "#ffb84d"
ERROR = "#ff5c5c"
NONFINITE = "#19e6ff"  # NaN / Inf: cyan, which neither colour map contains
# No gradient at all (exactly 0, also float32 underflow): a cold grey-blue, darker than any
# live layer's colour and unlike cyan, so a dead or underflowed layer never reads as NaN.
ZERO = "#5b6b8c"
# Runs A-D in compare mode (Okabe-Ito: told apart with every common colour-vision deficiency;
# none is the heatmap's cyan NaN or the banner's red/green).
RUN_COLOURS = ("#56B4E9", "#E69F00", "#CC79A7", "#F0E442")
ZERO_LEGEND = "grey-blue = no gradient (exactly 0)"
NONFINITE_LEGEND = "cyan = NaN/Inf"
NO_DATA = (0, 0, 0, 0)

BASE_POINT_SIZE = 11.0
HEAT_LEVELS = (-10.0, 2.0)  # fixed colour scale of the heatmap, in decades of the norm
RELATIVE_DECADES = 6.0  # the network diagram fades to dark at 10^-6 of the output layer

_font_scale = 1.0


def font_scale() -> float:
    return _font_scale


def set_font_scale(app: QApplication, scale: float) -> float:
    """Scale every font of the app (View > Larger/Smaller text); returns the scale used."""
    global _font_scale
    _font_scale = max(0.7, min(2.5, scale))
    font = app.font()
    font.setPointSizeF(BASE_POINT_SIZE * _font_scale)
    app.setFont(font)
    return _font_scale


def point_size(relative: float = 1.0) -> float:
    return BASE_POINT_SIZE * _font_scale * relative


def font(relative: float = 1.0, bold: bool = False) -> QFont:
    f = QFont()
    f.setPointSizeF(point_size(relative))
    f.setBold(bold)
    return f


def apply(app: QApplication) -> None:
    """Theme the application and pyqtgraph. Call once, before creating windows."""
    app.setStyle("Fusion")
    pal = QPalette()
    roles = {
        QPalette.ColorRole.Window: PANEL,
        QPalette.ColorRole.WindowText: TEXT,
        QPalette.ColorRole.Base: BACKGROUND,
        QPalette.ColorRole.AlternateBase: PANEL_LIGHT,
        QPalette.ColorRole.ToolTipBase: PANEL_LIGHT,
        QPalette.ColorRole.ToolTipText: TEXT,
        QPalette.ColorRole.Text: TEXT,
        QPalette.ColorRole.Button: PANEL_LIGHT,
        QPalette.ColorRole.ButtonText: TEXT,
        QPalette.ColorRole.Highlight: ACCENT,
        QPalette.ColorRole.HighlightedText: BACKGROUND,
        QPalette.ColorRole.PlaceholderText: TEXT_DIM,
        QPalette.ColorRole.Link: ACCENT,
    }
    for role, colour in roles.items():
        pal.setColor(role, QColor(colour))
    for role in (QPalette.ColorRole.Text, QPalette.ColorRole.ButtonText,
                 QPalette.ColorRole.WindowText):
        pal.setColor(QPalette.ColorGroup.Disabled, role, QColor("#5d6470"))
    app.setPalette(pal)
    f = QFont("DejaVu Sans")
    f.setPointSizeF(BASE_POINT_SIZE * _font_scale)
    app.setFont(f)
    qss = resources.files("vgrad_gui.resources").joinpath("style.qss").read_text("utf-8")
    app.setStyleSheet(qss)
    pg.setConfigOptions(background=BACKGROUND, foreground=TEXT, antialias=True,
                        imageAxisOrder="row-major")


# -- colour maps ----------------------------------------------------------------------------
def colormap(name: str) -> pg.ColorMap:
    return pg.colormap.get(name)


def depth_colours(n: int) -> list[QColor]:
    """One colour per layer, input side first: viridis from purple (input) to yellow
    (output)."""
    cmap = colormap("viridis")
    if n <= 1:
        return [cmap.mapToQColor(1.0)]
    # One mapping of all positions: one mapToQColor per layer cost ~0.3 ms each, 60 ms for
    # 200 layers, in the frame that rebuilds a view.
    rgba = cmap.map(0.1 + 0.9 * np.arange(n) / (n - 1), mode=pg.ColorMap.BYTE)
    return [QColor(int(r), int(g), int(b), int(a)) for r, g, b, a in rgba]


def heat_lut() -> np.ndarray:
    """256-entry RGBA table: 0..251 inferno, 252 exactly zero, 253 the non-finite colour,
    254-255 no data."""
    lut = np.zeros((256, 4), np.uint8)
    lut[:HEAT_TOP + 1] = colormap("inferno").getLookupTable(0.0, 1.0, HEAT_TOP + 1, alpha=True)
    for index, colour in ((HEAT_ZERO, ZERO), (HEAT_NONFINITE, NONFINITE)):
        c = QColor(colour)
        lut[index] = (c.red(), c.green(), c.blue(), 255)
    lut[HEAT_EMPTY:] = NO_DATA
    return lut


HEAT_TOP = 251  # the colour map's last index
HEAT_ZERO = 252
HEAT_NONFINITE = 253
HEAT_EMPTY = 254


def heat_indices(log_values: np.ndarray, levels: tuple[float, float] = HEAT_LEVELS
                 ) -> np.ndarray:
    """Map log10 values to heat_lut indices; exactly zero (log10 = -inf) to the zero colour,
    NaN/+Inf to the non-finite colour."""
    lo, hi = levels
    with np.errstate(invalid="ignore"):
        scaled = (log_values - lo) * (HEAT_TOP / (hi - lo))
    idx = np.clip(np.nan_to_num(scaled, nan=0.0, posinf=HEAT_TOP, neginf=0.0), 0, HEAT_TOP)
    idx = idx.astype(np.uint8)
    # log10(0) is -inf: no gradient at all has its own colour, never the darkest decade (a
    # tiny gradient) and never NaN's.
    idx[np.isneginf(log_values)] = HEAT_ZERO
    idx[np.isnan(log_values) | np.isposinf(log_values)] = HEAT_NONFINITE
    return idx


def class_colour(cls: str) -> str | None:
    """The colour of a readings class that is not a number on a scale: zero and underflow
    share ZERO, non-finite is NONFINITE; None for a finite value."""
    return {"zero": ZERO, "underflow": ZERO, "nonfinite": NONFINITE}.get(cls)


def brightness(ratio: float) -> float:
    """0..1 from a gradient ratio to the output layer: 1 at >= 1, 0 at 10^-RELATIVE_DECADES."""
    if not math.isfinite(ratio) or ratio <= 0:
        return 0.0
    return max(0.0, min(1.0, 1.0 + math.log10(ratio) / RELATIVE_DECADES))


_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def decade_label(exponent: float) -> str:
    """'10⁻⁸' for -8; '1' for 0."""
    e = round(exponent)
    if e == 0:
        return "1"
    if e == 1:
        return "10"
    return "10" + str(e).translate(_SUPERSCRIPT)


def format_value(x: float) -> str:
    if not math.isfinite(x):
        return "NaN" if math.isnan(x) else ("+Inf" if x > 0 else "-Inf")
    if x == 0:
        return "0"
    if 1e-3 <= abs(x) < 1e4:
        return f"{x:.3g}"
    mant, exp = f"{x:.2e}".split("e")
    return f"{mant}×{decade_label(int(exp))}"
