"""Instruments for the in-process GUI benchmarks: painted frames of one view, step-to-pixel
latency closed by that view's paint, and a 5 ms heartbeat for event-loop stalls.

They attach from outside through public objects (the view's QGraphicsView viewports, or the
view itself when it paints itself, like the network diagram; the session's worker client and
the view's ``refresh``), so the app needs no benchmark code.
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np
from PySide6.QtCore import QEvent, QEventLoop, QObject, QTimer
from PySide6.QtWidgets import QApplication, QGraphicsView, QWidget


class Heartbeat:
    """A 5 ms timer; the longest gap between its ticks, beyond 5 ms, is the worst stall.

    It also keeps the GUI thread's CPU time in each gap: on a loaded machine a long gap may be
    the scheduler running other processes, and the CPU time says how much of it was this
    thread's own work (``worst_cpu_stall``)."""

    def __init__(self) -> None:
        self.timer = QTimer()
        self.timer.setInterval(5)
        self.timer.timeout.connect(self._tick)
        self.last = time.monotonic()
        self.gaps: list[float] = []
        self.ends: list[float] = []  # time.monotonic() at the end of each gap
        self.cpu: list[float] = []  # the GUI thread's CPU seconds in each gap
        self.last_cpu = time.thread_time()

    def start(self) -> None:
        self.last, self.last_cpu = time.monotonic(), time.thread_time()
        self.gaps = []
        self.ends = []
        self.cpu = []
        self.timer.start()

    def stop(self) -> None:
        self.timer.stop()

    def _tick(self) -> None:
        now, cpu = time.monotonic(), time.thread_time()
        self.gaps.append(now - self.last)
        self.ends.append(now)
        self.cpu.append(cpu - self.last_cpu)
        self.last, self.last_cpu = now, cpu

    def worst_stall(self, since: float = -math.inf, until: float = math.inf) -> float:
        """The longest stall, of those that ended between ``since`` and ``until``."""
        gaps = [g for g, end in zip(self.gaps, self.ends, strict=True) if since < end <= until]
        return max(0.0, max(gaps, default=0.0) - 0.005)

    def worst_cpu_stall(self) -> float:
        """The most CPU time the GUI thread spent between two ticks (its own longest
        stretch of work without returning to the event loop, whatever the machine's load)."""
        return max(self.cpu, default=0.0)


class PaintedFrames(QObject):
    """Counts the paint events of a view's plot (its QGraphicsView viewports; a view without
    one paints itself, like the network diagram, or through its child widgets, like the
    banner's painted text: their paint events) and closes step-to-pixel latency samples with
    them. It also sums the GUI thread's CPU time (``time.thread_time``: what the view costs,
    whatever else the machine runs) in the view's paints and in its ``refresh``.

    A sample opens when rows arrive from the worker (their ``oldest_done`` time), is handed to
    the view when its ``refresh`` next runs (the refresh that draws those rows), and closes at
    the end of the first paint of the view after that refresh. Paints of other views, or of
    this view before it has drawn the new rows, do not close it.
    """

    def __init__(self, view: QWidget, session: Any = None) -> None:
        super().__init__()
        self.view = view
        self.count = 0
        self.paint_ends: list[float] = []
        self.latencies: list[float] = []
        self.shown_at: list[float] = []  # paint ends that showed new rows
        self._arrived: float | None = None  # oldest unrefreshed rows' training time
        self._drawn: float | None = None  # refreshed, waiting for the paint
        self._painting = False
        self.paint_cpu = self.refresh_cpu = 0.0
        self.refreshes = 0
        self.viewports: list[QWidget] = [g.viewport() for g in view.findChildren(QGraphicsView)]
        if isinstance(view, QGraphicsView):
            self.viewports.append(view.viewport())
        if not self.viewports:
            self.viewports = [view, *view.findChildren(QWidget)]
        for vp in self.viewports:
            vp.installEventFilter(self)
        refresh = view.refresh  # type: ignore[attr-defined]

        def counted_refresh() -> None:
            if self._arrived is not None:
                if self._drawn is None:
                    self._drawn = self._arrived
                self._arrived = None
            started = time.thread_time()
            try:
                refresh()
            finally:
                self.refresh_cpu += time.thread_time() - started
                self.refreshes += 1

        view.refresh = counted_refresh  # type: ignore[attr-defined]
        self._refresh = refresh
        if session is not None:
            self.watch_worker(session)

    def watch_worker(self, session: Any) -> None:
        """Wrap the session's worker client's ``poll`` to see when rows arrive."""
        from vgrad_gui.core import worker as w

        client = session.worker
        poll = client.poll

        def watched_poll(*args: Any, **kwargs: Any) -> list[Any]:
            events = poll(*args, **kwargs)
            for ev in events:
                if isinstance(ev, w.Rows) and self._arrived is None:
                    self._arrived = float(ev.oldest_done)
            return events

        client.poll = watched_poll

    def detach(self) -> None:
        """Stop counting (the view stays): a later PaintedFrames may watch it afresh."""
        for vp in self.viewports:
            vp.removeEventFilter(self)
        self.view.refresh = self._refresh  # type: ignore[attr-defined]

    def rows_arrived(self, oldest_done: float) -> None:
        """For benchmarks that feed rows themselves."""
        if self._arrived is None:
            self._arrived = oldest_done

    def reset(self) -> None:
        self.count = 0
        self.paint_ends.clear()
        self.latencies.clear()
        self.shown_at.clear()
        self._arrived = self._drawn = None
        self.paint_cpu = self.refresh_cpu = 0.0
        self.refreshes = 0

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:
        if event.type() != QEvent.Type.Paint or self._painting:
            return False
        # Paint now, through the view's own handler, to time the end of the paint.
        view = obj.parent()
        self._painting = True
        started = time.thread_time()
        try:
            if isinstance(view, QGraphicsView):  # obj is its viewport
                view.viewportEvent(event)
            elif isinstance(obj, QWidget):
                obj.event(event)  # a widget that paints itself (no event filters on this path)
            else:
                return False
        finally:
            self._painting = False
            self.paint_cpu += time.thread_time() - started
        now = time.monotonic()
        self.count += 1
        self.paint_ends.append(now)
        if self._drawn is not None:
            self.latencies.append(now - self._drawn)
            self.shown_at.append(now)
            self._drawn = None
        return True


def show_every_view(window: Any) -> None:
    """Every dock of ``window`` (a MainWindow) on screen: side by side, the health dock
    floating (it is tabbed behind the flow bars by default)."""
    window.default_layout(small=False)
    health = window.docks["health"]
    health.setFloating(True)
    health.resize(900, 300)
    health.show()


def ms(values: list[float], q: float, digits: int = 1) -> str:
    """The ``q``-th percentile of ``values`` (seconds) in milliseconds, or n/a."""
    return f"{np.percentile(values, q) * 1000:.{digits}f}" if values else "n/a"


def view_costs(costs: dict[str, tuple[int, float, int, float]], took: float,
               words: bool = True) -> str:
    """Each view's GUI-thread CPU, costliest first, in ms per second of ``took``: ``costs``
    holds (paints, paint CPU s, refreshes, refresh CPU s) by view; with ``words``, "paints x"
    and "refreshes x" name the two counts."""
    ranked = sorted(costs.items(), key=lambda kv: -(kv[1][1] + kv[1][3]))
    paints, refreshes, unit = ("paints x ", "refreshes x ", " ms") if words else ("x ", "x ", "")
    return "; ".join(
        f"{k} {(pc + rc) / took * 1000:.0f} ({c / took:.0f} {paints}"
        f"{pc / max(c, 1) * 1000:.1f}{unit}, {rn / took:.0f} {refreshes}"
        f"{rc / max(rn, 1) * 1000:.1f}{unit})" for k, (c, pc, rn, rc) in ranked)


def spin(app: QApplication, seconds: float, until: Any = None) -> None:
    """Run the event loop, as the app's own ``exec()`` does, for ``seconds`` or until
    ``until()`` is true (checked every 5 ms). A loop of ``processEvents()`` calls would wake
    the GUI thread every millisecond and take CPU from the worker that a user's window does
    not take."""
    deadline = time.monotonic() + seconds
    if until is not None and until():
        return
    loop = QEventLoop()

    def check() -> None:
        if time.monotonic() >= deadline or (until is not None and until()):
            loop.quit()

    timer = QTimer()
    timer.setInterval(5)
    timer.timeout.connect(check)
    timer.start()
    loop.exec()
    timer.stop()
