"""The desktop app's figures, measured offscreen (Qt's raster engine does the real drawing).

1. Training speed with the window drawing live, against the same training with no GUI
   (depth 20 x width 32 tanh, CPU): the headless loop of ``vgrad-gui record`` (probe and
   history, no window) in its own process, and a plain PyTorch loop (no probe), each measured
   between live-window phases so drift hits all alike. Target: live/headless >= 0.85.
2. Step-to-pixel latency of that live run: from the moment a step finished in the worker to the
   first paint of a view that shows it. Target: p95 <= 50 ms.
3. Frame rate with 50 layers and 100,000 steps of history while rows stream in (fed at the rate
   a worker would send them), every view visible, and the longest stall of the event loop
   (a 5 ms heartbeat timer), also over a run that grows to 1,000,000 steps.
   Targets: >= 30 fps, no stall over 50 ms.
4. Start-up: launch to first painted frame of ``python -m vgrad_gui`` (median of 5), the worker
   ready in the background, and Start-to-first-row with a warm worker.

    python benchmarks/bench_gui.py [--seconds 8]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
_tmp = tempfile.mkdtemp(prefix="vgrad-bench-")
os.environ["XDG_CONFIG_HOME"] = os.path.join(_tmp, "config")
os.environ["XDG_DATA_HOME"] = os.path.join(_tmp, "data")

import numpy as np  # noqa: E402
from PySide6.QtCore import QTimer  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from vgrad_gui.core import worker as w  # noqa: E402
from vgrad_gui.core.history import RunHistory  # noqa: E402
from vgrad_gui.core.records import row_width  # noqa: E402
from vgrad_gui.core.spec import Config  # noqa: E402
from vgrad_gui.qt.app import make_app  # noqa: E402
from vgrad_gui.qt.main_window import MainWindow  # noqa: E402

LIVE = Config(depth=20, width=32, activation="tanh", init="xavier_uniform", lr=0.01,
              steps=10**8, device="cpu")

HEADLESS = """
import sys, time, torch
from vgrad_gui.core.spec import Config
from vgrad_gui.core.trainer import Trainer, threads_for
from vgrad_gui.core.history import RunHistory
from vgrad_gui.core.builder import build_model
from vgrad_gui.core.trainer import make_optimizer
import torch.nn.functional as F
cfg = Config.from_dict(__import__('json').loads(sys.argv[1]))
seconds = float(sys.argv[2]); mode = sys.argv[3]
torch.set_num_threads(threads_for(cfg))
t = Trainer(cfg)
if mode == 'headless':
    h = RunHistory(cfg, t.layer_names, t.probe.inactive_kind)
    step = lambda: h.append(t.run_block(4))
    count = lambda: h.step
else:
    m = build_model(cfg, t.data.input_dim, t.data.n_classes)
    opt = make_optimizer(cfg, list(m.parameters()))
    n = [0]
    def step():
        for _ in range(4):
            idx = t._next_batch()
            loss = F.cross_entropy(m(t.x_train[idx]), t.y_train[idx])
            opt.zero_grad(set_to_none=True); loss.backward(); opt.step(); n[0] += 1
    count = lambda: n[0]
for _ in range(20): step()
start, first = time.perf_counter(), count()
while time.perf_counter() - start < seconds: step()
print((count() - first) / (time.perf_counter() - start))
"""


def headless_rate(config: Config, seconds: float, mode: str) -> float:
    out = subprocess.run([sys.executable, "-c", HEADLESS, config.to_json(), str(seconds), mode],
                         capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


class Heartbeat:
    """A 5 ms timer; the longest gap between its ticks, beyond 5 ms, is the worst stall."""

    def __init__(self) -> None:
        self.timer = QTimer()
        self.timer.setInterval(5)
        self.timer.timeout.connect(self._tick)
        self.last = time.monotonic()
        self.gaps: list[float] = []

    def start(self) -> None:
        self.last = time.monotonic()
        self.gaps = []
        self.timer.start()

    def stop(self) -> None:
        self.timer.stop()

    def _tick(self) -> None:
        now = time.monotonic()
        self.gaps.append(now - self.last)
        self.last = now

    def worst_stall(self) -> float:
        return max(0.0, max(self.gaps, default=0.0) - 0.005)


def spin(app: QApplication, seconds: float, until=None) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and not (until and until()):
        app.processEvents()
        time.sleep(0.001)


def show_every_view(window: MainWindow) -> None:
    window.default_layout(small=False)
    health = window.docks["health"]
    health.setFloating(True)
    health.resize(900, 300)
    health.show()


def live_phase(app: QApplication, window: MainWindow, seconds: float) -> tuple[float, list]:
    window.session.reset()
    spin(app, 30, lambda: window.session.state == "ready")
    window.session.latencies.clear()
    window.start_training()
    spin(app, 3)  # warm up
    h = window.session.info.history
    s0, t0 = h.step, time.monotonic()
    spin(app, seconds)
    rate = (h.step - s0) / (time.monotonic() - t0)
    window.session.pause()
    spin(app, 1, lambda: window.session.state == "paused")
    return rate, list(window.session.latencies)


def measure_live(app: QApplication, seconds: float) -> None:
    window = MainWindow(config=LIVE)
    window.resize(1920, 1080)
    window.show()
    show_every_view(window)
    window.start_worker()
    spin(app, 60, lambda: window.session.state == "ready")
    beat = Heartbeat()
    lives, heads, plains, lat, stalls = [], [], [], [], []
    for _ in range(3):
        beat.start()  # only while the window is live: the headless runs block this process
        rate, lats = live_phase(app, window, seconds)
        beat.stop()
        stalls.append(beat.worst_stall())
        lives.append(rate)
        lat += lats
        heads.append(headless_rate(LIVE, seconds, "headless"))
        plains.append(headless_rate(LIVE, seconds, "plain"))
    live, head, plain = (statistics.median(x) for x in (lives, heads, plains))
    p50, p95 = np.percentile(np.array(lat) * 1000, [50, 95]) if lat else (float("nan"),) * 2
    print(f"1. training speed, depth 20 x width 32 tanh: live window {live:.0f} steps/s, "
          f"headless (probe + history, no GUI) {head:.0f}, plain PyTorch {plain:.0f}")
    print(f"   ratio live/headless {live / head:.2f} (target >= 0.85); live/plain "
          f"{live / plain:.2f}")
    print(f"2. step-to-pixel latency over {len(lat)} frames: p50 {p50:.1f} ms, p95 {p95:.1f} ms "
          "(target p95 <= 50 ms)")
    print(f"   event loop's longest stall during live training: "
          f"{max(stalls) * 1000:.1f} ms")
    window.close()


def measure_frames(app: QApplication, seconds: float) -> None:
    depth = 49  # 50 Linear layers
    cfg = Config(depth=depth, width=16, activation="sigmoid", steps=10**8)
    names = [f"hidden {i}" for i in range(1, depth + 1)] + ["output"]
    history = RunHistory(cfg, names, "saturated")
    n = len(names)
    rng = np.random.default_rng(0)
    base = np.log10(np.logspace(-9, 0, n))

    def rows(first: int, k: int) -> tuple[np.ndarray, np.ndarray]:
        width = row_width("steps", n)
        block = np.empty((k, width), np.float32)
        block[:, :n] = 10 ** (base + rng.normal(0, 0.2, (k, n)))
        block[:, n : 2 * n] = block[:, :n] * 0.3
        block[:, -2] = 0.69 + rng.normal(0, 0.01, k)
        block[:, -1] = 0.5
        return np.arange(first, first + k), block

    steps, block = rows(1, 100_000)
    history.extend("steps", steps, block)
    pw = row_width("probes", n)
    history.extend("probes", np.arange(100, 100_001, 100),
                   rng.random((1000, pw)).astype(np.float32))
    history.extend("evals", np.arange(100, 100_001, 100),
                   rng.random((1000, 2)).astype(np.float32))
    window = MainWindow(config=cfg)
    window.resize(1920, 1080)
    window.show()
    show_every_view(window)
    window.session.view_history(history, "synthetic")
    window.session.info.source = "live"  # draw it as a live run
    spin(app, 2)
    session = window.session
    refreshes = {"count": 0}
    original = window.views["heatmap"].refresh

    def counted() -> None:
        refreshes["count"] += 1
        original()

    window.views["heatmap"].refresh = counted  # type: ignore[method-assign]
    frame_cost = session.tick_costs
    state = {"step": 100_001}

    def feed() -> None:
        # What a worker at 600 steps/s sends in 16 ms; the session's own frame loop draws it.
        s, b = rows(state["step"], 10)
        state["step"] += 10
        session._handle(w.Rows(session.run_id, s, b, np.empty(0, np.int64),
                               np.empty((0, pw), np.float32), np.empty(0, np.int64),
                               np.empty((0, 2), np.float32), time.monotonic(),
                               time.monotonic(), 600.0))
        session.version += 1

    feeder = QTimer()
    feeder.setInterval(16)
    feeder.timeout.connect(feed)
    beat = Heartbeat()
    beat.start()
    feeder.start()
    spin(app, 1)
    refreshes["count"] = 0
    t0 = time.monotonic()
    frame_cost.clear()
    spin(app, seconds)
    fps = refreshes["count"] / (time.monotonic() - t0)
    feeder.stop()
    beat.stop()
    print(f"3. 50 layers, 100,000 steps of history, rows streaming in, all views shown: "
          f"heatmap {fps:.0f} fps (target >= 30); frame work (drain + refresh) p50 "
          f"{np.median(frame_cost) * 1000:.1f} ms, p95 "
          f"{np.percentile(frame_cost, 95) * 1000:.1f} ms; longest stall "
          f"{beat.worst_stall() * 1000:.1f} ms (target <= 50)")
    # A long run: jump the history to a million steps in big appends, drawing as it goes.
    costs = []
    while state["step"] < 1_000_000:
        s, b = rows(state["step"], 20_000)
        state["step"] += 20_000
        history.extend("steps", s, b)
        session.version += 1
        t0 = time.perf_counter()
        spin(app, 0.05)
        costs.append(time.perf_counter() - t0)
    spin(app, 1)
    beat.start()
    feeder.start()
    refreshes["count"] = 0
    frame_cost.clear()
    t0 = time.monotonic()
    spin(app, seconds / 2)
    fps_1m = refreshes["count"] / (time.monotonic() - t0)
    feeder.stop()
    beat.stop()
    print(f"   at 1,000,000 steps: {fps_1m:.0f} fps, frame work p50 "
          f"{np.median(frame_cost) * 1000:.1f} ms, longest stall "
          f"{beat.worst_stall() * 1000:.1f} ms; history {history.nbytes() / 2**20:.1f} MB")
    window.close()


def measure_startup(runs: int = 5) -> None:
    times = []
    for _ in range(runs):
        env = dict(os.environ, VGRAD_REPORT_STARTUP="1")
        launched = time.monotonic()
        proc = subprocess.Popen([sys.executable, "-m", "vgrad_gui"], env=env,
                                stderr=subprocess.PIPE, text=True)
        assert proc.stderr is not None
        painted = None
        for line in proc.stderr:
            if "first frame painted" in line:
                painted = float(line.rsplit("monotonic ", 1)[1].rstrip(")\n"))
                break
        proc.terminate()
        proc.wait(10)
        if painted is not None:
            times.append(painted - launched)
    print(f"4. start-up, launch to first painted frame: median {statistics.median(times):.2f} s "
          f"(runs: {', '.join(f'{t:.2f}' for t in times)})")


def measure_worker(app: QApplication) -> None:
    window = MainWindow(config=LIVE.replace(steps=100))
    window.show()
    t0 = time.monotonic()
    window.start_worker()
    spin(app, 60, lambda: window.session.worker_info is not None)
    ready = time.monotonic() - t0
    spin(app, 30, lambda: window.session.state == "ready")
    t1 = time.monotonic()
    window.start_training()
    spin(app, 10, lambda: window.session.info.history.step > 0)
    first = time.monotonic() - t1
    print(f"   the worker is ready {ready:.1f} s after it is started (in the background, "
          f"after the first paint); with it warm, Start to the first row on screen: "
          f"{first * 1000:.0f} ms")
    window.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=8.0)
    args = parser.parse_args()
    app = make_app()
    print(f"{os.cpu_count()} CPUs, Qt platform {app.platformName()}")
    measure_live(app, args.seconds)
    measure_frames(app, args.seconds)
    measure_startup()
    measure_worker(app)


if __name__ == "__main__":
    main()
