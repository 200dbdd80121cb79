"""LessonPanel: one lesson step on screen, for a lecture.

The lesson's title and the step's place in it, the step's title (the headline) and its text,
the *predict first* question with its answers (shown before the run; the right one lit and
explained once the run ends), and the evidence line, filled from the runs as they train.

It only shows; the presenter (presenter.py) decides which step and when to reveal. Type is
sized at refresh time from the theme (normal mode) or from the window's height (presenter
mode: the headline reads from the back of a room), times the user's text scale, so
Ctrl++/Ctrl+- reach every piece of it; colours are read from the theme at refresh time too.
"""

from __future__ import annotations

from PySide6.QtCore import QRectF, Qt, Signal
from PySide6.QtGui import QColor, QFont, QMouseEvent, QPainter, QPaintEvent
from PySide6.QtWidgets import (
    QBoxLayout,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from vgrad_gui.core.lessons import Lesson, LessonStep
from vgrad_gui.qt import theme
from vgrad_gui.qt.guard import guarded_paint_event
from vgrad_gui.qt.plots.banner import readable
from vgrad_gui.qt.text import wrap_lines

LETTERS = "ABCD"
# Presenter mode: the headline is a 27th of the window's height, never under 28 px (28 px
# at 1024x768, 40 px at 1920x1080), times the user's text scale. The rest is relative to it.
HEADLINE_LINES_PER_HEIGHT = 27
MIN_HEADLINE_PX = 28
# Presenter mode: sizes relative to the headline. Normal mode: relative to the theme's text
# size (the panel sits in a side dock next to the builder there).
PRESENTER_SIZES = {"headline": 1.0, "meta": 0.5, "text": 0.62, "question": 0.6,
                   "answer": 0.56, "reveal": 0.56, "evidence": 0.56, "button": 0.5,
                   "counter": 0.56}
NORMAL_SIZES = {"headline": 1.5, "meta": 0.9, "text": 1.05, "question": 1.05, "answer": 1.0,
                "reveal": 1.0, "evidence": 1.0, "button": 0.95, "counter": 1.0}
# 300 characters of evidence at most: three lines on a 1024-pixel screen, eight in a side dock
EVIDENCE_LINES = 8
WIDE = 720  # pixels: from here on the question stands beside the text, not below it


def presenter_headline_px(height: int) -> float:
    """The headline's pixel size in presenter mode for a window ``height`` pixels tall,
    before the user's text scale."""
    return max(float(MIN_HEADLINE_PX), height / HEADLINE_LINES_PER_HEIGHT)


class AnswerButton(QLabel):
    """One answer of a predict-first question: wraps like a label, clicks like a button,
    never takes the keyboard (Space must reach Start)."""

    clicked = Signal()

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.setObjectName("lessonAnswer")
        self.setWordWrap(True)
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        self.mark = ""
        self.set_mark("")

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            self.clicked.emit()
        super().mousePressEvent(event)

    def set_mark(self, mark: str) -> None:
        """"" (open), "chosen" (the room's pick, before the answer), "correct", "wrong" (a
        pick that was not right) or "other" (neither, after the answer)."""
        self.mark = mark
        self.setProperty("mark", mark)
        self.restyle()

    def restyle(self) -> None:
        border = {"chosen": theme.ACCENT, "correct": theme.OK, "wrong": theme.ERROR}.get(
            self.mark, theme.TEXT_DIM)
        text = theme.TEXT_DIM if self.mark in ("other", "wrong") else theme.TEXT
        width = 3 if self.mark in ("chosen", "correct", "wrong") else 1
        pad = max(2, self.fontInfo().pixelSize() // 5)
        self.setStyleSheet(f"QLabel#lessonAnswer {{ color: {text}; background: "
                           f"{theme.PANEL_LIGHT}; border: {width}px solid {border}; "
                           f"border-radius: 6px; padding: {pad}px {2 * pad}px; }}")


class FittedText(QWidget):
    """Wrapped text, as tall as its lines (at most ``most``, the last elided), that only
    repaints when its text changes and re-lays the window out only when its line count does:
    the evidence line changes a few times a second while a run trains."""

    def __init__(self, most: int) -> None:
        super().__init__()
        self._text = ""
        self._most = most
        self._colour = QColor(theme.TEXT)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setFixedHeight(self.fontMetrics().lineSpacing() + 2)

    def text(self) -> str:
        return self._text

    def setText(self, text: str) -> None:
        if text != self._text:
            self._text = text
            self._fit()
            self.update()

    def set_colour(self, colour: str) -> None:
        if QColor(colour) != self._colour:
            self._colour = QColor(colour)
            self.update()

    def lines(self, width: int) -> list[str]:
        return wrap_lines(self._text, self.font(), max(width, 40), self._most)

    def height_for(self, width: int) -> int:
        return self.fontMetrics().lineSpacing() * max(1, len(self.lines(width))) + 2

    def _fit(self) -> None:
        height = self.height_for(self.width())
        if height != self.height():
            self.setFixedHeight(height)

    def changeEvent(self, event) -> None:
        super().changeEvent(event)
        if event.type() == event.Type.FontChange:
            self._fit()

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        if event.size().width() != event.oldSize().width():
            self._fit()

    @guarded_paint_event
    def paintEvent(self, event: QPaintEvent) -> None:
        p = QPainter(self)
        p.setPen(self._colour)
        p.setFont(self.font())
        spacing = self.fontMetrics().lineSpacing()
        for i, line in enumerate(self.lines(self.width())):
            p.drawText(QRectF(0, i * spacing, self.width(), spacing),
                       int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter), line)
        p.end()


class LessonPanel(QFrame):
    previousRequested = Signal()
    nextRequested = Signal()
    closeRequested = Signal()
    presentRequested = Signal()
    answerChosen = Signal(int)
    heightChanged = Signal(int)  # the height the text needs now (a step, an answer shown)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("lessonPanel")
        self.headline_px: float | None = None  # None: normal mode (theme sizes)
        self.step: LessonStep | None = None
        self.chosen: int | None = None
        self.revealed = False
        outer = self.outer = QVBoxLayout(self)
        outer.setContentsMargins(12, 4, 12, 4)
        outer.setSpacing(3)

        # The lesson's title and the buttons: normal mode only (presenter mode has the keys,
        # and its height is the views').
        self.top = QWidget()
        self.top_row = QBoxLayout(QBoxLayout.Direction.LeftToRight, self.top)
        self.top_row.setContentsMargins(0, 0, 0, 0)
        self.meta = FittedText(1)  # elided, never wider than the window
        self.meta.setObjectName("lessonMeta")
        self.top_row.addWidget(self.meta, 1)
        self.button_grid = QGridLayout()
        self.button_grid.setSpacing(4)
        self.top_row.addLayout(self.button_grid)
        self.buttons: dict[str, QPushButton] = {}
        for key, text, tip, signal in (
                ("previous", "◀ Previous", "The previous step (PgUp)", self.previousRequested),
                ("next", "Next ▶", "The next step (PgDown)", self.nextRequested),
                ("present", "Present", "Presenter mode on or off (P)", self.presentRequested),
                ("close", "Close lesson", "Leave the lesson (the runs stay)",
                 self.closeRequested)):
            button = QPushButton(text)
            button.setToolTip(tip)
            button.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # Space is Start, never a button
            button.clicked.connect(signal)
            self.buttons[key] = button
        # (wide, answers to a row, answers) as the buttons and answers are placed now
        self._placed: tuple[bool, int, int] | None = None
        outer.addWidget(self.top)

        heading = QHBoxLayout()
        self.headline = self._label("lessonHeadline")
        heading.addWidget(self.headline, 1)
        self.counter = QLabel("")  # "3 / 13", presenter mode only
        self.counter.setObjectName("lessonCounter")
        self.counter.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignTop)
        heading.addWidget(self.counter)
        outer.addLayout(heading)

        body = self.body = QBoxLayout(QBoxLayout.Direction.LeftToRight)
        body.setSpacing(24)
        self.text = self._label("lessonText")
        body.addWidget(self.text, 3, Qt.AlignmentFlag.AlignTop)
        self.predict_box = QWidget()
        right = QVBoxLayout(self.predict_box)
        right.setContentsMargins(0, 0, 0, 0)
        right.setSpacing(4)
        self.question = self._label("lessonQuestion")
        right.addWidget(self.question)
        self.answer_grid = QGridLayout()
        self.answer_grid.setSpacing(6)
        right.addLayout(self.answer_grid)
        self.answers: list[AnswerButton] = []
        body.addWidget(self.predict_box, 2, Qt.AlignmentFlag.AlignTop)
        outer.addLayout(body)

        self.reveal_line = self._label("lessonReveal")  # the full width: up to 3 sentences
        outer.addWidget(self.reveal_line)
        self.evidence = FittedText(EVIDENCE_LINES)
        self.evidence.setObjectName("lessonEvidence")
        outer.addWidget(self.evidence)
        outer.addStretch(1)  # a taller dock than the text needs: the space goes below it
        self._evidence_final = False
        self.set_presenter_height(None)
        theme.notifier.changed.connect(self.update_fonts)  # Ctrl++/Ctrl+-, or the theme

    @staticmethod
    def _label(name: str) -> QLabel:
        label = QLabel("")
        label.setObjectName(name)
        label.setWordWrap(True)
        label.setTextFormat(Qt.TextFormat.PlainText)
        label.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Minimum)
        return label

    # -- content ----------------------------------------------------------------------------
    def show_step(self, lesson: Lesson, index: int) -> None:
        step = lesson.steps[index]
        self.step = step
        self.chosen = None
        self.revealed = False
        self.meta.setText(f"Step {index + 1} of {len(lesson.steps)}  ·  {lesson.title}")
        self.meta.setToolTip(lesson.summary or lesson.title)
        self.counter.setText(f"{index + 1} / {len(lesson.steps)}")
        self.headline.setText(readable(step.title))
        self.text.setText(readable(step.text))
        self.buttons["previous"].setEnabled(index > 0)
        self.buttons["next"].setEnabled(index < len(lesson.steps) - 1)
        for answer in self.answers:
            self.answer_grid.removeWidget(answer)
            answer.deleteLater()
        self.answers = []
        predict = step.predict
        self.predict_box.setVisible(predict is not None)
        self.reveal_line.setVisible(predict is not None)
        if predict is not None:
            self.question.setText("Predict first: " + readable(predict.question))
            for i, text in enumerate(predict.answers):
                answer = AnswerButton(f"{LETTERS[i]}   {readable(text)}")
                answer.clicked.connect(lambda i=i: self.answerChosen.emit(i))
                self.answers.append(answer)
            self._placed = None
            self.reveal_line.setText("The answer appears when the run ends.")
        self.set_evidence("", final=False)
        self.update_fonts()

    def choose(self, index: int | None) -> None:
        """Mark the room's pick (before the answer is shown); None clears it."""
        if self.revealed:
            return
        self.chosen = index
        for i, answer in enumerate(self.answers):
            answer.set_mark("chosen" if i == index else "")

    def reveal(self) -> None:
        """The run has ended: light the right answer and explain it."""
        predict = self.step.predict if self.step is not None else None
        if predict is None or self.revealed:
            return
        self.revealed = True
        for i, answer in enumerate(self.answers):
            mark = "correct" if i == predict.correct_index else (
                "wrong" if i == self.chosen else "other")
            answer.set_mark(mark)
        right = LETTERS[predict.correct_index]
        self.reveal_line.setText(f"Answer {right}. {readable(predict.explanation)}")
        self._restyle()
        self.fit_height()

    def set_evidence(self, text: str, final: bool) -> None:
        self._evidence_final = final
        if not text:
            text = "Evidence: filled in from the runs as they train."
        lines_before = self.evidence.height()
        self.evidence.setText(readable(text))
        self.evidence.set_colour(theme.TEXT if final else theme.TEXT_DIM)
        if self.evidence.height() != lines_before:
            self.fit_height()

    # -- type and colour ------------------------------------------------------------------
    def set_presenter_height(self, height: int | None) -> None:
        """Presenter mode in a window ``height`` pixels tall; None: normal mode."""
        px = None if height is None else presenter_headline_px(height)
        self.top.setVisible(px is None)
        self.counter.setVisible(px is not None)
        if px != self.headline_px or height is None:
            self.headline_px = px
            self.update_fonts()

    def font_for(self, part: str, bold: bool = False) -> QFont:
        if self.headline_px is None:
            return theme.font(NORMAL_SIZES[part], bold)
        font = QFont()
        px = self.headline_px * PRESENTER_SIZES[part] * theme.font_scale()
        font.setPixelSize(max(1, round(px)))
        font.setBold(bold)
        return font

    def update_fonts(self) -> None:
        self.headline.setFont(self.font_for("headline", bold=True))
        self.counter.setFont(self.font_for("counter"))
        self.meta.setFont(self.font_for("meta"))
        self.text.setFont(self.font_for("text"))
        self.question.setFont(self.font_for("question", bold=True))
        self.reveal_line.setFont(self.font_for("reveal"))
        for answer in self.answers:
            answer.setFont(self.font_for("answer"))
        for button in self.buttons.values():
            button.setFont(self.font_for("button"))
        self.evidence.setFont(self.font_for("evidence"))
        self._restyle()
        self.fit_height()

    def _restyle(self) -> None:
        self.setStyleSheet(f"QFrame#lessonPanel {{ background: {theme.PANEL}; }}")
        self.meta.set_colour(theme.TEXT_DIM)
        self.counter.setStyleSheet(f"color: {theme.TEXT_DIM};")
        self.headline.setStyleSheet(f"color: {theme.ACCENT};")
        self.text.setStyleSheet(f"color: {theme.TEXT};")
        self.question.setStyleSheet(f"color: {theme.WARN};")
        self.reveal_line.setStyleSheet(f"color: {theme.OK if self.revealed else theme.TEXT_DIM};")
        for answer in self.answers:
            answer.restyle()
        self.evidence.set_colour(theme.TEXT if self._evidence_final else theme.TEXT_DIM)

    def needed_height(self, width: int) -> int:
        """The height the panel's text needs at ``width`` pixels (laid out for that width)."""
        self._arrange(width)
        layout = self.outer
        need = layout.heightForWidth(width) if layout.hasHeightForWidth() else \
            layout.sizeHint().height()
        # The painted lines are as tall as they are at the current width; at another width
        # they may wrap differently. (Not the layout's minimum: a wrapped label's is its
        # height at its narrowest, 100 pixels too many here.)
        return need + self.evidence.height_for(width) - self.evidence.height()

    def fit_height(self) -> None:
        """At least as tall as the wrapped text needs at this width: a dock does not ask its
        widget's height for its width, so the panel says it as its minimum (the dock holds
        it in a scroll area, so it never becomes the window's minimum)."""
        need = self.needed_height(max(self.width(), 200))
        if need != self.minimumHeight():
            self.setMinimumHeight(need)
            self.heightChanged.emit(need)

    def _arrange(self, width: int) -> None:
        """Wide: the question beside the text, the buttons in a row, short answers two to a
        row. Narrow (a side dock): one above the other, the buttons two to a row, the answers
        one to a row."""
        wide = width >= WIDE
        along, down = QBoxLayout.Direction.LeftToRight, QBoxLayout.Direction.TopToBottom
        direction = along if wide else down
        if self.body.direction() != direction:
            self.body.setDirection(direction)
            self.top_row.setDirection(direction)
        short = bool(self.answers) and max(len(a.text()) for a in self.answers) <= 44
        answers_per_row = 2 if wide and short else 1
        key = (wide, answers_per_row, len(self.answers))
        if key == self._placed:
            return
        self._placed = key
        placing: tuple[tuple[QGridLayout, list[QWidget], int], ...] = (
            (self.button_grid, list(self.buttons.values()), 4 if wide else 2),
            (self.answer_grid, list(self.answers), answers_per_row))
        for grid, widgets, per_row in placing:
            for w in widgets:
                grid.removeWidget(w)
            for i, w in enumerate(widgets):
                grid.addWidget(w, i // per_row, i % per_row)
            for column in range(4):  # side by side they share alike; alone, one takes all
                grid.setColumnStretch(column, 1 if column < per_row else 0)

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        if event.size().width() != event.oldSize().width():
            self.fit_height()
