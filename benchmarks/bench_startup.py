"""Start-up, against the least a user could expect.

1. Launch to first painted frame: ``python -m vgrad_gui`` (first launch, offscreen platform,
   its own VGRAD_REPORT_STARTUP report) against an empty PySide6 main window holding one
   pyqtgraph plot, shown the same way (maximised), reporting the first paint of the plot.
   Target: app / empty window <= 1.5.
2. ``vgrad-gui record --config CFG --steps 1`` wall time against a script that imports torch
   and trains one step of the same network (nn.Sequential, same data). Target: <= 1.2.

Both sides run as fresh processes, interleaved; medians over the runs.

    python benchmarks/bench_startup.py [--runs 7] [--quick]
"""

from __future__ import annotations

import argparse
import compileall
import statistics
import sys

from _common import (
    ROOT,
    TMP,
    bench_config,
    fresh_env,
    load_average,
    plain_command,
    spread,
    time_to_line,
    times_to_lines,
    verdict,
    wall_time,
    write_config,
    write_data,
)

EMPTY_WINDOW = """
import sys, time
from PySide6.QtCore import QEvent, QObject
from PySide6.QtWidgets import QApplication, QMainWindow
import pyqtgraph as pg

class FirstPaint(QObject):
    def eventFilter(self, obj, event):
        if event.type() == QEvent.Type.Paint:
            print(f"painted {time.monotonic():.6f}", flush=True)
            app.quit()
        return False

app = QApplication(sys.argv)
window = QMainWindow()
plot = pg.PlotWidget()
plot.plot([0, 1, 2], [0, 1, 0])
window.setCentralWidget(plot)
watcher = FirstPaint()
plot.viewport().installEventFilter(watcher)
window.setGeometry(app.primaryScreen().availableGeometry())
window.showMaximized()
app.exec()
"""

TARGET_PAINT = 1.5
TARGET_RECORD = 1.2


VIEWS_BUILT: list[float] = []  # launch to every dock view built (after the first paint)


def app_first_paint() -> float:
    def parse(line: str) -> float:
        return float(line.rsplit("monotonic ", 1)[1].rstrip(")\n "))

    (took, _), (views, _) = times_to_lines(
        [sys.executable, "-m", "vgrad_gui"],
        ["vgrad-gui: first frame painted", "vgrad-gui: every view built"],
        env=fresh_env(VGRAD_REPORT_STARTUP="1"), parse=parse, timeout=120)
    VIEWS_BUILT.append(views)
    return took


def empty_first_paint() -> float:
    path = TMP / "empty_window.py"
    path.write_text(EMPTY_WINDOW)
    took, _ = time_to_line([sys.executable, str(path)], "painted", timeout=120)
    return took


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--quick", action="store_true", help="2 runs of each (a smoke test)")
    args = parser.parse_args()
    if args.runs < 1:
        sys.exit("bench_startup: --runs must be at least 1")
    runs = 2 if args.quick else args.runs
    # The app as pip installs it, bytecode compiled (pip compiled PySide6, pyqtgraph and torch
    # on the other side). A checkout run under PYTHONDONTWRITEBYTECODE=1 (as on this project's
    # machines) would otherwise compile its ~70 modules again at every launch (~0.2 s).
    compileall.compile_dir(str(ROOT / "vgrad_gui"), quiet=1)
    config = bench_config(20, 32, steps=1)
    data, path = write_data(config), write_config(config)
    record = [sys.executable, "-m", "vgrad_gui", "record", "--config", path, "--steps", "1",
              "-q", "-o", str(TMP / "one.npz")]
    plain = plain_command(config, 1, 1, data)
    times: dict[str, list[float]] = {"app": [], "empty": [], "record": [], "plain": []}
    print(f"Start-up, {runs} interleaved runs each (shared CPUs, {load_average()})", flush=True)
    for r in range(runs):
        pairs = [("app", app_first_paint), ("empty", empty_first_paint)]
        steps = [("record", lambda: wall_time(record)), ("plain", lambda: wall_time(plain))]
        for name, fn in (pairs if r % 2 == 0 else pairs[::-1]) + \
                        (steps if r % 2 == 0 else steps[::-1]):
            times[name].append(fn())
    paint = [a / e for a, e in zip(times["app"], times["empty"], strict=True)]
    rec = [a / p for a, p in zip(times["record"], times["plain"], strict=True)]
    med_paint = statistics.median(times["app"]) / statistics.median(times["empty"])
    med_rec = statistics.median(times["record"]) / statistics.median(times["plain"])
    print(f"1. launch to first painted frame: app {spread(times['app'], '.2f')} s, "
          f"empty PySide6 window + one pyqtgraph plot {spread(times['empty'], '.2f')} s")
    print(f"   ratio of medians {med_paint:.2f} (paired runs {spread(paint, '.2f')})  "
          f"target <= {TARGET_PAINT}: {verdict(med_paint <= TARGET_PAINT)}")
    print(f"   (the app's seven dock views are built right after its first paint: every view "
          f"built {spread(VIEWS_BUILT, '.2f')} s after launch)")
    print(f"2. record --steps 1 (20x32 tanh): {spread(times['record'], '.2f')} s; "
          f"import torch + one step of the same nn.Sequential: {spread(times['plain'], '.2f')} s")
    print(f"   ratio of medians {med_rec:.2f} (paired runs {spread(rec, '.2f')})  "
          f"target <= {TARGET_RECORD}: {verdict(med_rec <= TARGET_RECORD)}")


if __name__ == "__main__":
    main()
