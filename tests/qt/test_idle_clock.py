"""The frame clock slows down when nothing needs drawing (an idle window took ~6% of a core at
60 Hz) and is back at full rate the moment something does: rows from the worker, a view made
dirty, a replay."""

from __future__ import annotations

import time

from vgrad_gui.qt.clock import FRAME_MS, IDLE_MS, QUIET_FRAMES, FrameClock


def test_quiet_frames_slow_the_clock_and_work_or_a_wake_restores_it(qtbot):
    clock = FrameClock()
    clock.start()
    for _ in range(QUIET_FRAMES - 1):
        clock._tick()
    assert not clock.idle
    clock._tick()
    assert clock.idle and clock._timer.interval() == IDLE_MS and clock.active
    clock.wake()
    assert not clock.idle and clock._timer.interval() == FRAME_MS
    for _ in range(QUIET_FRAMES):
        clock._tick()
    assert clock.idle
    # Work found by a slow tick (rows put into a run without the worker's pipe, as a user's
    # own training loop would) brings full rate back too.
    clock.frame.connect(clock.work)
    clock._tick()
    assert not clock.idle
    clock.frame.disconnect(clock.work)
    # A frame that drew something (a view's refresh charges its paint) keeps full rate.
    clock.frame.connect(lambda _: clock.charge(0.001))
    for _ in range(3 * QUIET_FRAMES):
        clock._tick()
    assert not clock.idle
    clock.stop()


def test_an_idle_window_draws_the_workers_rows_at_full_rate_at_once(app, qtbot, window):
    session = window.session
    qtbot.waitUntil(lambda: session.state in ("ready", "paused", "finished"), timeout=60_000)
    qtbot.waitUntil(lambda: window.clock.idle, timeout=10_000)
    ticks = window.clock.ticks
    qtbot.wait(600)  # ~6 slow ticks, where full rate would be ~36
    assert window.clock.ticks - ticks <= 15
    woken: list[float] = []
    session._notifier.activated.connect(lambda *_: woken.append(time.monotonic()))
    before = session.run.step
    session.step(1)
    # The worker's reply wakes the clock through the events pipe, not the next slow tick.
    qtbot.waitUntil(lambda: session.run.step == before + 1, timeout=30_000)
    assert woken and not window.clock.idle
    qtbot.waitUntil(lambda: window.clock.idle, timeout=10_000)  # and it settles again


def test_a_view_made_dirty_wakes_the_clock(app, qtbot, window):
    qtbot.waitUntil(lambda: window.clock.idle, timeout=10_000)
    window.views["heatmap"].mark_dirty()
    assert not window.clock.idle
