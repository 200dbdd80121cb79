"""A small schematic of the network the builder describes; it follows every setting."""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QFontMetricsF, QPainter, QPainterPath, QPaintEvent, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

from vgrad_gui.core.datasets import DESCRIPTIONS
from vgrad_gui.core.spec import Config
from vgrad_gui.qt import theme

SHORT = {"sigmoid": "σ", "tanh": "tanh", "relu": "ReLU", "leaky_relu": "LReLU", "elu": "ELU",
         "gelu": "GELU", "selu": "SELU", "linear": "id"}
ACT_COLOUR = {"sigmoid": "ERROR", "tanh": "WARN"}  # theme palette names: read when painting


def fitting_font(words: list[str], width: float, relative: float) -> QFont:
    """The theme's font at ``relative`` size, shrunk (not below 6 pt) until every word fits
    in ``width`` pixels."""
    f = theme.font(relative)
    widest = max(QFontMetricsF(f).horizontalAdvance(w) for w in words)
    if widest > width > 0:
        f.setPointSizeF(max(6.0, f.pointSizeF() * width / widest))
    return f


class NetworkSchematic(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.config = Config()
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setToolTip("The network these settings build: input, the hidden blocks "
                        "(Linear → normalisation → activation, with a shortcut when residual "
                        "is on), and the output layer.")

    def sizeHint(self) -> QSize:
        return QSize(300, int(theme.point_size() * 11))

    def set_config(self, config: Config) -> None:
        self.config = config
        self.setFixedHeight(self.sizeHint().height())
        self.update()

    def update_fonts(self) -> None:
        """Follow the app's text size (the painted text takes it from the theme)."""
        self.setFixedHeight(self.sizeHint().height())
        self.update()

    def paintEvent(self, event: QPaintEvent) -> None:
        cfg = self.config
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        w, h = float(self.width()), float(self.height())
        p.fillRect(self.rect(), QColor(theme.BACKGROUND))
        inputs = 64 if cfg.dataset == "digits" else 2
        outputs = 10 if cfg.dataset == "digits" else 3 if cfg.dataset == "blobs" else 2
        shown = list(range(1, cfg.depth + 1))
        if cfg.depth > 5:
            shown = [1, 2, 0, cfg.depth - 1, cfg.depth]  # 0 marks the elided middle
        boxes = ["in", *shown, "out"]
        gap = max(3.0, min(8.0, w / 40))  # a narrow dock keeps its width for the words
        bw = (w - 12 - gap * (len(boxes) - 1)) / len(boxes)
        top = h * 0.34
        bh = h * 0.5
        # Read from the back of a room: at most one step below the body text (issue 11 measured
        # ~8 px at 0.62/0.72 of it), smaller only where a box is too narrow for its words.
        words = [str(inputs), "in", str(outputs), "out", str(cfg.width), "BN",
                 SHORT[cfg.activation], f"×{cfg.depth - 4}"]
        small = fitting_font(words, bw - 4, 0.9)
        tiny = theme.font(0.85)
        for k, box in enumerate(boxes):
            x = 6 + k * (bw + gap)
            rect = QRectF(x, top, bw, bh)
            if box == 0:
                p.setPen(QColor(theme.TEXT_DIM))
                p.setFont(small)
                p.drawText(rect, Qt.AlignmentFlag.AlignCenter, f"…\n×{cfg.depth - 4}")
                continue
            fill = QColor(theme.PANEL_LIGHT)
            p.setPen(QPen(QColor(theme.BORDER), 1))
            p.setBrush(fill)
            p.drawRoundedRect(rect, 5, 5)
            p.setFont(small)
            if box == "in":
                p.setPen(QColor(theme.TEXT_DIM))
                p.drawText(rect, Qt.AlignmentFlag.AlignCenter, f"{inputs}\nin")
            elif box == "out":
                p.setPen(QColor(theme.TEXT))
                p.drawText(rect, Qt.AlignmentFlag.AlignCenter, f"{outputs}\nout")
            else:
                self._draw_hidden(p, rect, residual=cfg.residual and box != 1, gap=gap)
            if k < len(boxes) - 1:
                p.setPen(QPen(QColor(theme.TEXT_DIM), 1.2))
                y = top + bh / 2
                p.drawLine(QPointF(x + bw, y), QPointF(x + bw + gap, y))
        self._draw_captions(p, tiny, top, top + bh)
        p.end()

    def _draw_hidden(self, p: QPainter, rect: QRectF, residual: bool, gap: float) -> None:
        cfg = self.config
        lines = [f"{cfg.width}"]
        if cfg.norm != "none":
            lines.append("BN" if cfg.norm == "batch" else "LN")
        p.setPen(QColor(theme.TEXT))
        upper = QRectF(rect.x(), rect.y() + 2, rect.width(), rect.height() * 0.55)
        p.drawText(upper, Qt.AlignmentFlag.AlignCenter, "\n".join(lines))
        p.setPen(QColor(theme.colour(ACT_COLOUR.get(cfg.activation, "OK"))))
        lower = QRectF(rect.x(), rect.y() + rect.height() * 0.55, rect.width(),
                       rect.height() * 0.42)
        p.drawText(lower, Qt.AlignmentFlag.AlignCenter, SHORT[cfg.activation])
        if residual:
            x, top, rise = rect.x(), rect.y(), self.height() * 0.28
            path = QPainterPath(QPointF(x - gap / 2, top))
            path.cubicTo(QPointF(x, top - rise), QPointF(x + rect.width(), top - rise),
                         QPointF(x + rect.width() + gap / 2, top))
            p.setBrush(Qt.BrushStyle.NoBrush)
            p.setPen(QPen(QColor(theme.ACCENT), 1.5))
            p.drawPath(path)

    def _draw_captions(self, p: QPainter, font: QFont, top: float, bottom: float) -> None:
        cfg = self.config
        w, h = float(self.width()), float(self.height())
        p.setFont(font)
        p.setPen(QColor(theme.TEXT_DIM))
        caption = (f"{cfg.depth} hidden × {cfg.width} · {cfg.init} init"
                   + (" · residual" if cfg.residual else ""))
        # Elided, not cut: a narrow dock with large text must still read as words.
        metrics = QFontMetricsF(font)
        p.drawText(QRectF(0, 0, w, top - 4), Qt.AlignmentFlag.AlignLeft
                   | Qt.AlignmentFlag.AlignTop,
                   metrics.elidedText(caption, Qt.TextElideMode.ElideRight, w))
        p.drawText(QRectF(0, bottom + 2, w, h - bottom), Qt.AlignmentFlag.AlignLeft,
                   metrics.elidedText(DESCRIPTIONS[cfg.dataset], Qt.TextElideMode.ElideRight, w))
