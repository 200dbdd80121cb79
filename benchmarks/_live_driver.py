"""Runs the desktop app exactly as ``vgrad-gui --config CFG --autostart`` does, and reports
when rows reach the window: ``first-row <monotonic> <step>`` when the first step is in the
window's history, ``reached <monotonic> <step>`` when step N is, then closes the window.

    python benchmarks/_live_driver.py CFG.json N

The only change to the app is a subclass of MainWindow that listens to the frame clock;
the reports go to stdout, flushed, for the parent benchmark to time.
"""

from __future__ import annotations

import sys
import time

import vgrad_gui.qt.app as app_module
from vgrad_gui.cli import main

Base = app_module.MainWindow


class ReportingWindow(Base):  # type: ignore[misc,valid-type]
    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self._first_reported = False
        self._done = False
        self.target = int(sys.argv[2])
        self.clock.frame.connect(self._report)

    def _report(self, _index: int) -> None:
        run = self.session.run
        if self._done or run is None or not run.live:
            return
        step = run.step
        if step > 0 and not self._first_reported:
            self._first_reported = True
            print(f"first-row {time.monotonic():.6f} {step}", flush=True)
        if step >= self.target:
            self._done = True
            print(f"reached {time.monotonic():.6f} {step}", flush=True)
            self.close()


if __name__ == "__main__":  # the worker process (spawned) imports this module too
    app_module.MainWindow = ReportingWindow  # type: ignore[misc]
    sys.exit(main(["--config", sys.argv[1], "--autostart"]))
