"""No exception escapes a paint, and an exception in a slot shows one message, not sixty a
second, while the app goes on. The scripts run in child processes: if a guard regressed, the
crash it prevents would otherwise end the whole test run."""

from __future__ import annotations

import os
import subprocess
import sys

PAINT = """
import pyqtgraph as pg
from vgrad_gui.qt.app import make_app
from vgrad_gui.qt import guard
from vgrad_gui.qt.plots.base import GuardedGraphicsLayoutWidget
from vgrad_gui.qt.text import PaintedText

app = make_app()
# A pyqtgraph item whose options disagree: 3 bars, 2 brushes (the old depth crash).
w = GuardedGraphicsLayoutWidget()
plot = w.addPlot()
bars = pg.BarGraphItem(x=[0, 1], height=[1, 2], width=0.8, brushes=[pg.mkBrush("r")] * 2)
plot.addItem(bars)
w.resize(300, 200)
w.show()
w.grab()
bars.setOpts(x=[0, 1, 2], height=[1, 2, 3])
for _ in range(20):
    w.grab()
    app.processEvents()
print("ITEM", guard.failures)

class Broken(PaintedText):  # a widget of ours whose paint raises
    def paintEvent(self, event):
        raise ZeroDivisionError("drawn by zero")

Broken.paintEvent = guard.guarded_paint_event(Broken.paintEvent)
b = Broken("x")
b.resize(200, 30)
b.show()
for _ in range(5):
    image = b.grab()
print("WIDGET", guard.failures)
del w, bars, b
print("ALIVE")
"""

SLOT = """
import tempfile
from PySide6.QtCore import QSettings, QTimer
from vgrad_gui.qt.app import make_app
from vgrad_gui.qt.main_window import MainWindow

app = make_app()
settings = QSettings(tempfile.mktemp(suffix=".ini"), QSettings.Format.IniFormat)
window = MainWindow(settings=settings)
window.show()
calls = []

def broken():
    calls.append(1)
    raise KeyError("a slot that fails on every frame")

timer = QTimer()
timer.timeout.connect(broken)
timer.start(10)

def look():
    watch.stop()
    timer.stop()
    r = window.errors
    print("CALLS", len(calls), "SHOWN", r.shown, "REPEATS", r.repeats,
          "VISIBLE", r.box is not None and r.box.isVisible())
    app.quit()

# Look once the failing slot has run 30 times (or after 20 s): the window's start-up can hold
# the event loop for over a second on a loaded machine, so a fixed 1.5 s saw as few as 8.
import time
deadline = time.monotonic() + 20
watch = QTimer()
watch.timeout.connect(lambda: (len(calls) >= 30 or time.monotonic() > deadline) and look())
watch.start(50)
app.exec()
watch.stop()
window.session.shutdown(0.5)
print("ALIVE")
"""


def run_child(script: str, tmp_path) -> subprocess.CompletedProcess:
    env = dict(os.environ, XDG_CONFIG_HOME=str(tmp_path / "c"), XDG_DATA_HOME=str(tmp_path / "d"))
    return subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=120, env=env, cwd=os.getcwd())


def test_a_failing_paint_is_caught_reported_once_and_the_app_lives(tmp_path):
    done = run_child(PAINT, tmp_path)
    assert done.returncode == 0, f"exit {done.returncode}:\n{done.stderr[-3000:]}"
    out = done.stdout
    assert "ALIVE" in out
    item = int(out.split("ITEM ")[1].split()[0])
    widget = int(out.split("WIDGET ")[1].split()[0])
    assert item >= 1 and widget == item + 5
    # Each failure is printed once, with its traceback, however often it repeats.
    assert done.stderr.count("painting BarGraphItem failed") == 1
    assert "IndexError" in done.stderr
    assert done.stderr.count("painting Broken failed") == 1


def test_an_exception_in_a_slot_shows_one_message_and_the_app_goes_on(tmp_path):
    done = run_child(SLOT, tmp_path)
    assert done.returncode == 0, f"exit {done.returncode}:\n{done.stderr[-3000:]}"
    out = done.stdout
    assert "ALIVE" in out
    calls = int(out.split("CALLS ")[1].split()[0])
    assert calls > 20  # the timer went on firing: the process was not stopped
    assert "SHOWN 1 " in out and "VISIBLE True" in out
    assert int(out.split("REPEATS ")[1].split()[0]) == calls - 1
    assert "KeyError" in done.stderr  # the traceback still reaches the terminal
