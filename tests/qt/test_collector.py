"""The cyclic garbage collector runs between events only (qt/collector.py): a collection
inside a paint freed a paint device being painted and crashed PySide6."""

from __future__ import annotations

import gc

from vgrad_gui.qt import collector


class _Cycle:
    def __init__(self) -> None:
        self.me = self


def test_the_app_collects_cycles_from_its_event_loop_not_at_allocation(app, qtbot):
    assert not gc.isenabled()
    found = app.findChildren(collector.Collector)
    assert len(found) == 1 and found[0].timer.isActive()
    assert collector.install(app) is found[0]  # once per application
    gc.collect()
    probe = _Cycle()
    alive = [probe]
    del probe
    for _ in range(gc.get_threshold()[0] * 3):  # far past the automatic threshold
        _Cycle()
    assert gc.get_count()[0] > gc.get_threshold()[0]  # nothing collected at allocation
    qtbot.waitUntil(lambda: gc.get_count()[0] < gc.get_threshold()[0], timeout=3000)
    assert alive[0].me is alive[0]  # what is still referenced stays
