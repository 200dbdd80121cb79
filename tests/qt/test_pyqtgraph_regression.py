"""PySide6 6.12.0 on Python 3.11 drops a reference to None in every QObject.property() that
returns None; pyqtgraph's setData calls it, and after ~20k updates Python aborts with "Fatal
Python error: none_dealloc". The project pins PySide6 below 6.12; this keeps the pin honest."""

from __future__ import annotations

import subprocess
import sys

import pyqtgraph as pg
import PySide6

SCRIPT = """
import numpy as np, pyqtgraph as pg
from PySide6.QtWidgets import QApplication
app = QApplication([])
plot = pg.PlotWidget()
curve = plot.plot(pen='y')
item = pg.PlotCurveItem()
plot.addItem(item)
x = np.arange(50.0)
for i in range(40_000):
    curve.setData(x, np.sin(x + i))
    item.setData(x, np.cos(x + i), skipFiniteCheck=True)
print("survived", i + 1)
"""


def test_installed_pyside6_is_below_the_broken_release():
    major, minor = (int(p) for p in PySide6.__version__.split(".")[:2])
    assert (major, minor) < (6, 12), PySide6.__version__
    assert pg.__version__


def test_tens_of_thousands_of_setdata_calls_do_not_abort():
    done = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True,
                          timeout=300, env={"QT_QPA_PLATFORM": "offscreen",
                                            "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr[-2000:]
    assert "survived 40000" in done.stdout
