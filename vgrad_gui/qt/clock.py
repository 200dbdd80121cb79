"""FrameClock: the one timer that drives every view, and the step-to-pixel measurement.

Every view redraws on the clock's frames (a share of them each, see plots/base.View), never on
its own timer: several timers drift apart and paint the window several times per frame. The
session drains the worker on the same clock, connected first, so a frame always draws the
rows that arrived before it.
"""

from __future__ import annotations

import time
from collections import deque

from PySide6.QtCore import QObject, Qt, QTimer, Signal

FRAME_MS = 16
# With nothing to draw for QUIET_FRAMES frames (no rows, no cursor move, no view that
# refreshed), the clock slows to IDLE_MS: an idle window took ~6% of a core at 60 Hz. Whatever
# makes a view dirty, rows from the worker (a socket notifier, see session), a command, the
# timeline's replay, calls wake(), which brings back 60 Hz at once.
IDLE_MS = 100
QUIET_FRAMES = 30


# A frame's work (the views' refreshes, and the paints they will cause, as last measured)
# beyond which the views that yield wait for a later frame: the event loop must not stall.
FRAME_BUDGET_S = 0.014
# Nor does a view that yields start when the frame, with its own refresh and paint (as views
# measure them: a maximum that decays by COST_DECAY a paint), would pass FRAME_CAP_S: the 83 ms
# stalls of one run training live were the boundary's 20 ms paint and the health view's 33 ms
# refresh and paint in one frame. A view that costs that much alone waits for a frame of its
# own (MAX_DEFERRALS, below).
FRAME_CAP_S = 0.030
COST_DECAY = 0.9
# A view that has waited this many frames in a row may take a frame past its budget; but one
# view a frame (the one that has waited longest): two supporting views of four runs in one
# frame (the lines' 16 ms and the signal's 20, refresh and paint) were the 55-67 ms stalls.
MAX_DEFERRALS = 3


class FrameClock(QObject):
    frame = Signal(int)  # the frame's index
    # Then the views that yield (plots/base.View.yields), with what budget the frame has left.
    late = Signal(int)

    def __init__(self, parent: QObject | None = None, frame_ms: int = FRAME_MS) -> None:
        super().__init__(parent)
        self.ticks = 0
        self._frame_ms = frame_ms
        self._quiet = 0  # frames in a row with nothing drawn
        self._worked = False
        self._timer = QTimer(self)
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.setInterval(frame_ms)
        self._timer.timeout.connect(self._tick)
        # Step-to-pixel latency: when rows arrive, the time their oldest step was trained;
        # the first paint of a view after that closes the sample.
        self._unpainted_since: float | None = None
        self.latencies: deque[float] = deque(maxlen=2000)
        self.tick_costs: deque[float] = deque(maxlen=2000)  # seconds: drain + views' refresh
        self._tick_started = 0.0
        self._charged = 0.0  # paints this frame's refreshes will cause (estimated)
        self._in_tick = False
        self._supporting = False  # a supporting view (View.yields) has drawn in this frame
        self._longest_wait = 0  # the longest any view waited, last frame and this one
        self._waits = 0

    def start(self) -> None:
        self._timer.start()

    def stop(self) -> None:
        self._timer.stop()

    @property
    def active(self) -> bool:
        return self._timer.isActive()

    @property
    def idle(self) -> bool:
        """Ticking slowly: nothing has needed drawing for a while."""
        return self._timer.interval() != self._frame_ms

    def wake(self) -> None:
        """Something will need drawing: back to full rate now (cheap when already there)."""
        self._quiet = 0
        if self._timer.isActive() and self.idle:
            self._timer.start(self._frame_ms)

    def work(self) -> None:
        """This frame did something (events drained, a replay step): stay at full rate."""
        self._worked = True

    def _tick(self) -> None:
        started = self._tick_started = time.perf_counter()
        self._charged = 0.0
        self._supporting = False
        self._longest_wait, self._waits = self._waits, 0
        self._worked = False
        self.ticks += 1
        self._in_tick = True
        try:
            self.frame.emit(self.ticks)
            self.late.emit(self.ticks)
        finally:
            self._in_tick = False
        if self._worked:
            # Also when a slow tick found work (rows put into a run by other means than the
            # worker's pipe): full rate from the next frame.
            self.wake()
        else:
            self._quiet += 1
            if self._quiet == QUIET_FRAMES and self._timer.isActive():
                self._timer.setInterval(IDLE_MS)
        self.tick_costs.append(time.perf_counter() - started)

    def charge(self, seconds: float, supporting: bool = False) -> None:
        """A view refreshed and will paint: count its paint (as last measured) in this frame
        (``supporting``: a view that yields)."""
        self._charged += seconds
        self._worked = True
        self._supporting = self._supporting or supporting

    def over_budget(self, own: float = 0.0) -> bool:
        """Whether this frame's work so far, paints to come included, is past the budget, or
        would pass the cap with ``own`` seconds more (a view's refresh and paint; never
        outside a frame: a view driven by hand always takes its turn)."""
        if not self._in_tick:
            return False
        spent = time.perf_counter() - self._tick_started + self._charged
        return spent > FRAME_BUDGET_S or spent + own > FRAME_CAP_S

    def may_overrun(self, waited: int) -> bool:
        """Whether a view that has waited ``waited`` frames for budget may take this one
        past it: after MAX_DEFERRALS frames, if no other supporting view has drawn in this
        frame and none waited longer. One that may not says how long it has waited
        (``waiting``)."""
        if waited < MAX_DEFERRALS or self._supporting or waited < self._longest_wait:
            return False
        self._supporting = True
        return True

    def waiting(self, waited: int) -> None:
        """A view gave this frame up, having waited ``waited`` frames in a row so far."""
        self._waits = max(self._waits, waited)

    def data_arrived(self, trained_at: float) -> None:
        """Rows trained at ``trained_at`` (time.monotonic) are in a run: the next paint of a
        view that shows them closes a latency sample."""
        if self._unpainted_since is None:
            self._unpainted_since = trained_at

    def painted(self) -> None:
        """Called by a view after it painted."""
        since = self._unpainted_since
        if since is not None:
            self.latencies.append(time.monotonic() - since)
            self._unpainted_since = None
