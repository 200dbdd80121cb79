"""What every view shares: it follows the runs of a workspace, redraws only when shown and
when its data changed, on its own share of the app's frames, and reports its paints for the
latency measurement."""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, SignalInstance
from PySide6.QtGui import QPaintEvent, QResizeEvent
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget
from shiboken6 import isValid

from vgrad_gui.core.run import Run
from vgrad_gui.core.workspace import Change, Workspace
from vgrad_gui.qt import theme
from vgrad_gui.qt.clock import COST_DECAY, FrameClock
from vgrad_gui.qt.guard import guarded_paint_event, report_once


class View(QWidget):
    """A view of runs. Subclasses implement ``on_run`` (a new run: rebuild) and ``refresh``
    (draw the run's current state); a view of several runs (``multi``) implements
    ``on_runs`` instead of ``on_run``.

    A view shows the run at ``position`` in its workspace (A is 0), or every run when
    ``multi``. It never talks to a trainer: runs change under it (the session fills them) and
    it draws them at its turn. The clock ticks 60 times a second; a view draws on every
    ``every``-th tick at most, on the ticks where ``index % every == phase``, and only when
    something changed and it is shown. The phases spread the views over the ticks, so that no
    single frame paints them all: each paint is a few milliseconds, and all of them at once
    would stall the event loop past 50 ms.
    """

    title = "View"
    every = 2  # 30 Hz
    phase = 0
    # A supporting view: it takes its turn after the run panels (banner, diagram) and the
    # heatmaps, which a comparison is read from; half as often with three or four runs (one
    # core cannot draw every view of four runs at full rate); and it waits while the frame is
    # past its budget (clock.FRAME_BUDGET_S), a few frames, then until no other supporting
    # view has the frame (clock.may_overrun).
    yields = True
    rebuild_on_theme = True  # views that restyle themselves in place set it False
    multi = False
    # Draws values at the cursor's step (the diagram, the bars); else it draws the whole
    # history and only marks the cursor (``on_cursor``), which moving it must not redraw.
    reads_cursor = True

    def __init__(self, workspace: Workspace, clock: FrameClock, position: int = 0,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.workspace = workspace
        self.clock = clock
        self.position = position
        # Views of runs B-D take their turns on other frames than run A's: four diagrams
        # painted in one frame were ~28 ms.
        self.phase = type(self).phase + position
        self._cursor_seen = -1
        self.runs: tuple[Run, ...] = ()
        self._pending: tuple[Run, ...] | None = None
        self._seen: tuple[int, ...] | None = None  # the data version drawn last
        self._deferrals = 0  # frames this view has waited for budget, in a row
        # What its paint and its refresh cost, as a maximum that decays by COST_DECAY at each
        # paint: the frames' budget counts them. The last paint alone was a poor guess: the
        # health view's cheap repaint was followed by a 27 ms one, in a frame it then shared.
        self._paint_s = 0.0
        self._refresh_s = 0.0
        self._cost_s = 0.0  # refresh and paint
        workspace.connect(self._workspace_changed)
        self._turn_signal(clock).connect(self._on_frame)
        self._theme_seen = theme.current()
        theme.notifier.changed.connect(self._theme_changed)
        self.setMinimumSize(160, 120)
        self._pending = self.wanted_runs()

    @property
    def run(self) -> Run | None:
        """The run this view shows (the first, for a view of several)."""
        return self.runs[0] if self.runs else None

    def shown_step(self, run: Run | None = None) -> int | None:
        """The step the cursor shows for ``run`` (this view's run by default); None when
        following live, which every reading takes as "the latest"."""
        cursor = self.workspace.cursor
        run = run if run is not None else self.run
        if cursor.follows_live or run is None:
            return None
        return cursor.step_for(run)

    def release(self) -> None:
        """Stop following the workspace (before this view is thrown away)."""
        self._release(self.workspace, self.clock)

    def _release(self, workspace: Workspace, clock: FrameClock) -> None:
        workspace.disconnect(self._workspace_changed)
        with contextlib.suppress(RuntimeError, TypeError, SystemError):
            self._turn_signal(clock).disconnect(self._on_frame)
        with contextlib.suppress(RuntimeError, TypeError, SystemError):
            theme.notifier.changed.disconnect(self._theme_changed)

    def follow_position(self, position: int) -> None:
        """Show the run at ``position`` from now on (a dock follows the run being edited)."""
        if position != self.position:
            self.position = position
            self._take_runs()

    def _turn_signal(self, clock: FrameClock) -> SignalInstance:
        return clock.late if self.yields else clock.frame

    def _theme_changed(self) -> None:
        # Views that pick colours when they take a run (compare mode's run colours) take
        # their runs again, at their next turn, as when a run is replaced. Text-size
        # changes come through the same signal and need no rebuild.
        if not isValid(self) or theme.current() == self._theme_seen:
            return
        self._theme_seen = theme.current()
        self.update()
        if self.rebuild_on_theme:
            self.new_runs(self.wanted_runs())

    def wanted_runs(self) -> tuple[Run, ...]:
        runs = self.workspace.runs
        if self.multi:
            return runs
        return (runs[self.position],) if self.position < len(runs) else ()

    def _workspace_changed(self, change: Change) -> None:
        self.clock.wake()
        if change.kind in ("added", "removed", "replaced"):
            self._take_runs()
        elif change.kind != "cursor":  # the cursor is in data_version (or on_cursor's)
            self.mark_dirty()

    def _take_runs(self) -> None:
        wanted = self.wanted_runs()
        if wanted != (self._pending if self._pending is not None else self.runs):
            self.new_runs(wanted)

    def new_runs(self, runs: tuple[Run, ...]) -> None:
        """Other runs to show. Rebuilt at this view's next turn, like a redraw: rebuilding
        every view at once would repaint the whole window in one go."""
        self._pending = runs
        self.mark_dirty()

    def mark_dirty(self) -> None:
        """Draw at this view's next turn even if the runs did not change."""
        self._seen = None
        self.clock.wake()

    def resizeEvent(self, event: QResizeEvent) -> None:
        # Binned views pick their bins from their width: a finished run's view must redraw
        # for its new size, or a reopened run would look different from the live one.
        super().resizeEvent(event)
        self.mark_dirty()

    def data_version(self) -> tuple[int, ...]:
        base = (self.workspace.runs_version, *(r.version for r in self.runs))
        return (*base, self.workspace.cursor.version) if self.reads_cursor else base

    def on_cursor(self) -> None:
        """The cursor moved and nothing else changed (views with ``reads_cursor`` False)."""

    def _on_frame(self, index: int) -> None:
        every = self.every * 2 if self.yields and len(self.workspace) >= 3 else self.every
        if index % every != self.phase % every and not self._deferrals:
            return
        if self._pending is not None:
            # A new run (Reset, Start, a file opened) rebuilds every view: one after another
            # in one frame they were 70-100 ms stalls. A supporting view waits for room as it
            # does to draw.
            if self._wait_for_room():
                return
            # Rebuild now, draw at the next turn: both in one frame can take 20+ ms.
            runs = self.runs = self._pending
            self._pending = None
            self._seen = None
            self._contained("on_run", lambda: self.on_runs(runs))
            self.clock.work()
            self.clock.charge(self._paint_s, supporting=self.yields)  # its cleared plots
            return
        if not self.runs or not self.is_shown():
            return
        version = self.data_version()
        cursor = self.workspace.cursor.version
        if version == self._seen:
            if not self.reads_cursor and cursor != self._cursor_seen:
                self._cursor_seen = cursor
                self._contained("refresh", self.on_cursor)
            return
        if self._wait_for_room():
            return
        self._seen = version
        self._cursor_seen = cursor
        # A refresh that found nothing new to draw (it returns False) causes no paint.
        started = time.perf_counter()
        drew = self._contained("refresh", self.refresh) is not False
        self._refresh_s = time.perf_counter() - started
        if drew:
            self.clock.charge(self._paint_s, supporting=self.yields)

    def _wait_for_room(self) -> bool:
        """Whether this view gives the frame up (a supporting view, the frame full): it tries
        again on the next one, and takes one past the budget after a few (clock). When it
        takes the frame, its count of frames waited starts again."""
        if self.yields and self.clock.over_budget(self._cost_s) and \
                not self.clock.may_overrun(self._deferrals):
            self._deferrals += 1
            self.clock.waiting(self._deferrals)
            return True
        self._deferrals = 0
        return False

    def painted(self, seconds: float) -> None:
        """This view painted, in ``seconds``: the frames' budget counts it, and the clock
        closes its step-to-pixel sample."""
        self._paint_s = max(seconds, COST_DECAY * self._paint_s)
        self._cost_s = max(self._refresh_s + seconds, COST_DECAY * self._cost_s)
        self.clock.painted()

    def _contained(self, what: str, call: Callable[[], object]) -> object:
        """A view that cannot follow a run (a bug, or a run file the checks let through)
        says so in place, once, and tries again when the data changes; the other views and
        the app go on. Returns what ``call`` returned (None after a failure)."""
        try:
            result = call()
            if what == "on_run":
                self.recovered()
            return result
        except Exception as exc:  # one view's failure must not become a dialog per frame
            report_once(f"{type(self).__name__}.{what}", exc)
            self.failed(f"This view could not follow this run ({type(exc).__name__}); the "
                        "other views are unaffected. Details on the terminal.")
            return None

    def failed(self, text: str) -> None:
        """Show that this view failed (subclasses with a note show it there)."""
        self.setToolTip(text)

    def recovered(self) -> None:
        """A new run was taken in without an error: undo what ``failed`` showed."""

    def is_shown(self) -> bool:
        """Visible on screen: not in a hidden dock tab, not closed, window not minimised.
        (visibleRegion() would not do: children that cover a view empty its region.)"""
        return self.isVisible() and not self.window().isMinimized()

    def on_runs(self, runs: tuple[Run, ...]) -> None:
        if runs:
            self.on_run(runs[0])
        else:
            self.clear()

    def on_run(self, run: Run) -> None:
        raise NotImplementedError

    def clear(self) -> None:
        """No run to show (the one this view followed was removed)."""

    def refresh(self) -> bool | None:
        """Draw the runs' current state; False when nothing new was drawn (no paint comes)."""
        raise NotImplementedError


class PlotView(View):
    """A view holding one pyqtgraph plot, themed and with readable axes."""

    def __init__(self, workspace: Workspace, clock: FrameClock, position: int = 0,
                 parent: QWidget | None = None) -> None:
        super().__init__(workspace, clock, position, parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.setSpacing(2)
        self.note = QLabel("")
        self.note.setObjectName("viewNote")
        self.note.setWordWrap(True)
        self.note.hide()
        self._note_before_failure: str | None = None
        self.graphics = TimedGraphicsLayoutWidget(self.painted)
        layout.addWidget(self.graphics, 1)
        layout.addWidget(self.note)

    def add_plot(self, row: int = 0, col: int = 0, **kwargs) -> pg.PlotItem:
        plot = self.graphics.addPlot(row=row, col=col, **kwargs)
        style_plot(plot)
        return plot

    def show_note(self, text: str) -> None:
        self.note.setText(text)
        self.note.setVisible(bool(text))

    def failed(self, text: str) -> None:
        if self._note_before_failure is None:
            self._note_before_failure = self.note.text()
        if self.note.text() != text:
            self.show_note(text)

    def recovered(self) -> None:
        if self._note_before_failure is not None:
            self.show_note(self._note_before_failure)
            self._note_before_failure = None


class GuardedGraphicsLayoutWidget(pg.GraphicsLayoutWidget):
    """A pyqtgraph layout whose paint never raises (see qt/guard.py): a failure draws a
    note instead."""

    @guarded_paint_event
    def paintEvent(self, ev: QPaintEvent) -> None:
        super().paintEvent(ev)


class TimedGraphicsLayoutWidget(GuardedGraphicsLayoutWidget):
    """Tells its view when it has painted and how long that took (View.painted)."""

    def __init__(self, on_paint: Callable[[float], None]) -> None:
        super().__init__()
        self._on_paint = on_paint

    def paintEvent(self, ev: QPaintEvent) -> None:
        started = time.perf_counter()
        super().paintEvent(ev)
        self._on_paint(time.perf_counter() - started)


def style_plot(plot: pg.PlotItem) -> None:
    """Theme ``plot``: its axes now, and its whole scene (axes, grid, background, legends,
    text items, pens and brushes in palette colours, the heat LUT) again after every theme
    or text-size change (theme.register_plot)."""
    theme.register_plot(plot)
    plot.showGrid(x=True, y=True, alpha=0.15)
    plot.setMenuEnabled(True)
    plot.hideButtons()


def set_axis_label(plot: pg.PlotItem, side: str, text: str) -> None:
    """An axis label in the theme's size and colour (both follow theme changes)."""
    plot.setLabel(side, text, **theme.axis_label_style())


def step_axis_end(current: float, last_step: float, max_steps: int) -> float | None:
    """Where a step axis should end, or None to leave it. It grows in jumps of 25% (capped at
    the run's max steps), not every frame: every range change relays the axes out and costs a
    second paint, and a calm axis reads better."""
    last = max(float(last_step), 10.0)
    if current >= last and current <= max(4 * last, 10.0):
        return None
    return float(min(max(last * 1.25, 10.0), max(max_steps, last)))


def steady_range(current: tuple[float, float] | None, lo: float, hi: float,
                 grain: float) -> tuple[float, float] | None:
    """A value axis' new range, in whole ``grain``s, or None to leave ``current``: it moves
    only when the values leave it or fill less than a third of it. Each range change relays
    the plot out and redraws its axis and grid (~8 ms for one of the health view's plots)."""
    if not (np.isfinite(lo) and np.isfinite(hi)):
        return None
    span = max(hi - lo, grain)
    if current is not None and current[0] <= lo and hi <= current[1] \
            and current[1] - current[0] <= 3 * span:
        return None
    new_lo, new_hi = math.floor(lo / grain) * grain, math.ceil(hi / grain) * grain
    if new_hi <= new_lo:
        new_hi = new_lo + grain
    return (new_lo, new_hi)


def no_data_label(text: str) -> QLabel:
    label = QLabel(text)
    label.setAlignment(Qt.AlignmentFlag.AlignCenter)
    label.setWordWrap(True)
    label.setObjectName("viewNote")
    return label
