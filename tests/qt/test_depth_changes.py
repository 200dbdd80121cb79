"""The depth of a window that has drawn every view changes up and down, and runs of other
depths open one after another: no crash, and every view's per-layer state follows.

(The crash this guards against: n new bars with the brushes of a shallower run made pyqtgraph
raise inside a paint, and PySide6 6.11 died of a segmentation fault. The last test repeats
the sequence in a child process, so that a regression fails a test instead of ending the
test run.)"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys

from tests.qt.conftest import SMALL, configure
from tests.qt.helpers import (
    check_per_layer_state,
    draw_every_view,
    paint_failures,
    views_follow,
)

DEPTHS = (11, 20, 50, 200, 3, 30, 1, 12)


def set_depth(app, qtbot, window, depth: int) -> None:
    before = window.session.run_id
    window.builder.editors["depth"].setValue(depth)
    qtbot.waitUntil(lambda: window.session.run_id != before and window.session.run is not None
                    and window.session.run.history.n_layers == depth + 1, timeout=60_000)
    qtbot.waitUntil(lambda: views_follow(window), timeout=10_000)


def test_depth_up_and_down_while_paused_and_after_training(app, qtbot, window):
    configure(app, window, SMALL.replace(depth=10, width=6, steps=100_000))
    failures = paint_failures()
    draw_every_view(window, qtbot)
    for i, depth in enumerate(DEPTHS):
        set_depth(app, qtbot, window, depth)
        if i % 2:  # every other depth: train some steps first, then change it
            window.session.step(7)
            qtbot.waitUntil(lambda: window.session.run.history.step == 7, timeout=30_000)
            qtbot.wait(150)  # a few frames: the views draw the steps
        draw_every_view(window, qtbot)
        check_per_layer_state(window)
    assert paint_failures() == failures, "a paint raised (see the terminal)"
    assert window.isVisible()


def test_depth_changes_while_training(app, qtbot, window):
    configure(app, window, SMALL.replace(depth=4, width=6, steps=100_000))
    draw_every_view(window, qtbot)
    failures = paint_failures()
    for depth in (9, 33, 2):
        window.start_training()
        qtbot.waitUntil(lambda: window.session.run.history.step > 3, timeout=30_000)
        set_depth(app, qtbot, window, depth)
        draw_every_view(window, qtbot)
        check_per_layer_state(window)
    assert paint_failures() == failures


def test_runs_of_different_depths_open_one_after_another(app, qtbot, window, saved_runs):
    draw_every_view(window, qtbot)
    failures = paint_failures()
    for depth, path in list(saved_runs.items()) * 2:
        window.open_run(path)
        qtbot.waitUntil(lambda depth=depth: window.session.state == "viewing"
                        and window.session.run.history.n_layers == depth + 1,
                        timeout=20_000)
        qtbot.waitUntil(lambda: views_follow(window), timeout=10_000)
        draw_every_view(window, qtbot)
        check_per_layer_state(window)
    assert paint_failures() == failures


CHILD = """
import sys
from PySide6.QtWidgets import QApplication
from tests.qt.conftest import SMALL, new_window
from tests.qt.helpers import draw_every_view, check_per_layer_state, views_follow
from vgrad_gui.qt.app import make_app
import pathlib, tempfile, time

class Bot:  # the little of qtbot the helpers use
    def wait(self, ms):
        end = time.monotonic() + ms / 1000
        while time.monotonic() < end:
            app.processEvents()

def until(cond, timeout=60):
    end = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > end:
            raise SystemExit("timed out")
        app.processEvents()
        time.sleep(0.005)

app = make_app()
window = new_window(app, pathlib.Path(tempfile.mkdtemp()), SMALL.replace(depth=10, width=6))
bot = Bot()
draw_every_view(window, bot)
for depth in (11, 20, 200, 3, 50):
    window.session.step(5)
    until(lambda: window.session.run.history.step == 5)
    bot.wait(100)
    draw_every_view(window, bot)
    window.builder.editors["depth"].setValue(depth)
    until(lambda: window.session.run is not None
          and window.session.run.history.n_layers == depth + 1)
    until(lambda: views_follow(window))
    draw_every_view(window, bot)
    check_per_layer_state(window)
window.close()
print("ALIVE")
"""


def test_a_child_process_survives_the_depth_changes(tmp_path):
    env = dict(os.environ, XDG_CONFIG_HOME=str(tmp_path / "c"), XDG_DATA_HOME=str(tmp_path / "d"))
    done = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True,
                          timeout=240, env=env, cwd=os.getcwd())
    assert done.returncode == 0, f"exit {done.returncode}:\n{done.stderr[-3000:]}"
    assert "ALIVE" in done.stdout
    assert "Traceback" not in done.stderr, done.stderr[-3000:]


def test_impossible_histories_never_crash_the_views(app, qtbot, window):
    """Runs the file checks should refuse (reverse, negative or repeated steps, NaN and
    negative values), shown anyway: each view draws or says it cannot; the app goes on."""
    import numpy as np

    from vgrad_gui.core.history import RunHistory

    config = SMALL.replace(depth=4)
    names = [f"hidden {i + 1}" for i in range(4)] + ["output"]
    rng = np.random.default_rng(1)
    cases = {
        "reverse": np.arange(40, 0, -1),
        "negative": np.arange(-20, 20),
        "repeated": np.repeat(np.arange(1, 21), 2),
        "huge": np.array([1, 10**12]),
    }
    draw_every_view(window, qtbot)
    for name, steps in cases.items():
        history = RunHistory(config, names, "saturated")
        for table in ("steps", "probes", "evals"):
            width = sum(w for _, w in history.layouts[table])
            rows = rng.normal(0, 1, (len(steps), width)).astype(np.float32)
            rows[::3] = np.nan
            # A history that refuses such rows is fine too.
            with contextlib.suppress(Exception):
                history.extend(table, steps, rows)
        window.show_run(history, f"/nowhere/{name}.npz")
        qtbot.waitUntil(lambda: views_follow(window), timeout=10_000)
        draw_every_view(window, qtbot)
        qtbot.wait(100)
        draw_every_view(window, qtbot)
    assert window.isVisible() and window.errors.shown == 0
