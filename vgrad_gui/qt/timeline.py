"""The timeline under the run panels: scrub every view (and every compared run) to a step,
replay a run at a chosen speed, and see where things happened.

The slider moves the workspace's cursor; the views draw at the cursor's step. Dragging back
while a run trains leaves it training (End, or dragging to the end, follows it again).
Marks on the track: the first NaN/Inf step (cyan), changes of the diagnosis (orange) and
settings changed mid-run (blue). Steps older than a run's full-resolution window exist only as
bucket averages: the label says so when the cursor is there.
"""

from __future__ import annotations

from PySide6.QtCore import QRect, Qt, Signal
from PySide6.QtGui import QColor, QMouseEvent, QPainter, QPaintEvent
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QSlider,
    QStyle,
    QStyleOptionSlider,
    QToolButton,
    QWidget,
)

from vgrad_gui.core.run import DIAGNOSIS, NONFINITE, SETTING
from vgrad_gui.core.workspace import Change, Workspace
from vgrad_gui.qt import theme
from vgrad_gui.qt.clock import FrameClock
from vgrad_gui.qt.guard import guarded_paint_event

REPLAY_RATES = (10, 30, 100, 300, 1000, 3000, 10000)  # steps per second
MARK_COLOURS = {NONFINITE: "NONFINITE", DIAGNOSIS: "WARN", SETTING: "ACCENT"}  # palette names
SYNC_EVERY = 6  # frames between range updates while following live (10 Hz)
SLIDER_STEPS = 1_000_000  # a QSlider holds int32: longer runs map several steps to a notch


class MarkedSlider(QSlider):
    """A slider whose groove carries marks at given values."""

    def __init__(self) -> None:
        super().__init__(Qt.Orientation.Horizontal)
        self.marks: list[tuple[int, str]] = []  # value, colour

    def set_marks(self, marks: list[tuple[int, str]]) -> None:
        if marks != self.marks:
            self.marks = marks
            self.update()

    @guarded_paint_event
    def paintEvent(self, ev: QPaintEvent) -> None:
        super().paintEvent(ev)
        if not self.marks or self.maximum() <= self.minimum():
            return
        opt = QStyleOptionSlider()
        self.initStyleOption(opt)
        groove = self.style().subControlRect(QStyle.ComplexControl.CC_Slider, opt,
                                             QStyle.SubControl.SC_SliderGroove, self)
        handle = self.style().subControlRect(QStyle.ComplexControl.CC_Slider, opt,
                                             QStyle.SubControl.SC_SliderHandle, self)
        span = groove.width() - handle.width()
        lo, hi = self.minimum(), self.maximum()
        painter = QPainter(self)
        try:
            for value, colour in self.marks:
                x = groove.x() + handle.width() // 2 + int(span * (value - lo) / (hi - lo))
                painter.fillRect(QRect(x - 1, 0, 3, self.height() // 3), QColor(colour))
        finally:
            painter.end()

    def mousePressEvent(self, ev: QMouseEvent) -> None:
        # A click jumps to where it lands (QSlider's default pages towards it).
        if ev.button() == Qt.MouseButton.LeftButton and self.maximum() > self.minimum():
            opt = QStyleOptionSlider()
            self.initStyleOption(opt)
            groove = self.style().subControlRect(QStyle.ComplexControl.CC_Slider, opt,
                                                 QStyle.SubControl.SC_SliderGroove, self)
            value = QStyle.sliderValueFromPosition(self.minimum(), self.maximum(),
                                                   int(ev.position().x()) - groove.x(),
                                                   max(1, groove.width()))
            self.setValue(value)
            self.sliderMoved.emit(value)
        super().mousePressEvent(ev)


class Timeline(QWidget):
    moved = Signal(int)  # the user moved the cursor to this step

    def __init__(self, workspace: Workspace, clock: FrameClock) -> None:
        super().__init__()
        self.workspace = workspace
        self.step_cursor = workspace.cursor
        self.playing = False
        self._play_at = 0.0
        row = QHBoxLayout(self)
        row.setContentsMargins(6, 2, 6, 2)
        row.setSpacing(6)
        self.play = QToolButton()
        self.play.setText("▶")
        self.play.setToolTip("Replay from the cursor at the chosen speed (Ctrl+Space)")
        self.play.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.play.clicked.connect(self.toggle_play)
        row.addWidget(self.play)
        self.slider = MarkedSlider()
        self.slider.setRange(0, 0)
        self.slider.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.slider.setToolTip("Drag to show every view at an earlier step (← → one step, "
                               "Shift+← → a tenth, Home the first step, End live). Marks: "
                               "cyan = first NaN/Inf, orange = the diagnosis changed, blue = a "
                               "setting changed.")
        self.slider.sliderMoved.connect(self._dragged)
        self.slider.setMinimumWidth(120)
        row.addWidget(self.slider, 1)
        self.label = QLabel("live")
        self.label.setMinimumWidth(self.label.fontMetrics().horizontalAdvance(
            "live · step 10,000") + 8)
        row.addWidget(self.label)
        self.rate = QComboBox()
        for r in REPLAY_RATES:
            self.rate.addItem(f"{r:,}/s", r)
        self.rate.setCurrentIndex(2)
        self.rate.setToolTip("Replay speed, in steps per second")
        self.rate.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        row.addWidget(self.rate)
        self.live = QToolButton()
        self.live.setText("Live")
        self.live.setToolTip("Follow the run as it trains (End)")
        self.live.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.live.clicked.connect(self.follow_live)
        row.addWidget(self.live)
        self._seen: tuple[int, ...] | None = None
        self._first = 0
        self._scale = 1  # steps per slider notch
        workspace.connect(self._changed)
        self.clock = clock
        clock.frame.connect(self._frame)
        self.sync()

    # -- reading the runs --------------------------------------------------------------------
    def last_step(self) -> int:
        return max((r.step for r in self.workspace.runs), default=0)

    def first_step(self) -> int:
        firsts = [r.first_step for r in self.workspace.runs if r.step]
        return min(firsts, default=0)

    def marks(self) -> list[tuple[int, str]]:
        """(step, colour) of every run's events."""
        out = []
        for run in self.workspace.runs:
            for ev in run.events:
                name = MARK_COLOURS.get(ev.kind, "TEXT_DIM")
                out.append((ev.step, theme.colour(name)))
        return out

    def _notch(self, step: int) -> int:
        return (step - self._first) // self._scale

    # -- moving ------------------------------------------------------------------------------
    def _dragged(self, value: int) -> None:
        self.playing = False
        self.play.setText("▶")
        self.set_step(self._first + value * self._scale)

    def set_step(self, step: int) -> None:
        """Show every view at ``step``; at or past the last step, follow live again."""
        last = self.last_step()
        if step >= last and not self.playing:
            self.follow_live()
            return
        self.step_cursor.set_step(max(self.first_step(), min(step, last)))
        self.moved.emit(step)

    def follow_live(self) -> None:
        self.playing = False
        self.play.setText("▶")
        self.step_cursor.follow_live()

    def nudge(self, steps: int) -> None:
        """← →: a step back or on (from the last step when following live)."""
        self.set_step(self.shown() + steps)

    def shown(self) -> int:
        """The step the cursor shows (the last step when following live)."""
        c = self.step_cursor
        return self.last_step() if c.follows_live else int(c.fixed or 0)

    def nudge_fraction(self, fraction: float) -> None:
        span = max(1, self.last_step() - self.first_step())
        self.nudge(round(span * fraction) or (1 if fraction > 0 else -1))

    def home(self) -> None:
        if self.last_step():
            self.set_step(self.first_step())

    def toggle_play(self) -> None:
        """Replay from the cursor (from the first step when following live)."""
        if self.playing:
            self.playing = False
            self.play.setText("▶")
            return
        if not self.last_step():
            return
        start = self.first_step() if self.step_cursor.follows_live else self.shown()
        if start >= self.last_step():
            start = self.first_step()
        self.playing = True
        self.clock.wake()  # the replay steps on the clock's frames, at 60 Hz
        self.play.setText("⏸")
        self._play_at = float(start)
        self.step_cursor.set_step(start)

    # -- following ---------------------------------------------------------------------------
    def _changed(self, change: Change) -> None:
        if change.kind != "cursor":
            self._seen = None

    def _frame(self, index: int) -> None:
        if self.playing:
            self.clock.work()
            rate = float(self.rate.currentData() or 100)
            self._play_at += rate / 60.0
            last = self.last_step()
            if self._play_at >= last:
                self._play_at = float(last)
                self.playing = False
                self.play.setText("▶")
            self.step_cursor.set_step(int(self._play_at))
            self.sync()
            return
        if index % SYNC_EVERY:
            return
        version = self.workspace.data_version()
        if version != self._seen:
            self._seen = version
            self.sync()

    def sync(self) -> None:
        last, first = self.last_step(), self.first_step()
        self._first = first
        self._scale = max(1, -(-(last - first) // SLIDER_STEPS))
        self.slider.blockSignals(True)
        self.slider.setRange(0, max(0, self._notch(last)))
        shown = self.shown()
        self.slider.setValue(max(0, self._notch(shown)))
        self.slider.blockSignals(False)
        self.slider.set_marks([(self._notch(st), c) for st, c in self.marks()])
        self.live.setEnabled(not self.step_cursor.follows_live)
        self.label.setText(self.describe(shown, last))
        self.setEnabled(last > 0)

    def describe(self, shown: int, last: int) -> str:
        if self.step_cursor.follows_live:
            return f"live · step {last:,}" if last else "no steps yet"
        text = f"step {shown:,} of {last:,}"
        run = self.workspace.base
        if run is not None and run.step:
            raw_steps, _ = run.history.steps.raw(slice(0, 0))
            if len(raw_steps) and shown < int(raw_steps[0]):
                text += " (bucket means)"
                self.label.setToolTip(
                    f"Steps before {int(raw_steps[0]):,} are kept as averages over buckets of "
                    "steps (the history is bounded): what the views show there is the bucket "
                    "that holds this step.")
            else:
                self.label.setToolTip("")
        return text
