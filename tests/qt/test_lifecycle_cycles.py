"""A bounded lifecycle, as a lecturer would drive it, repeated: start, pause, change the depth,
step, reset, open a saved run, train afresh, and a training process killed mid-run (its steps
must survive, autosaved). Threads, file descriptors and child processes stay flat."""

from __future__ import annotations

import os
import signal
import threading
from pathlib import Path

from tests.qt.conftest import SMALL, new_window
from tests.qt.helpers import check_per_layer_state, draw_every_view, views_follow
from tests.qt.test_lifecycle import children_of
from vgrad_gui.core.runfile import load_run

CYCLES = 3


def counts() -> tuple[int, int, int, int]:
    live_children = [p for p in children_of(os.getpid())
                     if "Z" not in Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1][:3]]
    return (threading.active_count(), len(os.listdir("/proc/self/task")),
            len(os.listdir("/proc/self/fd")), len(live_children))


def one_cycle(qtbot, window, depth: int, run_path: str) -> None:
    s = window.session
    window.start_training()
    qtbot.waitUntil(lambda: s.state == "running" and s.run.history.step > 20, timeout=30_000)
    window.toggle_training()
    qtbot.waitUntil(lambda: s.state == "paused", timeout=10_000)
    window.builder.editors["depth"].setValue(depth)
    qtbot.waitUntil(lambda: s.state == "ready" and s.run.history.n_layers == depth + 1,
                    timeout=30_000)
    window.step_once()
    qtbot.waitUntil(lambda: s.run.history.step == 1, timeout=10_000)
    old = s.run.history
    window.reset_training()
    qtbot.waitUntil(lambda: s.state == "ready" and s.run.history is not old, timeout=30_000)
    window.open_run(run_path)
    qtbot.waitUntil(lambda: s.state == "viewing", timeout=20_000)
    qtbot.waitUntil(lambda: views_follow(window), timeout=10_000)
    draw_every_view(window, qtbot)
    check_per_layer_state(window)
    # Start trains the viewed config afresh; then the training process is killed.
    window.start_training()
    qtbot.waitUntil(lambda: s.run is not None and s.run.live
                    and s.run.history.step > 30, timeout=30_000)
    history = s.run.history
    os.kill(s.worker.process.pid, signal.SIGKILL)
    qtbot.waitUntil(lambda: s.state == "stopped", timeout=10_000)
    assert s.run.history is history  # the steps stay on screen
    saved = s.run.saved_to
    assert saved is not None and load_run(saved).step == history.step
    qtbot.waitUntil(lambda: s.worker_info is not None, timeout=60_000)
    window.last_message.close()
    window.builder.set_config(SMALL.replace(steps=10**6))  # back to the start for the next
    qtbot.waitUntil(lambda: s.state == "ready", timeout=30_000)


def test_repeated_lifecycle_keeps_every_run_and_leaks_nothing(app, qtbot, tmp_path,
                                                              saved_runs):
    window = new_window(app, tmp_path, SMALL.replace(steps=10**6))
    runs = list(saved_runs.values())
    try:
        one_cycle(qtbot, window, 9, runs[0])  # warm-up: first use starts lazily made things
        qtbot.wait(500)
        before = counts()
        for i in range(1, CYCLES):
            one_cycle(qtbot, window, 3 + 7 * i, runs[i % len(runs)])
        qtbot.wait(500)
        after = counts()
    finally:
        window.close()
    assert after[0] <= before[0] and after[1] <= before[1], (before, after)  # threads
    assert after[2] <= before[2] + 2, (before, after)  # file descriptors
    assert after[3] <= before[3], (before, after)  # child processes
