"""Python's cyclic garbage collector runs only between events, in the GUI thread.

Left automatic, a collection starts at whatever allocation crosses its threshold: inside a
paint event, in the middle of wrapping a list of widgets, or in a background thread. If it
then frees a Qt object that sat in a reference cycle (a closed window's plot item, a
replaced image), Qt destroys a paint device that is being painted and PySide6 6.11 dies
with a segmentation fault. That happened in CI (while a theme switch wrapped every widget)
and in a test that painted a heatmap (``QPaintDevice: Cannot destroy paint device that is
being painted``). So the automatic collector is off, and a timer collects, generation by
generation as the automatic one would, from the event loop (pyqtgraph ships the same idea as
``GarbageCollector``). Reference counting frees everything else at once, as before.
"""

from __future__ import annotations

import gc

from PySide6.QtCore import QObject, QTimer

INTERVAL_MS = 250


class Collector(QObject):
    def __init__(self, parent: QObject, interval_ms: int = INTERVAL_MS) -> None:
        super().__init__(parent)
        self.threshold = gc.get_threshold()
        gc.disable()
        self.timer = QTimer(self)
        self.timer.timeout.connect(self.collect)
        self.timer.start(interval_ms)

    def collect(self) -> int:
        """Collect the generations whose counts passed their thresholds; the objects freed."""
        g0, g1, g2 = gc.get_count()
        t0, t1, t2 = self.threshold
        if g0 <= t0:
            return 0
        if g1 <= t1:
            return gc.collect(0)
        return gc.collect(2 if g2 > t2 else 1)


def install(parent: QObject) -> Collector:
    """Collect from ``parent``'s thread's event loop from now on (once per application)."""
    existing = parent.findChild(Collector)
    return existing if isinstance(existing, Collector) else Collector(parent)
