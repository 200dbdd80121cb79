"""No exception escapes a paint.

An exception raised while Qt paints (a pyqtgraph item whose options disagree, say n bars and
n - 1 brushes) leaves a QPainter open on a half-drawn QPicture; with PySide6 6.11 the process
then dies with a segmentation fault, whoever catches the exception. So every paint of ours and
every paint of the pyqtgraph items the views use goes through ``run_paint``: it catches the
exception, closes the painters the failed paint left open, prints the traceback once (a paint
that fails fails 60 times a second), and lets the widget draw a short note instead.
"""

from __future__ import annotations

import functools
import sys
import traceback
from collections.abc import Callable
from typing import Any

import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QPainter
from PySide6.QtWidgets import QGraphicsView, QWidget

from vgrad_gui.qt import theme

NOTE = "This view could not be drawn (details on the terminal); reset or change the run."
_reported: set[tuple[str, str, str]] = set()
failures = 0  # paints that raised, since the start (the tests read it)


def report_once(where: str, exc: BaseException) -> None:
    """Print ``exc``'s traceback to stderr the first time this error happens here."""
    global failures
    failures += 1
    key = (where, type(exc).__name__, str(exc)[:200])
    if key in _reported:
        return
    _reported.add(key)
    text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    print(f"vgrad-gui: {where} failed (reported once):\n{text}", file=sys.stderr,
          flush=True)


def _close_painters(exc: BaseException) -> None:
    """End every QPainter still active in the frames the exception went through: one left
    open on a QPicture or a widget crashes Qt later."""
    tb = exc.__traceback__
    while tb is not None:
        for value in list(tb.tb_frame.f_locals.values()):
            if isinstance(value, QPainter) and value.isActive():
                value.end()
        tb = tb.tb_next


def run_paint(where: str, paint: Callable[[], object]) -> BaseException | None:
    """Call ``paint``; on an exception report it once, tidy up and return it."""
    try:
        paint()
    except Exception as exc:  # nothing may escape a paint
        report_once(f"painting {where}", exc)
        _close_painters(exc)
        exc.__traceback__ = None  # frames hold painters and pictures: free them now
        return exc
    return None


def draw_note(widget: QWidget) -> None:
    """A short note in the corner of a widget whose paint failed."""
    target = widget.viewport() if isinstance(widget, QGraphicsView) else widget
    p = QPainter(target)
    try:
        if target.testAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent):
            # Qt painted nothing under a widget that paints every pixel itself: without
            # this, whatever the failed paint left (or garbage) would show around the note.
            p.fillRect(target.rect(), QColor(theme.BACKGROUND))
        p.setPen(QColor(theme.ERROR))
        p.setFont(theme.font(0.85))
        rect = QRectF(6, 4, max(10, target.width() - 12), 40)
        p.drawText(rect, int(Qt.AlignmentFlag.AlignLeft | Qt.TextFlag.TextWordWrap), NOTE)
    finally:
        p.end()


def guarded_paint_event(method: Callable[[Any, Any], None]) -> Callable[[Any, Any], None]:
    """Decorate a widget's paintEvent: on an exception, draw the note instead."""

    @functools.wraps(method)
    def paintEvent(self: QWidget, event: Any) -> None:
        failed = run_paint(type(self).__name__, lambda: method(self, event))
        scene_failed = False
        if isinstance(self, QGraphicsView) and self.scene() is not None:
            scene_failed = bool(getattr(self.scene(), "_vgrad_paint_failed", False))
            self.scene()._vgrad_paint_failed = False  # type: ignore[attr-defined]
        if failed is not None or scene_failed:
            run_paint(f"{type(self).__name__} note", lambda: draw_note(self))

    return paintEvent


def _guard_item_class(cls: type) -> None:
    original = cls.__dict__.get("paint")
    if original is None or getattr(original, "_vgrad_guarded", False):
        return

    @functools.wraps(original)
    def paint(self: Any, painter: QPainter, *args: Any) -> None:
        failed = run_paint(type(self).__name__, lambda: original(self, painter, *args))
        if failed is not None:
            # Cached drawings (a BarGraphItem's QPicture) are half made: make them again.
            if hasattr(self, "picture"):
                self.picture = None
            scene = self.scene()
            if scene is not None:
                scene._vgrad_paint_failed = True  # the view draws the note

    paint._vgrad_guarded = True  # type: ignore[attr-defined]
    cls.paint = paint  # type: ignore[attr-defined]


def guard_item_classes(*classes: type) -> None:
    """Guard the paints of these QGraphicsItem classes (our own subclasses of pyqtgraph's
    items, which define a paint of their own)."""
    for cls in classes:
        _guard_item_class(cls)


# The pyqtgraph items the views use, and those they make inside (a PlotDataItem's curve and
# scatter, a legend's samples, an infinite line's label). Guarded once, on import.
GUARDED_ITEMS = (pg.AxisItem, pg.BarGraphItem, pg.ErrorBarItem, pg.ImageItem, pg.InfiniteLine,
                 pg.ItemSample, pg.LegendItem, pg.PlotCurveItem, pg.PlotDataItem,
                 pg.ScatterPlotItem, pg.TextItem, pg.ViewBox)
for _cls in GUARDED_ITEMS:
    _guard_item_class(_cls)
