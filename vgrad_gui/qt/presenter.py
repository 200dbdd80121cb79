"""Presenter: lessons in the window, and presenter mode for a lecture hall.

A lesson (core/lessons.py) is played step by step: going to a step builds its runs in the
window's lanes (run A through the builder, B-D next to it), names them as the step does,
brings the step's view forward, and sets a pace a room can follow (a step's run lasts about
``PACE_SECONDS``, not a blink). The lesson panel (lesson_panel.py) shows the step, its
predict-first question before the run and the answer after it, and the evidence line,
filled from the runs a few times a second while they train and final when they end.

Presenter mode (P; Esc leaves) hides the builder, the menus, the toolbar and the status bar
and every view but the step's, puts the lesson panel on top in type sized from the window
(the headline >= 28 px at 1024x768) and leaves the rest to the run panels (banner and
diagram) and the spotlighted view. Clickers send PageDown/PageUp (and the arrows): next and
previous step; B blanks the screen until any key. Space stays the window's Start/Pause.
Leaving restores the window exactly as it was (dock layout, bars, full screen or not).

The window is the lead's; this module only adds its own actions, dock and overlay to it
(``install``) and drives it through its public API.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QByteArray, QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QColor, QKeyEvent, QKeySequence, QMouseEvent, QPainter
from PySide6.QtWidgets import (
    QDockWidget,
    QFileDialog,
    QFrame,
    QMenu,
    QScrollArea,
    QToolBar,
    QWidget,
)

from vgrad_gui.core.lessons import (
    Lesson,
    LessonError,
    LessonStep,
    fill_evidence,
    open_lesson,
    shipped_lessons,
)
from vgrad_gui.core.run import Run
from vgrad_gui.qt.controls import SPEEDS, make_actions
from vgrad_gui.qt.lesson_panel import LessonPanel

if TYPE_CHECKING:
    from vgrad_gui.qt.main_window import MainWindow

PACE_SECONDS = 9.0  # a lesson step's run, at the pace a room can follow
EVIDENCE_MS = 250  # the evidence line is read, not watched: four times a second
SPOTLIGHT_SHARE = 0.55  # of the window's width, for the spotlighted view in presenter mode
LESSON_SHARE = 0.5  # of the window's height at most, for the lesson in presenter mode
DONE_STATES = ("finished",)


@dataclass(frozen=True)
class Command:
    name: str
    text: str
    key: str | None
    tip: str


COMMANDS = (
    Command("present", "Presenter mode", "P", "Presenter mode on or off: the lesson, the runs "
            "and the step's view in large type, nothing else (Esc leaves)"),
    Command("leave", "Leave presenter mode", "Escape", "Leave presenter mode"),
    Command("next", "Next step", "PgDown", "The lesson's next step (a clicker's forward "
            "button)"),
    Command("previous", "Previous step", "PgUp", "The lesson's previous step"),
    # Arrows too, as clickers may send them; in presenter mode only (outside it they move
    # the timeline, and the builder's fields want them).
    Command("next_arrow", "Next step", "Right", "The lesson's next step"),
    Command("previous_arrow", "Previous step", "Left", "The lesson's previous step"),
    Command("blank", "Blank the screen", "B", "Blank the screen (presenter mode); any key "
            "brings it back"),
    Command("open", "Open lesson file…", "Ctrl+L", "Open a lesson file (.json)"),
    Command("close", "Close lesson", None, "Leave the lesson (the runs stay on screen)"),
)


# Keys these have only in presenter mode, borrowed from the window's own actions meanwhile.
PRESENTER_ONLY = ("leave", "next_arrow", "previous_arrow", "blank")


def pace_index(steps: int, seconds: float = PACE_SECONDS) -> int:
    """The index in SPEEDS whose rate trains ``steps`` steps in about ``seconds`` (nearest
    on a log scale: 500 steps -> 50 steps/s, 10 s)."""
    def miss(i: int) -> float:
        rate = SPEEDS[i]
        return math.inf if rate is None else abs(math.log(steps / rate / seconds))
    return min(range(len(SPEEDS)), key=miss)


def lesson_name(name: str) -> str:
    """'vanishing_gradients' -> 'Vanishing gradients' (a menu entry)."""
    return name.replace("_", " ").capitalize()


class BlankOverlay(QWidget):
    """The blanked screen: black over the whole window, keeps the keyboard, and goes at the
    first key or click (which does nothing else: Space here must not start a run)."""

    dismissed = Signal()

    def __init__(self, parent: QWidget) -> None:
        super().__init__(parent)
        self.setObjectName("blankOverlay")
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.hide()

    def paintEvent(self, event) -> None:
        p = QPainter(self)
        p.fillRect(self.rect(), QColor("black"))
        p.end()

    def event(self, event: QEvent) -> bool:
        if event.type() == QEvent.Type.ShortcutOverride:
            event.accept()  # every key comes here as a key press, none as a shortcut
            return True
        return super().event(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        event.accept()
        self.dismissed.emit()

    def mousePressEvent(self, event: QMouseEvent) -> None:
        event.accept()
        self.dismissed.emit()


@dataclass
class _Saved:
    """The window as it was before presenter mode."""

    state: QByteArray
    menubar: bool
    statusbar: bool
    window_state: Qt.WindowState
    # The window's own actions on presenter mode's keys (Esc leaves full screen, the arrows
    # move the timeline), with their shortcuts as they were: two actions on one key cancel
    # each other, so presenter mode borrows the key and gives it back on leaving.
    borrowed: list[tuple[QAction, list[QKeySequence]]]
    # What shares the window's centre with the run panels (the timeline), and whether it
    # was hidden: presenter mode gives the room the run panels only.
    extras: list[tuple[QWidget, bool]]


class Presenter(QObject):
    stepChanged = Signal(int)
    presentingChanged = Signal(bool)
    revealed = Signal()

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.window = window
        self.lesson: Lesson | None = None
        self.index = 0
        self.pace_seconds: float | None = PACE_SECONDS  # None: leave the speed alone
        self.evidence = ""  # the evidence line as last filled ("" before the first step)
        self.finished = False  # every run of the step has ended (or stopped at NaN/Inf)
        self._user_speed: int | None = None
        self._saved: _Saved | None = None
        self._seen: tuple[int, ...] | None = None
        self._labels_pending = False

        self.panel = LessonPanel()
        self.panel.previousRequested.connect(self.previous)
        self.panel.nextRequested.connect(self.next)
        self.panel.closeRequested.connect(self.close_lesson)
        self.panel.presentRequested.connect(self.toggle)
        self.panel.answerChosen.connect(self.panel.choose)
        self.panel.heightChanged.connect(lambda _: self._size_docks())
        # In a scroll area: the panel's height never becomes the window's minimum (a
        # 768-pixel screen has no room for the lesson, the docks and the run panels stacked).
        self.scroll = QScrollArea()
        self.scroll.setObjectName("lessonScroll")
        self.scroll.setWidget(self.panel)
        self.scroll.setWidgetResizable(True)
        self.scroll.setFrameShape(QFrame.Shape.NoFrame)
        self.scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.dock = QDockWidget("Lesson", window)
        self.dock.setObjectName("dock_lesson")
        self.dock.setWidget(self.scroll)
        self.dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable
                              | QDockWidget.DockWidgetFeature.DockWidgetFloatable)
        # Normal mode: a tab next to the builder (a column of its own would squeeze the
        # views); presenter mode moves it to the top.
        window.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, self.dock)
        builder = window.docks.get("builder")
        if builder is not None:
            window.tabifyDockWidget(builder, self.dock)
        self.dock.hide()
        self.overlay = BlankOverlay(window)
        self.overlay.dismissed.connect(self.unblank)
        self._focus_before_blank: QWidget | None = None

        slots = {"present": self.toggle, "leave": lambda: self.set_presenting(False),
                 "next": self.next, "previous": self.previous, "next_arrow": self.next,
                 "previous_arrow": self.previous, "blank": self.blank,
                 "open": self.open_dialog, "close": self.close_lesson}
        self.actions = make_actions(window, COMMANDS, slots)
        self.actions["present"].setCheckable(True)
        self.menu = self._menu()
        self._enable()

        self._timer = QTimer(self)
        self._timer.setInterval(EVIDENCE_MS)
        self._timer.timeout.connect(self.refresh)
        window.workspace.connect(self._workspace_changed)
        window.installEventFilter(self)

    def _menu(self) -> QMenu:
        menu = QMenu("&Lesson", self.window)
        for name in shipped_lessons():
            action = menu.addAction(lesson_name(name))
            action.triggered.connect(lambda _=False, n=name: self.open_named(n))
        menu.addAction(self.actions["open"])
        menu.addSeparator()
        for name in ("previous", "next", "present", "blank", "close"):
            menu.addAction(self.actions[name])
        return menu

    # -- reading ------------------------------------------------------------------------------
    @property
    def step(self) -> LessonStep | None:
        return self.lesson.steps[self.index] if self.lesson is not None else None

    @property
    def presenting(self) -> bool:
        return self._saved is not None

    @property
    def blanked(self) -> bool:
        return self.overlay.isVisible()

    def step_runs(self) -> list[Run] | None:
        """The step's runs as trained in the window, in lane order (run A first); None when
        the lanes do not hold this step's networks (still building, or changed by hand)."""
        step = self.step
        lanes = self.window.session.lanes
        if step is None or len(lanes) != len(step.runs):
            return None
        runs = []
        for lane, config in zip(lanes, step.runs, strict=True):
            run = lane.shown
            if run is None or run.run_id != lane.run_id or run.config != config:
                return None
            runs.append(run)
        return runs

    def _enable(self) -> None:
        a, has, on = self.actions, self.lesson is not None, self.presenting
        a["present"].setChecked(on)
        a["leave"].setEnabled(on)
        a["blank"].setEnabled(on)
        a["close"].setEnabled(has)
        last = self.lesson is not None and self.index >= len(self.lesson.steps) - 1
        for name in ("next", "next_arrow"):
            a[name].setEnabled(has and not last and (on or name == "next"))
        for name in ("previous", "previous_arrow"):
            a[name].setEnabled(has and self.index > 0 and (on or name == "previous"))

    # -- lessons ------------------------------------------------------------------------------
    def open_named(self, name_or_path: str | Path) -> bool:
        """Open a shipped lesson by name, or a lesson file; a bad file is a message (one
        line naming the file, line and key)."""
        try:
            lesson = open_lesson(name_or_path)
        except LessonError as exc:
            self.window.show_message("Could not open the lesson", str(exc))
            return False
        self.open_lesson(lesson)
        return True

    def open_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self.window, "Open lesson",
                                              self.window.files.default_dir(),
                                              "Lessons (*.json)")
        if path:
            self.open_named(path)

    def open_lesson(self, lesson: Lesson, index: int = 0) -> None:
        """Play ``lesson`` from step ``index`` (counting from 0)."""
        if self.lesson is None:
            self._user_speed = self.window.speed.value()
        self.lesson = lesson
        self.dock.setWindowTitle(f"Lesson: {lesson.title}")
        self.dock.show()
        self.dock.raise_()
        self._timer.start()
        self.go(index)  # in presenter mode this lays the window out for the step

    def close_lesson(self) -> None:
        """Leave the lesson: the runs stay, the user's speed comes back."""
        if self.lesson is None:
            return
        if self.presenting:
            self.set_presenting(False)
        self.lesson = None
        self._timer.stop()
        self.dock.hide()
        if self._user_speed is not None:
            self.window.speed.setValue(self._user_speed)
            self._user_speed = None
        self._enable()

    def next(self) -> None:
        if self.lesson is not None and self.index < len(self.lesson.steps) - 1:
            self.go(self.index + 1)

    def previous(self) -> None:
        if self.lesson is not None and self.index > 0:
            self.go(self.index - 1)

    def go(self, index: int) -> None:
        """Show step ``index`` and build its runs (fresh, from step 0)."""
        if self.lesson is None:
            return
        self.index = max(0, min(index, len(self.lesson.steps) - 1))
        step = self.lesson.steps[self.index]
        self.evidence, self.finished, self._seen = "", False, None
        self.panel.show_step(self.lesson, self.index)
        self.scroll.verticalScrollBar().setValue(0)
        self._configure(step)
        if self.pace_seconds is not None:
            self.window.speed.setValue(pace_index(step.steps, self.pace_seconds))
        self._spotlight(step)
        self.window.setWindowTitle(f"vgrad_gui — {self.lesson.title}")
        self._enable()
        self.refresh()
        self.stepChanged.emit(self.index)

    def _configure(self, step: LessonStep) -> None:
        """The window's lanes become the step's runs, each built afresh."""
        window, session = self.window, self.window.session
        session.pause()
        window.workspace.cursor.follow_live()
        while len(session.lanes) > len(step.runs):
            session.remove_lane(len(session.lanes) - 1)
        for i, config in enumerate(step.runs):
            if i >= len(session.lanes):
                if i == 0:
                    session.configure(config)
                else:
                    session.add_lane(config)
                continue
            # The lane itself, not through the builder: its editors round (a learning rate
            # to its decimals), and the step's runs are the file's, exactly.
            before = session.lanes[i].run_id
            session.configure_lane(i, config)
            if session.lanes[i].run_id == before:
                # The same network (or only its step limit changed): train it afresh.
                session.reset_lane(i)
        window.select_lane(0)  # the builder shows run A
        self._labels_pending = False
        self._apply_labels()

    def _spotlight(self, step: LessonStep) -> None:
        if self.presenting:
            self._lay_out()
            return
        dock = self.window.docks.get(step.spotlight)
        if dock is not None:
            dock.show()
            dock.raise_()
        else:  # "diagram": the run panels in the middle
            self.window.diagram.setFocus()

    # -- labels: the step's own, after the workspace names the runs its way ------------------
    def _workspace_changed(self, change) -> None:
        if self.lesson is not None and not self._labels_pending and change.kind in (
                "added", "replaced", "relabelled", "removed"):
            self._labels_pending = True
            QTimer.singleShot(0, self._apply_labels)

    def _apply_labels(self) -> None:
        self._labels_pending = False
        step, runs = self.step, self.step_runs()
        if step is None or runs is None:
            return
        changed = False
        for run, label in zip(runs, step.labels, strict=True):
            if run.label != label:
                run.set_label(label)
                changed = True
        if changed:
            self.window.panels.sync()  # the panels' titles
            self.window.select_lane(self.window.lane)  # the run bar

    # -- the evidence and the answer -----------------------------------------------------------
    def refresh(self) -> None:
        """Fill the evidence from the step's runs (when they moved); reveal the answer once
        every run has ended."""
        step = self.step
        if step is None:
            return
        runs = self.step_runs()
        if runs is None:
            self._seen = None
            if self.evidence:
                self.evidence = ""
                self.panel.set_evidence("", final=False)
            return
        seen = tuple(v for r in runs for v in (r.run_id, r.version))
        if seen == self._seen:
            return
        self._seen = seen
        states = [lane.state for lane in self.window.session.lanes]
        done = all(s in DONE_STATES or (s == "paused" and r.history.first_nonfinite_step
                                        is not None) for s, r in zip(states, runs, strict=True))
        if max(r.step for r in runs) == 0:
            self.evidence, self.finished = "", False
            self.panel.set_evidence("", final=False)
            return
        self.evidence = fill_evidence(step, runs)
        was_done, self.finished = self.finished, done
        self.panel.set_evidence(("Evidence: " if done else "Evidence so far: ") + self.evidence,
                                final=done)
        if done and not self.panel.revealed and step.predict is not None:
            self.panel.reveal()
            self.revealed.emit()
        if done and not was_done:
            # The room reads the answer and the evidence now: where the lesson is taller than
            # its dock (a small screen), they scroll into view, not the title.
            QTimer.singleShot(0, lambda: self.scroll.ensureWidgetVisible(self.panel.evidence,
                                                                         0, 0))

    # -- presenter mode -----------------------------------------------------------------------
    def toggle(self) -> None:
        self.set_presenting(not self.presenting)

    def set_presenting(self, on: bool) -> None:
        if on == self.presenting:
            self._enable()
            return
        w = self.window
        if on:
            keys = {QKeySequence(c.key) for c in COMMANDS
                    if c.name in PRESENTER_ONLY and c.key is not None}
            own = set(self.actions.values())
            borrowed = [(a, a.shortcuts()) for a in w.actions()
                        if a not in own and keys.intersection(a.shortcuts())]
            extras = [(x, x.isHidden()) for x in self._centre_extras()]
            self._saved = _Saved(w.saveState(), not w.menuBar().isHidden(),
                                 not w.statusBar().isHidden(), w.windowState(), borrowed,
                                 extras)
            for action, shortcuts in borrowed:
                action.setShortcuts([k for k in shortcuts if k not in keys])
            for extra, _ in extras:
                extra.hide()
            w.menuBar().hide()
            w.statusBar().hide()
            for bar in w.findChildren(QToolBar):
                bar.hide()
            self.dock.setTitleBarWidget(QWidget())
            self.panel.set_presenter_height(w.height())
            self._lay_out()
        else:
            saved = self._saved
            assert saved is not None
            self._saved = None
            self.unblank()
            self.panel.set_presenter_height(None)
            # None gives the dock its own title bar back (Qt's API; the stubs say QWidget).
            self.dock.setTitleBarWidget(None)  # type: ignore[arg-type]
            w.restoreState(saved.state)
            w.menuBar().setVisible(saved.menubar)
            w.statusBar().setVisible(saved.statusbar)
            for action, shortcuts in saved.borrowed:
                action.setShortcuts(shortcuts)
            for extra, hidden in saved.extras:
                extra.setHidden(hidden)
            if w.windowState() != saved.window_state:
                w.setWindowState(saved.window_state)
            # The window as it was, exactly: the step's view is not brought forward again.
            self.dock.setVisible(self.lesson is not None)
        self._enable()
        self.presentingChanged.emit(on)

    def _centre_extras(self) -> list[QWidget]:
        """The widgets beside the run panels in the window's centre (the timeline)."""
        centre, panels = self.window.centralWidget(), self.window.panels
        layout = centre.layout() if centre is not None and centre is not panels else None
        if layout is None:
            return []
        items = (layout.itemAt(i) for i in range(layout.count()))
        widgets = (item.widget() for item in items if item is not None)
        return [x for x in widgets if x is not None and x is not panels
                and not x.isAncestorOf(panels)]

    def _lay_out(self) -> None:
        """Presenter mode's layout: the lesson on top; the run panels and the step's view."""
        w = self.window
        step = self.step
        spot = step.spotlight if step is not None else None
        for key, dock in w.docks.items():
            if key == "builder" or (step is not None and key != spot):
                dock.hide()
        if step is None:
            return
        w.addDockWidget(Qt.DockWidgetArea.TopDockWidgetArea, self.dock)
        self.dock.show()
        view = w.docks.get(spot or "")
        if view is not None:
            view.setFloating(False)
            w.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, view)
            view.show()
            view.raise_()
            QTimer.singleShot(0, self._size_docks)
        self._size_docks()

    def _size_docks(self) -> None:
        """The lesson as tall as its text (at most LESSON_SHARE of the window), the step's
        view SPOTLIGHT_SHARE of the width."""
        step, w = self.step, self.window
        if not self.presenting or step is None:
            return
        need = self.panel.needed_height(w.width()) + 2
        w.resizeDocks([self.dock], [min(need, int(w.height() * LESSON_SHARE))],
                      Qt.Orientation.Vertical)
        dock = w.docks.get(step.spotlight)
        if dock is not None and dock.isVisible():
            w.resizeDocks([dock], [int(w.width() * SPOTLIGHT_SHARE)],
                          Qt.Orientation.Horizontal)

    # -- blank ----------------------------------------------------------------------------------
    def blank(self) -> None:
        if not self.presenting or self.blanked:
            return
        self._focus_before_blank = self.window.focusWidget()
        self.overlay.setGeometry(self.window.rect())
        self.overlay.raise_()
        self.overlay.show()
        self.overlay.setFocus()

    def unblank(self) -> None:
        if not self.blanked:
            return
        self.overlay.hide()
        if self._focus_before_blank is not None:
            self._focus_before_blank.setFocus()
        self._focus_before_blank = None

    # -- the window's events ----------------------------------------------------------------------
    def eventFilter(self, obj: QObject, event: QEvent) -> bool:
        if obj is self.window:
            kind = event.type()
            if kind == QEvent.Type.Resize:
                if self.presenting:
                    self.panel.set_presenter_height(self.window.height())
                    QTimer.singleShot(0, self._size_docks)
                if self.blanked:
                    self.overlay.setGeometry(self.window.rect())
            elif kind == QEvent.Type.Close:
                # The window saves its layout and speed as it closes: the user's, not the
                # lecture's.
                if self.presenting:
                    self.set_presenting(False)
                if self._user_speed is not None:
                    self.window.speed.setValue(self._user_speed)
        return super().eventFilter(obj, event)


def install(window: MainWindow) -> Presenter:
    """Add lessons and presenter mode to ``window``: its actions (P, Esc, PageDown/PageUp,
    the arrows in presenter mode, B, Ctrl+L), the lesson dock and the blank overlay.
    ``presenter.menu`` is a Lesson menu for the menu bar. A window has one presenter: a
    second call returns the first."""
    existing = window.findChild(Presenter)
    return existing if isinstance(existing, Presenter) else Presenter(window)
