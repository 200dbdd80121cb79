"""Text that changes many times a second without re-laying-out the window.

Setting a QLabel's text asks every layout above it to recompute; in a main window full of
docks that costs ~20 ms, and a diagnosis or status line that changes a few times a second
would stall the frame loop. A PaintedText draws its text itself and only ever repaints.
"""

from __future__ import annotations

from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QColor, QPainter, QPaintEvent, QTextOption
from PySide6.QtWidgets import QSizePolicy, QWidget

from vgrad_gui.qt import theme


class PaintedText(QWidget):
    """``lines`` lines of text (wrapped, the last line elided), in a fixed height."""

    def __init__(self, text: str = "", lines: int = 1, relative_size: float = 1.0,
                 bold: bool = False, colour: str = theme.TEXT,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._text = text
        self._lines = lines
        self._relative = relative_size
        self._bold = bold
        self._colour = QColor(colour)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.update_font()

    def update_font(self) -> None:
        self.setFont(theme.font(self._relative, self._bold))
        self.setFixedHeight(self.fontMetrics().lineSpacing() * self._lines + 2)

    def text(self) -> str:
        return self._text

    def setText(self, text: str) -> None:
        if text != self._text:
            self._text = text
            self.update()

    def set_colour(self, colour: str) -> None:
        self._colour = QColor(colour)
        self.update()

    def sizeHint(self) -> QSize:
        return QSize(self.fontMetrics().horizontalAdvance(self._text[:40]) + 8,
                     self.height())

    def paintEvent(self, event: QPaintEvent) -> None:
        p = QPainter(self)
        p.setPen(self._colour)
        p.setFont(self.font())
        rect = QRectF(self.rect())
        if self._lines == 1:
            text = self.fontMetrics().elidedText(self._text, Qt.TextElideMode.ElideRight,
                                                 self.width())
            p.drawText(rect, int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter),
                       text)
        else:
            option = QTextOption()
            option.setWrapMode(QTextOption.WrapMode.WordWrap)
            p.drawText(rect, self._text, option)
        p.end()

