"""Colours, fonts and colour maps: one place for how the app looks.

Two themes, switchable at any time. Dark (the default): layers whose gradient vanishes fade
into a dark background. Light: high contrast for bright rooms and projectors that wash dark
backgrounds out (PhET's projector mode): a near-white background, near-black text and status
colours saturated enough to read on white. In both a vanishing layer fades *into the
background*: to black on dark, to white on light, so the heatmap's colour map runs from dark
(vanished) to bright on dark and from pale (vanished) to dark on light. Large type, so a room
can read it from the back; every piece of text follows ``set_font_scale``. Colour maps are
perceptually uniform and colour-blind safe (viridis for depth, inferno or magma for gradient
size); non-finite values get their own colour.

Views read the module's colour names (``theme.TEXT``, ``theme.BACKGROUND`` ...) when they
paint: ``set_theme`` rebinds them, restyles the application (palette, style sheet, pyqtgraph's
defaults, the shared heat LUT) and emits ``notifier.changed``, on which the plots registered by
``style_plot``, the painted text, the banner, the status fields and the builder restyle
themselves. ``set_font_scale`` does the same for text size.
"""

from __future__ import annotations

import math
import os
import string
import sys
import tempfile
import weakref
from importlib import resources
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QObject, QPointF, Qt, QTimer, Signal
from PySide6.QtGui import QBrush, QColor, QFont, QImage, QPainter, QPalette, QPen, QPolygonF
from PySide6.QtWidgets import QApplication, QGraphicsItem, QGraphicsScene, QWidget
from shiboken6 import isValid

THEMES = ("dark", "light")
ENV_THEME = "VGRAD_THEME"  # dark or light, read by apply() (e.g. for screenshots)

# Names a view may read at paint time; set_theme rebinds them. The qss-only names below them
# (borders, the Start button) are used by resources/style.qss.
PALETTES: dict[str, dict[str, str]] = {
    "dark": {
        "BACKGROUND": "#111318", "PANEL": "#1a1d24", "PANEL_LIGHT": "#252a33",
        "TEXT": "#e9ebef", "TEXT_DIM": "#9aa3b2", "ACCENT": "#4cc2ff", "OK": "#5ad17a",
        "WARN": "#ffb84d", "ERROR": "#ff5c5c",
        # NaN / Inf: cyan, which neither colour map contains.
        "NONFINITE": "#19e6ff",
        # No gradient at all (exactly 0, also float32 underflow): a cold grey-blue, unlike
        # cyan, so a dead or underflowed layer never reads as NaN.
        "ZERO": "#5b6b8c",
        "BORDER": "#3a414e",
        "RAISED": "#323946", "DISABLED": "#5d6470", "DISABLED_BG": "#1f232b",
        "START": "#1f7a46", "START_HOVER": "#269457", "START_TEXT": "#f4f6f8",
        "RUNNING": "#8a5a12", "LESSON_TEXT": "#c9ced8", "LESSON_BG": "#20242c",
    },
    # Contrast on the background (WCAG): TEXT 18:1, TEXT_DIM 10:1, ACCENT, OK, WARN and ERROR
    # 5-6:1, so a washed-out projector still shows them; NONFINITE stays recognisably cyan
    # (a fill, never body text).
    "light": {
        "BACKGROUND": "#fdfdfe", "PANEL": "#eceef2", "PANEL_LIGHT": "#dde1e8",
        "TEXT": "#0d1117", "TEXT_DIM": "#394150", "ACCENT": "#005fcc", "OK": "#13793b",
        "WARN": "#a65000", "ERROR": "#c41e1e",
        "NONFINITE": "#00a8cc",
        "ZERO": "#6b7fa6",
        "BORDER": "#7d8696",
        "RAISED": "#c5ccd6", "DISABLED": "#8c939e", "DISABLED_BG": "#e6e9ee",
        "START": "#16803f", "START_HOVER": "#0f6530", "START_TEXT": "#ffffff",
        "RUNNING": "#b35c00", "LESSON_TEXT": "#1b2230", "LESSON_BG": "#e4e9f0",
    },
}
# The names translate() maps between themes: a colour a view set once (a text item's colour,
# a curve's pen) is found by its value and given the other theme's value of the same name.
TRANSLATED = ("BACKGROUND", "PANEL", "PANEL_LIGHT", "TEXT", "TEXT_DIM", "ACCENT", "OK", "WARN",
              "ERROR", "NONFINITE", "ZERO", "BORDER")
# Runs A-D in compare mode (Okabe-Ito: told apart with every common colour-vision deficiency;
# none is the heatmap's cyan NaN or the banner's red/green). On white, the four Okabe-Ito hues
# darkest on white: sky blue and yellow vanish on a bright projector.
RUN_PALETTES = {"dark": ("#56B4E9", "#E69F00", "#CC79A7", "#F0E442"),
                "light": ("#0072B2", "#D55E00", "#CC79A7", "#009E73")}
# The heatmap's map, and how its ends read: on light the map is reversed, so that a vanished
# layer is pale (the page) and a strong one dark (ink).
HEAT_MAPS = {"dark": ("inferno", False), "light": ("magma", True)}
FADED_WORDS = {"dark": "dark", "light": "pale"}
DEPTH_SPANS = {"dark": (0.1, 1.0), "light": (0.0, 0.82)}  # of viridis, input to output

BACKGROUND = PANEL = PANEL_LIGHT = TEXT = TEXT_DIM = ACCENT = OK = WARN = ERROR = ""
NONFINITE = ZERO = BORDER = ""
RUN_COLOURS: tuple[str, ...] = ()
FADED = ""  # what a vanished layer looks like in words: "dark" or "pale"
ZERO_LEGEND = "grey-blue = no gradient (exactly 0)"
NONFINITE_LEGEND = "cyan = NaN/Inf"
NO_DATA = (0, 0, 0, 0)

BASE_POINT_SIZE = 11.0
HEAT_LEVELS = (-10.0, 2.0)  # fixed colour scale of the heatmap, in decades of the norm
RELATIVE_DECADES = 6.0  # the network diagram fades out at 10^-6 of the output layer
HEAT_TOP = 251  # the colour map's last index
HEAT_ZERO = 252
HEAT_NONFINITE = 253
HEAT_EMPTY = 254

_theme = "dark"
_font_scale = 1.0
_HEAT_LUT = np.zeros((256, 4), np.uint8)  # shared: set_theme refills it in place
_level_colours: list[QColor] = []


class Notifier(QObject):
    """``changed`` is emitted after a theme or text-size change, once everything the theme
    module restyles itself is done."""

    changed = Signal()


notifier = Notifier()


def _load(name: str) -> None:
    global _theme, RUN_COLOURS, FADED, _level_colours
    _theme = name
    globals().update(PALETTES[name])
    RUN_COLOURS = RUN_PALETTES[name]
    FADED = FADED_WORDS[name]
    _fill_heat_lut(_HEAT_LUT)
    _level_colours = []


def current() -> str:
    """The theme in use: "dark" or "light"."""
    return _theme


def colour(name: str) -> str:
    """The current theme's value of a palette name ("TEXT", "START", ...)."""
    return PALETTES[_theme][name]


_by_rgb: dict[int, str] = {}
for _palette in PALETTES.values():
    for _name in TRANSLATED:
        _rgb = QColor(_palette[_name]).rgb()
        if _by_rgb.setdefault(_rgb, _name) != _name:
            raise AssertionError(f"{_palette[_name]} is two names in the palettes")
        _by_rgb[_rgb] = _name


def translate(value: QColor | str) -> QColor | None:
    """The current theme's colour for ``value`` when ``value`` is one of the palettes' colours
    (any theme's, any alpha: the alpha is kept); None for any other colour."""
    c = QColor(value)
    name = _by_rgb.get(c.rgb()) if c.isValid() else None
    if name is None:
        return None
    out = QColor(PALETTES[_theme][name])
    out.setAlpha(c.alpha())
    return out


# -- text size ------------------------------------------------------------------------------
def font_scale() -> float:
    return _font_scale


def point_size(relative: float = 1.0) -> float:
    return BASE_POINT_SIZE * _font_scale * relative


def font(relative: float = 1.0, bold: bool = False) -> QFont:
    f = QFont()
    f.setPointSizeF(point_size(relative))
    f.setBold(bold)
    return f


_kept_fonts: weakref.WeakKeyDictionary[QWidget, tuple[float, bool]] = \
    weakref.WeakKeyDictionary()


def keep_font(widget: QWidget, relative: float = 1.0, bold: bool = False) -> None:
    """Give ``widget`` the theme's font at ``relative`` size, now and after every text-size
    change (a font set with setFont stays as it was on Ctrl++)."""
    _kept_fonts[widget] = (relative, bold)
    widget.setFont(font(relative, bold))


def set_font_scale(app: QApplication, scale: float) -> float:
    """Scale every font of the app (View > Larger/Smaller text): widgets, dock titles,
    toolbar, status bar, plot ticks, axis labels, legends and text items of every registered
    plot; then ``notifier.changed`` for the rest. Returns the scale used."""
    global _font_scale
    before = _font_scale
    # Rounded: Ctrl++ three times and Ctrl+- three times come back to exactly 1.0.
    _font_scale = round(max(0.7, min(2.5, scale)), 3)
    f = app.font()
    f.setPointSizeF(BASE_POINT_SIZE * _font_scale)
    # Reaches every widget whose font the code did not set (apply() turned on style sheet
    # propagation); those it did set follow through keep_font and the notifier.
    app.setFont(f)
    for widget, (relative, bold) in list(_kept_fonts.items()):
        if isValid(widget):
            widget.setFont(font(relative, bold))
    _restyle_plots(_font_scale / before)
    notifier.changed.emit()
    return _font_scale


# -- themes ---------------------------------------------------------------------------------
def set_theme(app: QApplication, name: str) -> None:
    """Switch to theme ``name`` ("dark" or "light") at any time: the application, every
    registered plot and every view painted from the module's colour names follow."""
    if name not in PALETTES:
        raise ValueError(f"unknown theme {name!r}; allowed: {', '.join(THEMES)}")
    _load(name)
    # Setting the app's style sheet repolishes and repaints every widget. Widgets that set
    # their own sheets or paint from the colour names follow ``notifier.changed``, which
    # reaches only live receivers. Walking QApplication.allWidgets() here is where CI
    # segfaulted: a garbage collection freed a Qt object while PySide wrapped the list
    # (qt/collector.py now keeps collections between events).
    _restyle_app(app)
    _restyle_plots(1.0)
    notifier.changed.emit()


def apply(app: QApplication, name: str | None = None) -> None:
    """Theme the application and pyqtgraph. Call once, before creating windows. The theme is
    ``name``, else $VGRAD_THEME, else dark."""
    app.setStyle("Fusion")
    # Without it, QApplication.setFont reaches only top-level windows once a style sheet is
    # set (dock titles, toolbar and status bar kept their size on Ctrl++, issue 11); setting
    # the sheet again after each change did reach them, but took ~2 s in the full window.
    QApplication.setAttribute(Qt.ApplicationAttribute.AA_UseStyleSheetPropagationInWidgetStyles,
                              True)
    f = QFont("DejaVu Sans")
    f.setPointSizeF(BASE_POINT_SIZE * _font_scale)
    app.setFont(f)
    if name is None:
        name = os.environ.get(ENV_THEME, "").strip().lower() or "dark"
        if name not in PALETTES:
            print(f"vgrad-gui: {ENV_THEME}={name!r} is not a theme; allowed: "
                  f"{', '.join(THEMES)} (using dark)", file=sys.stderr)
            name = "dark"
    set_theme(app, name)


def _restyle_app(app: QApplication) -> None:
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
        QPalette.ColorRole.BrightText: ERROR,
        QPalette.ColorRole.Highlight: ACCENT,
        QPalette.ColorRole.HighlightedText: BACKGROUND,
        QPalette.ColorRole.PlaceholderText: TEXT_DIM,
        QPalette.ColorRole.Link: ACCENT,
        QPalette.ColorRole.Light: colour("RAISED"),
        QPalette.ColorRole.Mid: BORDER,
        QPalette.ColorRole.Dark: BORDER,
    }
    for role, value in roles.items():
        pal.setColor(role, QColor(value))
    for role in (QPalette.ColorRole.Text, QPalette.ColorRole.ButtonText,
                 QPalette.ColorRole.WindowText):
        pal.setColor(QPalette.ColorGroup.Disabled, role, QColor(colour("DISABLED")))
    app.setPalette(pal)
    app.setStyleSheet(stylesheet())
    pg.setConfigOptions(background=BACKGROUND, foreground=TEXT, antialias=True,
                        imageAxisOrder="row-major")


def stylesheet() -> str:
    """resources/style.qss for the current theme: $NAME is a palette colour, $ARROW_UP
    (_DOWN, _UP_OFF, _DOWN_OFF) the path of an arrow image in the theme's text (or disabled)
    colour, $CHECK a check mark's."""
    template = resources.files("vgrad_gui.resources").joinpath("style.qss").read_text("utf-8")
    values: dict[str, str] = dict(PALETTES[_theme])
    values.update(_arrows())
    return string.Template(template).substitute(values)


_arrow_dir: tempfile.TemporaryDirectory[str] | None = None


def _arrows() -> dict[str, str]:
    """Arrow images for spin boxes and dropdowns in the theme's colours. A style sheet that
    gives their buttons room (Fusion squeezed them to slivers) must draw the arrows too, and
    it takes them only from files: made once per theme, in a folder removed at exit."""
    global _arrow_dir
    if _arrow_dir is None:
        _arrow_dir = tempfile.TemporaryDirectory(prefix="vgrad-gui-arrows-")
    folder = Path(_arrow_dir.name)
    paths = {}
    for key, up, name in (("ARROW_UP", True, "TEXT"), ("ARROW_DOWN", False, "TEXT"),
                          ("ARROW_UP_OFF", True, "DISABLED"),
                          ("ARROW_DOWN_OFF", False, "DISABLED")):
        value = colour(name)
        path = folder / f"{'up' if up else 'down'}-{value[1:]}.png"
        if not path.exists():
            _draw_arrow(up, QColor(value)).save(str(path))
        paths[key] = path.as_posix()
    check = folder / f"check-{colour('BACKGROUND')[1:]}.png"
    if not check.exists():
        _draw_check(QColor(colour("BACKGROUND"))).save(str(check))
    paths["CHECK"] = check.as_posix()
    return paths


def _draw_check(value: QColor) -> QImage:
    image = QImage(64, 64, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(Qt.GlobalColor.transparent)
    p = QPainter(image)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    p.setPen(QPen(value, 10, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap,
                  Qt.PenJoinStyle.RoundJoin))
    p.drawPolyline(QPolygonF([QPointF(12, 34), QPointF(26, 48), QPointF(52, 16)]))
    p.end()
    return image


def _draw_arrow(up: bool, value: QColor) -> QImage:
    size = 64  # drawn large, shown small: smooth at every text size
    image = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(Qt.GlobalColor.transparent)
    p = QPainter(image)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    p.setPen(Qt.PenStyle.NoPen)
    p.setBrush(value)
    top, bottom = (14.0, 50.0) if up else (50.0, 14.0)
    p.drawPolygon(QPolygonF([QPointF(4, bottom), QPointF(60, bottom), QPointF(32, top)]))
    p.end()
    return image


# -- plots ---------------------------------------------------------------------------------
_plots: weakref.WeakSet[pg.PlotItem] = weakref.WeakSet()


def register_plot(plot: pg.PlotItem) -> None:
    """Style ``plot``'s axes now, and restyle its whole scene (axes, grid, background,
    legends, text items, pens and brushes in palette colours, heat LUT images) after every
    theme or text-size change."""
    _plots.add(plot)
    for name in ("left", "bottom", "right", "top"):
        style_axis(plot.getAxis(name))
    # Once the view that made it has added its items: colours written into the code (the
    # dark theme's) take the current theme's values when the app starts in another theme.
    ref = weakref.ref(plot)
    QTimer.singleShot(0, lambda: _restyle_scene_of(ref()))


def _restyle_scene_of(plot: pg.PlotItem | None) -> None:
    if plot is not None and isValid(plot) and plot.scene() is not None:
        _restyle_scene(plot.scene(), 1.0)


def style_axis(axis: pg.AxisItem) -> None:
    """Ticks in the theme's font (one step below body text) and colours."""
    axis.setStyle(tickFont=font(0.9), tickTextOffset=6)
    axis.setTextPen(TEXT)
    axis.setPen(pg.mkPen(TEXT_DIM))
    # No "loss (x0.001)": it confuses more than it helps. pyqtgraph 0.14's
    # enableAutoSIPrefix(False) still scales a labelled axis (0.7 drawn as 700, the prefix
    # hidden): called only while on, and any scale it left undone.
    if axis.autoSIPrefix:
        axis.enableAutoSIPrefix(False)
    if axis.autoSIPrefixScale != 1.0:
        axis.autoSIPrefixScale = 1.0
        axis.labelUnitPrefix = ""
        axis.picture = None
    # Axes (ticks, labels, grid) change only when a range does; replaying their drawing on
    # every paint was most of the cost of the smaller views.
    axis.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
    if "font-size" in axis.labelStyle:  # a label set by base.set_axis_label
        axis.labelStyle = axis_label_style()
        axis._updateLabel()


def axis_label_style() -> dict[str, str]:
    return {"font-size": f"{point_size(0.95):.0f}pt", "color": TEXT}


LEGEND_RELATIVE = 0.85  # legends' text, relative to body text (the views' choice)


def _restyle_plots(font_factor: float) -> None:
    scenes = {plot.scene() for plot in list(_plots) if isValid(plot)}
    for scene in scenes:
        if scene is not None and isValid(scene):
            _restyle_scene(scene, font_factor)


def _restyle_scene(scene: QGraphicsScene, font_factor: float) -> None:
    for item in scene.items():
        _restyle_item(item, font_factor)
    for view in scene.views():
        if isinstance(view, pg.GraphicsView):
            bg = _swapped(view.backgroundBrush().color())
            if bg is not None:
                view.setBackground(bg)


def _swapped(value: object) -> object | None:
    """``value`` (a pen, brush, colour or anything mkColor takes) in the current theme, or
    None when it is not in a palette colour (a data colour: left alone)."""
    if value is None or isinstance(value, (list, np.ndarray, dict)):
        return None
    if isinstance(value, QPen):
        c = _changed(value.color())
        if c is None:
            return None
        pen = QPen(value)
        pen.setColor(c)
        return pen
    if isinstance(value, QBrush):
        c = _changed(value.color()) if value.style() != Qt.BrushStyle.NoBrush else None
        if c is None:
            return None
        brush = QBrush(value)
        brush.setColor(c)
        return brush
    try:
        return _changed(pg.mkColor(value))
    except Exception:  # anything mkColor refuses is not a palette colour
        return None


def _changed(value: QColor) -> QColor | None:
    c = translate(value)
    return c if c is not None and c.rgba() != value.rgba() else None


def _swap_each(values: object) -> list | None:
    if not isinstance(values, (list, np.ndarray)):
        return None
    out = [_swapped(v) for v in values]
    if all(v is None for v in out):
        return None
    return [new if new is not None else old for new, old in zip(out, values, strict=True)]


def _restyle_item(item: QGraphicsItem, font_factor: float) -> None:
    opts = getattr(item, "opts", None)
    restyle_pens = getattr(item, "restyle_pens", None)  # an item of the app's own (LineSet)
    if callable(restyle_pens):
        restyle_pens(_swapped)
    elif isinstance(item, pg.AxisItem):
        style_axis(item)
    elif isinstance(item, pg.PlotDataItem):
        for key, setter in (("pen", item.setPen), ("shadowPen", item.setShadowPen),
                            ("symbolPen", item.setSymbolPen),
                            ("symbolBrush", item.setSymbolBrush),
                            ("fillBrush", item.setFillBrush)):
            new = _swapped(item.opts.get(key))
            if new is not None:
                setter(new)
    elif isinstance(item, pg.PlotCurveItem):
        for key, setter in (("pen", item.setPen), ("shadowPen", item.setShadowPen),
                            ("brush", item.setBrush)):
            new = _swapped(item.opts.get(key))
            if new is not None:
                setter(new)
    elif isinstance(item, pg.ScatterPlotItem):
        for key, setter in (("pen", item.setPen), ("brush", item.setBrush)):
            new = _swapped(item.opts.get(key))
            if new is not None:
                setter(new)
            each = _swap_each(list(item.data[key])) if len(item.data) else None
            if each is not None and all(v is not None for v in each):
                setter(each)
    elif isinstance(item, pg.BarGraphItem) and isinstance(opts, dict):
        changes = {}
        for key in ("pen", "brush"):
            new = _swapped(opts.get(key))
            if new is not None:
                changes[key] = new
        for key in ("pens", "brushes"):
            each = _swap_each(opts.get(key))
            if each is not None:
                changes[key] = each
        if changes:
            item.setOpts(**changes)
    elif isinstance(item, pg.TextItem):
        new = _swapped(item.color)
        if new is not None:
            item.setColor(new)
        fill, border = _swapped(item.fill), _swapped(item.border)
        if fill is not None:
            item.fill = fill
        if border is not None:
            item.border = border
        if font_factor != 1.0:
            f = item.textItem.font()
            f.setPointSizeF(round(f.pointSizeF() * font_factor, 2))
            item.setFont(f)
        item.update()
    elif isinstance(item, pg.InfiniteLine):
        for value, setter in ((item.pen, item.setPen), (item.hoverPen, item.setHoverPen)):
            new = _swapped(value)
            if new is not None:
                setter(new)
    elif isinstance(item, pg.ErrorBarItem) and isinstance(opts, dict):
        new = _swapped(opts.get("pen"))
        if new is not None:
            item.setData(pen=new)
    elif isinstance(item, pg.LegendItem):
        for key, setter in (("pen", item.setPen), ("brush", item.setBrush),
                            ("labelTextColor", item.setLabelTextColor)):
            new = _swapped(item.opts.get(key))
            if new is not None:
                setter(new)
        if item.opts.get("labelTextSize"):
            item.opts["labelTextSize"] = f"{point_size(LEGEND_RELATIVE):.0f}pt"
        for _sample, label in item.items:
            if item.opts.get("labelTextSize"):
                label.opts["size"] = item.opts["labelTextSize"]
            colour_ = _swapped(label.opts.get("color"))
            if colour_ is not None:
                label.opts["color"] = colour_
            label.setText(label.text)  # drawn again in the new size and colours
        item.updateSize()
    elif isinstance(item, pg.ImageItem) and item.lut is _HEAT_LUT and item.image is not None:
        item.lut = None  # the same array, refilled: make the item draw it again
        item.setLookupTable(_HEAT_LUT)


# -- colour maps ----------------------------------------------------------------------------
def colormap(name: str) -> pg.ColorMap:
    return pg.colormap.get(name)


def depth_colours(n: int) -> list[QColor]:
    """One colour per layer, input side first: viridis from purple (input) to yellow (output;
    green on light)."""
    cmap = colormap("viridis")
    # Dark: not viridis' near-black start. Light: not its pale yellow end, gone on white.
    lo, hi = DEPTH_SPANS[_theme]
    if n <= 1:
        return [cmap.mapToQColor(hi)]
    # One mapping of all positions: one mapToQColor per layer cost ~0.3 ms each, 60 ms for
    # 200 layers, in the frame that rebuilds a view.
    rgba = cmap.map(lo + (hi - lo) * np.arange(n) / (n - 1), mode=pg.ColorMap.BYTE)
    return [QColor(int(r), int(g), int(b), int(a)) for r, g, b, a in rgba]


def _fill_heat_lut(lut: np.ndarray) -> None:
    name, reverse = HEAT_MAPS[_theme]
    start, stop = (1.0, 0.0) if reverse else (0.0, 1.0)
    lut[:HEAT_TOP + 1] = colormap(name).getLookupTable(start, stop, HEAT_TOP + 1, alpha=True)
    for index, value in ((HEAT_ZERO, ZERO), (HEAT_NONFINITE, NONFINITE)):
        c = QColor(value)
        lut[index] = (c.red(), c.green(), c.blue(), 255)
    lut[HEAT_EMPTY:] = NO_DATA


def heat_lut() -> np.ndarray:
    """256-entry RGBA table: 0..251 the theme's heat map (small to large), 252 exactly zero,
    253 the non-finite colour, 254-255 no data. One array shared by every caller and refilled
    in place by set_theme, so a view that keeps it follows the theme (do not modify it)."""
    return _HEAT_LUT


def level_colours() -> list[QColor]:
    """256 colours for a layer's brightness level 0..1 (the network diagram): from the
    vanished end (what fades into the background) to the strong end, for the current theme."""
    global _level_colours
    if not _level_colours:
        name, reverse = HEAT_MAPS[_theme]
        cmap = colormap(name)
        span = [0.08 + 0.92 * i / 255 for i in range(256)]
        if reverse:
            span = [1.0 - x for x in span]  # pale (vanished) to dark; never quite white
        _level_colours = [cmap.mapToQColor(x) for x in span]
    return _level_colours


def over(colour: QColor, alpha: float, background: QColor | None = None) -> QColor:
    """``colour`` at opacity ``alpha`` over ``background`` (the theme's by default), as one
    opaque colour: QPainter draws opaque lines and fills on its fast paths."""
    under = QColor(BACKGROUND) if background is None else background
    return QColor(round(under.red() + (colour.red() - under.red()) * alpha),
                  round(under.green() + (colour.green() - under.green()) * alpha),
                  round(under.blue() + (colour.blue() - under.blue()) * alpha))


def argb32(rgba: np.ndarray) -> np.ndarray:
    """uint8 RGB (..., 3) or RGBA (..., 4) as premultiplied ARGB32 words, the pixels of a
    QImage.Format_ARGB32_Premultiplied (or Format_RGB32, when every alpha is 255)."""
    c = rgba.astype(np.uint32)
    a = c[..., 3] if c.shape[-1] == 4 else np.full(c.shape[:-1], 255, np.uint32)
    r, g, b = ((c[..., k] * a + 127) // 255 for k in range(3))
    return (a << 24) | (r << 16) | (g << 8) | b


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


def brightness(ratios: np.ndarray) -> np.ndarray:
    """0..1 per gradient ratio to the output layer: 1 at >= 1, 0 at 10^-RELATIVE_DECADES and
    for 0, NaN or Inf."""
    r = np.asarray(ratios, np.float64)
    out = np.zeros(r.shape)
    ok = np.isfinite(r) & (r > 0)
    out[ok] = np.clip(1.0 + np.log10(r[ok]) / RELATIVE_DECADES, 0.0, 1.0)
    return out


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


_load("dark")  # the names have their dark values until apply() picks the theme
