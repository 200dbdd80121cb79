"""Text that changes many times a second without re-laying-out the window.

Setting a QLabel's text asks every layout above it to recompute; in a main window full of
docks that costs ~20 ms, and a diagnosis or status line that changes a few times a second
would stall the frame loop. A PaintedText draws its text itself and only ever repaints.
Every PaintedText follows the theme: its size after Ctrl++/Ctrl+-, its colour after a theme
change.
"""

from __future__ import annotations

import weakref

from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import (
    QColor,
    QFont,
    QFontMetrics,
    QPainter,
    QPaintEvent,
    QTextLayout,
    QTextOption,
)
from PySide6.QtWidgets import QSizePolicy, QWidget
from shiboken6 import isValid

from vgrad_gui.qt import theme
from vgrad_gui.qt.guard import guarded_paint_event

_texts: weakref.WeakSet[PaintedText] = weakref.WeakSet()


def _restyle() -> None:
    for text in list(_texts):
        if isValid(text):
            text.restyle()


theme.notifier.changed.connect(_restyle)


class PaintedText(QWidget):
    """``lines`` lines of text (wrapped, the last line elided), in a fixed height, in
    ``colour`` (the theme's text colour when None)."""

    def __init__(self, text: str = "", lines: int = 1, relative_size: float = 1.0,
                 bold: bool = False, colour: str | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._text = text
        self._shorter: tuple[str, ...] = ()  # shown, the first that fits, where the text would not
        self._lines = lines
        self._relative = relative_size
        self._bold = bold
        self._colour: QColor | None = None if colour is None else QColor(colour)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.update_font()
        _texts.add(self)

    def update_font(self) -> None:
        self.setFont(theme.font(self._relative, self._bold))
        self.setFixedHeight(self.fontMetrics().lineSpacing() * self._lines + 2)

    def restyle(self) -> None:
        """The theme's current text size, and a palette colour in the current theme."""
        self.update_font()
        if self._colour is not None:
            swapped = theme.translate(self._colour)
            if swapped is not None:
                self._colour = swapped
        self.update()

    def text(self) -> str:
        return self._text

    def setText(self, text: str, *shorter: str) -> None:
        """``text``; where it would be cut (elided), the first of ``shorter`` that is not (the
        last, elided, when none fits)."""
        shorter = tuple(s for s in shorter if s)
        if text != self._text or shorter != self._shorter:
            self._text = text
            self._shorter = shorter
            self.update()

    def shown_lines(self) -> list[str]:
        """The lines this widget paints at its current width."""
        lines: list[str] = []
        for text in (self._text, *self._shorter):
            lines = self._lines_of(text)
            if not lines or not lines[-1].endswith("…") or text.endswith("…"):
                return lines
        return lines

    def _lines_of(self, text: str) -> list[str]:
        if self._lines == 1:
            return [fitting_line(self.fontMetrics(), self.width(), text)]
        return wrap_lines(text, self.font(), self.width(), self._lines)

    def set_lines(self, lines: int) -> None:
        if lines != self._lines:
            self._lines = lines
            self.update_font()

    def set_colour(self, colour: str | None) -> None:
        """A colour (one of the theme's follows theme changes); None: the theme's text."""
        self._colour = None if colour is None else QColor(colour)
        self.update()

    def colour(self) -> QColor:
        return QColor(theme.TEXT) if self._colour is None else QColor(self._colour)

    def sizeHint(self) -> QSize:
        return QSize(self.fontMetrics().horizontalAdvance(self._text[:40]) + 8,
                     self.height())

    @guarded_paint_event
    def paintEvent(self, event: QPaintEvent) -> None:
        p = QPainter(self)
        p.setPen(self.colour())
        p.setFont(self.font())
        lines = self.shown_lines()
        if self._lines == 1:
            p.drawText(QRectF(self.rect()),
                       int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter),
                       lines[0] if lines else "")
        else:
            metrics = self.fontMetrics()
            for i, line in enumerate(lines):
                p.drawText(QRectF(0, i * metrics.lineSpacing(), self.width(),
                                  metrics.lineSpacing()),
                           int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter), line)
        p.end()


def fitting_line(metrics: QFontMetrics, width: int, *texts: str) -> str:
    """The first of ``texts`` (empty ones skipped) that fits ``width`` pixels on one line;
    the last, elided, when none does."""
    line = ""
    for text in texts:
        if text:
            line = metrics.elidedText(text, Qt.TextElideMode.ElideRight, width)
            if line == text:
                break
    return line


def wrap_lines(text: str, font: QFont, width: int, most: int) -> list[str]:
    """Word-wrap ``text`` to ``width`` pixels in at most ``most`` lines; the last line is
    elided with '…' when the text does not fit."""
    metrics = QFontMetrics(font)
    option = QTextOption()
    option.setWrapMode(QTextOption.WrapMode.WordWrap)
    lines: list[str] = []
    paragraphs = text.split("\n")
    for number, paragraph in enumerate(paragraphs):
        layout = QTextLayout(paragraph, font)
        layout.setTextOption(option)
        layout.beginLayout()
        while len(lines) < most:
            line = layout.createLine()
            if not line.isValid():
                break
            line.setLineWidth(width)
            start, length = line.textStart(), line.textLength()
            rest = paragraph[start:]
            if len(lines) == most - 1 and (start + length < len(paragraph)
                                            or number < len(paragraphs) - 1):
                lines.append(metrics.elidedText(rest + " …", Qt.TextElideMode.ElideRight,
                                                width))
                break
            lines.append(paragraph[start : start + length].rstrip())
        layout.endLayout()
        if len(lines) >= most:
            break
    return lines

