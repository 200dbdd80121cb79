"""Replaying a long run: a 1,000,000-step, 50-layer run file opened and scrubbed in a real
MainWindow, measured offscreen (Qt's raster engine does the real drawing), 1920x1080, every
view shown (the health dock floating).

1. The run file, made once and cached (``--fresh`` makes it again): a RunHistory fed
   1,000,000 steps of synthetic RecordBlocks (50 Linear layers of a vanishing sigmoid net:
   gradient norms log-spaced by layer, falling as the loss falls, noise and rare spikes;
   probes and evals every 100 steps), in a Run with a data sample, 10 boundary snapshots and
   3 events, written by core/runfile.save_runs. Its size on disk (target: "a few MB", taken as
   <= 5 MiB), what fills it, and load_runs' time to read it.
2. Opening: window.open_run(path) (read in a thread, as File > Open does) to the end of the
   first paint of the heatmap dock that draws the run, and of the network diagram; repeated
   (each open replaces the run before). Target (issue 10): <= 1 s.
3. Scrubbing: the timeline's slider dragged back and forth across the run, 60 moves/s (the
   slider held down, ``setSliderPosition``: ``sliderMoved`` as a mouse drag emits it).
   Painted frames/s of the heatmap and of the diagram (their paint events), how many of them
   showed a new cursor step, move-to-pixel latency (a move to the end of the first paint
   after the view drew it), the event loop's longest stall (a 5 ms heartbeat), the frame
   clock's work per frame and each view's CPU. Target: >= 30 painted frames/s.
4. Two such runs opened side by side (compare mode: window.files.open_many([a, b]), each
   panel its own heatmap and diagram, the heatmap dock run A): opening and scrubbing again.

    python benchmarks/bench_replay.py [--seconds 3] [--opens 5] [--profile [OUT.pstats]]
                                      [--fresh] [--quick]

``--profile`` adds one more scrub of the one-run window under cProfile (the GUI thread's CPU
time) and prints its top 15 cumulative entries (and writes OUT.pstats when given).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from _common import TMP, load_average, spread, verdict

if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# A first launch: no saved layout, settings or recent runs from the user's own app.
os.environ["XDG_CONFIG_HOME"] = str(TMP / "config")
os.environ["XDG_DATA_HOME"] = str(TMP / "data")

import numpy as np
from _qt_probes import Heartbeat, PaintedFrames, ms, show_every_view, spin, view_costs
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QApplication, QWidget

from vgrad_gui.core.builder import layer_names
from vgrad_gui.core.datasets import make_dataset
from vgrad_gui.core.history import RunHistory
from vgrad_gui.core.records import RecordBlock, row_width
from vgrad_gui.core.run import DataSample, Run
from vgrad_gui.core.runfile import RunFileError, load_runs, save_runs
from vgrad_gui.core.spec import Config
from vgrad_gui.qt.app import make_app
from vgrad_gui.qt.main_window import MainWindow

STEPS = 1_000_000
DEPTH = 49  # hidden layers: 50 Linear layers with the output
BLOCK = 10_000  # steps per RecordBlock fed to the history
EVERY = 100  # probes and evals, as the worker's statistics cadence
SNAPSHOT_STEPS = [int(s) for s in np.round(np.logspace(1, 6, 10))]  # 10 ... 1,000,000
GENERATOR = 1  # bump when the synthetic run changes: cached files are made again
CACHE = Path(tempfile.gettempdir()) / "vgrad-bench-replay"
TARGET_MIB = 5.0  # "a few MB"
TARGET_OPEN = 1.0
TARGET_FPS = 30.0
TARGET_STALL = 0.050
MOVES_PER_S = 60
LETTERS = "ABCD"


# -- 1. the run file -------------------------------------------------------------------------
def synthetic_block(rng: np.random.Generator, s: np.ndarray, base: np.ndarray,
                    steps: int) -> RecordBlock:
    """The records of steps ``s``: weight-gradient norms 10**(base + drift + noise) (the
    output layer at 0, the input side at ``base[0]``), falling as the loss falls, the gap
    between the layers closing a little over the run, and a spike every ~5,000 steps."""
    k, n = len(s), len(base)
    hidden = n - 1
    t = (s / steps)[:, None]
    logs = base * (1 - 0.25 * t) - 0.8 * np.log10(1 + s / 20_000)[:, None] \
        + rng.normal(0, 0.15, (k, n))
    spikes = rng.random(k) < 2e-4
    logs[spikes] += rng.uniform(0.5, 2.0, int(spikes.sum()))[:, None]
    grad = 10 ** logs
    loss = np.abs(0.05 + 0.64 * np.exp(-s / 150_000) + rng.normal(0, 0.02, k))
    rows = np.empty((k, row_width("steps", n)), np.float32)
    rows[:, :n] = grad
    rows[:, n : 2 * n] = grad * 10 ** rng.normal(-0.5, 0.1, (k, n))
    rows[:, -2] = loss
    rows[:, -1] = np.clip(1 - 0.7 * loss + rng.normal(0, 0.01, k), 0, 1)
    at = np.flatnonzero(s % EVERY == 0)
    p = len(at)
    g = grad[at]
    depth_fade = np.exp(-np.arange(hidden) / 20)
    probe = np.concatenate([
        0.5 + rng.normal(0, 0.05, (p, hidden)),  # act_mean
        np.abs(0.25 * depth_fade + rng.normal(0, 0.01, (p, hidden))),  # act_std
        np.clip(0.9 - 0.8 * depth_fade + rng.normal(0, 0.02, (p, hidden)), 0, 1),  # saturated
        1e-3 * g / g[:, -1:],  # update_ratio
        0.3 * np.exp(-np.arange(n) / 25) * 10 ** rng.normal(0, 0.05, (p, n)),  # signal_std
        g / 4.0,  # backprop_grad
    ], axis=1).astype(np.float32)
    assert probe.shape[1] == row_width("probes", n)
    evals = np.stack([loss[at] + 0.03, np.clip(rows[at, -1] - 0.02, 0, 1)],
                     axis=1).astype(np.float32)
    return RecordBlock(s, rows, s[at], probe, s[at], evals)


def boundary(xs: np.ndarray, ys: np.ndarray, step: int) -> tuple[np.ndarray, np.ndarray]:
    """A moons-like boundary that bends and sharpens as the run goes on."""
    grid_x, grid_y = np.meshgrid(xs, ys)
    progress = min(1.0, np.log10(max(step, 1)) / 5)
    f = grid_y - 0.25 - 0.6 * progress * np.sin(1.6 * grid_x)
    p = 1 / (1 + np.exp(-(1 + 8 * progress) * f))
    return (p > 0.5).astype(np.uint8), np.maximum(p, 1 - p).astype(np.float32)


def synthetic_run(seed: int, low: float, steps: int = STEPS, depth: int = DEPTH) -> Run:
    cfg = Config(depth=depth, width=16, activation="sigmoid", lr=0.1, steps=steps, seed=seed,
                 dataset="moons", device="cpu")
    history = RunHistory(cfg, layer_names(depth), "saturated")
    rng = np.random.default_rng(seed)
    base = np.linspace(-low, 0.0, depth + 1)
    for first in range(1, steps + 1, BLOCK):
        s = np.arange(first, min(first + BLOCK, steps + 1), dtype=np.int64)
        history.append(synthetic_block(rng, s, base, steps))
    data = make_dataset("moons", cfg.samples, cfg.noise, seed)
    both = np.concatenate([data.x_train, data.x_test])
    lo, hi = both.min(0) - 0.5, both.max(0) + 0.5
    sample = DataSample(data.x_train, data.y_train,
                        (float(lo[0]), float(hi[0]), float(lo[1]), float(hi[1])))
    run = Run.from_history(history, label=f"sigmoid 50 layers, 1M steps (seed {seed})",
                           data=sample)
    xs, ys = np.linspace(lo[0], hi[0], 64), np.linspace(lo[1], hi[1], 64)
    for step in SNAPSHOT_STEPS:
        run.add_boundary(step, *boundary(xs, ys, step))
    run.note_diagnosis(150, "vanishing", "vanishing: hidden layers 1-30 get under 1e-4 of the "
                       "output layer's gradient")
    run.note_setting(400_000, "lr", 0.1, 0.05)
    run.note_diagnosis(400_100, "slow", "the lower layers barely learn")
    return run


def run_file(seed: int, low: float, fresh: bool) -> tuple[Path, float | None]:
    """The cached run file of ``seed`` (made now if missing, stale or unreadable) and the
    seconds it took to make, None when it was cached."""
    CACHE.mkdir(exist_ok=True)
    path = CACHE / f"run-{STEPS}x{DEPTH + 1}-seed{seed}-low{low:g}-g{GENERATOR}.npz"
    if path.exists() and not fresh:
        try:
            load_runs(path)
            return path, None
        except RunFileError:
            pass  # written by an older format: make it again
    started = time.perf_counter()
    save_runs([synthetic_run(seed, low)], path)
    return path, time.perf_counter() - started


def describe_file(path: Path, made: float | None) -> None:
    size = path.stat().st_size / 2**20
    with zipfile.ZipFile(path) as z:
        infos = z.infolist()
    raw = sum(i.file_size for i in infos) / 2**20
    largest = sorted(infos, key=lambda i: -i.compress_size)[:4]
    reads = []
    for _ in range(3):
        t0 = time.perf_counter()
        runs = load_runs(path)
        reads.append(time.perf_counter() - t0)
    run = runs[0]
    h = run.history
    print(f"1. run file of {STEPS:,} steps x {h.n_layers} layers: {size:.2f} MiB on disk "
          f"(target: a few MB, <= {TARGET_MIB:.0f} MiB: {verdict(size <= TARGET_MIB)}); "
          f"{raw:.2f} MiB uncompressed in {len(infos)} members; "
          + (f"made in {made:.1f} s" if made is not None else "cached")
          + f" at {path}")
    print("   largest members (compressed): " + ", ".join(
        f"{i.filename.removesuffix('.npy')} {i.compress_size / 2**20:.2f} MiB "
        f"({i.compress_size / max(1, i.file_size):.0%})" for i in largest))
    print(f"   it holds {len(h.steps):,} step records ({h.steps.n_raw:,} at full resolution, "
          f"buckets of {h.steps.span:,} steps before), {len(h.probes):,} probe and "
          f"{len(h.evals):,} eval records, {len(run.boundaries.all())} boundary snapshots; "
          f"the history takes {h.nbytes() / 2**20:.1f} MiB in memory")
    print(f"   load_runs (checks included, this thread): {spread(reads, '.3f')} s", flush=True)


# -- the window --------------------------------------------------------------------------


def open_window(app: QApplication) -> MainWindow:
    window = MainWindow(config=Config(steps=100))
    window.resize(1920, 1080)
    window.show()
    show_every_view(window)
    # The worker starts after the first paint: let it come up (and build its run) before
    # anything is timed, so its messages do not land in the middle of an open.
    spin(app, 120, lambda: window.session.worker_info is not None)
    spin(app, 60, lambda: window.session.state == "ready")
    if window.session.worker_info is None:
        sys.exit("bench_replay: the worker did not start within 120 s")
    spin(app, 1)
    return window


class FirstPaint:
    """The end of a view's first paint after it drew one of the runs ``ids`` (a refresh
    while it showed one of them)."""

    def __init__(self, view: QWidget, ids: set[int]) -> None:
        self.frames = PaintedFrames(view)
        self.ids = ids
        self.drawn: float | None = None
        inner = view.refresh  # type: ignore[attr-defined]

        def refresh() -> None:
            inner()
            if self.drawn is None and any(
                    r.run_id in self.ids for r in view.runs):  # type: ignore[attr-defined]
                self.drawn = time.monotonic()

        view.refresh = refresh  # type: ignore[attr-defined]

    def at(self) -> float | None:
        if self.drawn is None:
            return None
        drawn = self.drawn
        return next((t for t in self.frames.paint_ends if t >= drawn), None)

    def detach(self) -> None:
        self.frames.detach()  # puts back the view's own refresh, under both wrappers


def heatmaps_of(window: MainWindow, position: int) -> list[QWidget]:
    out: list[QWidget] = [window.views["heatmap"]] if position == 0 else []
    panel = window.panels.panels[position]
    if panel.heatmap is not None:
        out.append(panel.heatmap)
    return out


def time_open(app: QApplication, window: MainWindow, paths: list[Path]) -> dict[str, Any]:
    """Open ``paths`` as the user would (a thread reads them) and time each run's first
    painted heatmap and diagram, from the call."""
    marks: dict[str, float] = {}
    probes: list[tuple[int, list[FirstPaint], FirstPaint]] = []
    show = window.show_runs

    def timed_show(runs: list[Run], path: str) -> None:
        marks["read"] = time.monotonic()
        show(runs, path)
        marks["shown"] = time.monotonic()
        ids = [r.run_id for r in runs]
        # The panels exist now (the workspace built them in show_runs); nothing has painted
        # since, so no paint is missed.
        for i, run_id in enumerate(ids):
            probes.append((run_id, [FirstPaint(v, {run_id}) for v in heatmaps_of(window, i)],
                           FirstPaint(window.panels.panels[i].diagram, {run_id})))

    setattr(window, "show_runs", timed_show)  # noqa: B010 (an instance attribute)

    def done() -> bool:
        return bool(probes) and all(
            d.at() is not None and all(h.at() is not None for h in heats)
            for _, heats, d in probes)

    try:
        t0 = time.monotonic()
        if len(paths) == 1:
            window.open_run(str(paths[0]))
        else:
            window.files.open_many([str(p) for p in paths])
        spin(app, 60, done)
    finally:
        delattr(window, "show_runs")  # the class's own again
    if not done():
        sys.exit(f"bench_replay: {', '.join(p.name for p in paths)} did not paint within 60 s "
                 f"(status: {window.statusBar().currentMessage()!r})")
    out: dict[str, Any] = {"read": marks["read"] - t0, "shown": marks["shown"] - t0,
                           "heat": [], "diagram": []}
    for _, heats, diagram in probes:
        out["heat"].append(min(h.at() or np.inf for h in heats) - t0)
        out["diagram"].append((diagram.at() or np.inf) - t0)
        for p in [*heats, diagram]:
            p.detach()
    spin(app, 1)  # settle (the other views' first draws) before the next phase
    return out


def report_open(label: str, results: list[dict[str, Any]], n_runs: int) -> None:
    heat = [max(r["heat"]) for r in results]
    diagram = [max(r["diagram"]) for r in results]
    ok = statistics.median(heat) <= TARGET_OPEN
    what = "run" if n_runs == 1 else f"{n_runs} runs side by side (the later run's paint)"
    print(f"{label} open {STEPS // 1_000_000}M-step {what} -> first paint of the heatmap: "
          f"{spread(heat, '.2f')} s (target <= {TARGET_OPEN:.0f} s: {verdict(ok)}); of the "
          f"diagram {spread(diagram, '.2f')} s")
    print(f"   of which: read in the thread (open_run to the runs on the GUI thread) "
          f"{spread([r['read'] for r in results], '.2f')} s, show_runs "
          f"{spread([r['shown'] - r['read'] for r in results], '.3f')} s; the first open "
          f"(from the window's empty run) {heat[0]:.2f} s  ({load_average()})", flush=True)


# -- 3. scrubbing -----------------------------------------------------------------------------
def instruments(window: MainWindow) -> dict[str, PaintedFrames]:
    """Painted frames of every heatmap and diagram, and of every other shown view (for the
    CPU each one takes)."""
    out: dict[str, PaintedFrames] = {"heatmap dock": PaintedFrames(window.views["heatmap"])}
    panels = window.panels.panels
    for i, panel in enumerate(panels):
        if panel.heatmap is not None:
            out[f"heatmap {LETTERS[i]}"] = PaintedFrames(panel.heatmap)
    for i, panel in enumerate(panels):
        out[f"diagram {LETTERS[i]}"] = PaintedFrames(panel.diagram)
        out[f"banner {LETTERS[i]}"] = PaintedFrames(panel.banner)
    for key, view in window.views.items():
        if key != "heatmap" and view.is_shown():
            out[f"{key} dock"] = PaintedFrames(view)
    return out


class Scrub:
    """Drags the timeline's slider back and forth across the runs, ``MOVES_PER_S`` moves a
    second, one forward and one backward sweep per ``period`` seconds."""

    def __init__(self, window: MainWindow, tools: dict[str, PaintedFrames],
                 period: float) -> None:
        self.window, self.tools, self.period = window, tools, period
        self.slider = window.timeline.slider
        self.first = window.timeline.first_step()
        self.last = window.timeline.last_step()
        self.moves = 0
        self.t0 = time.monotonic()
        self.timer = QTimer()
        self.timer.setTimerType(Qt.TimerType.PreciseTimer)
        self.timer.setInterval(round(1000 / MOVES_PER_S))
        self.timer.timeout.connect(self.move)

    def move(self) -> None:
        now = time.monotonic()
        phase = ((now - self.t0) / self.period) % 1.0
        there = 2 * phase if phase < 0.5 else 2 - 2 * phase
        # Short of the last step: there the timeline follows live again.
        step = self.first + int(there * (self.last - 1 - self.first))
        for f in self.tools.values():
            f.rows_arrived(now)  # opens a move-to-pixel sample at each view
        self.slider.setSliderPosition(step)  # held down: emits sliderMoved, as a drag does
        self.moves += 1

    def start(self) -> None:
        self.t0 = time.monotonic()
        self.slider.setSliderDown(True)
        self.timer.start()

    def stop(self) -> None:
        self.timer.stop()
        self.slider.setSliderDown(False)


def measure_scrub(app: QApplication, window: MainWindow, seconds: float,
                  profile: Callable[[], Any] | None = None) -> dict[str, Any]:
    tools = instruments(window)
    scrub = Scrub(window, tools, period=max(seconds, 1.0))
    beat = Heartbeat()
    clock = window.clock
    scrub.start()
    spin(app, 0.5)  # warm up: the first moves into the buckets
    for f in tools.values():
        f.reset()
    clock.tick_costs.clear()
    moves, ticks = scrub.moves, clock.ticks
    beat.start()
    profiler = profile() if profile is not None else None
    t0, cpu0, gui0 = time.monotonic(), time.process_time(), time.thread_time()
    spin(app, seconds)
    took, cpu = time.monotonic() - t0, time.process_time() - cpu0
    gui = time.thread_time() - gui0
    if profiler is not None:
        profiler.disable()
    beat.stop()
    scrub.stop()
    out = dict(
        took=took, cpu=cpu, gui=gui, moves=(scrub.moves - moves) / took,
        ticks=(clock.ticks - ticks) / took, cost=list(clock.tick_costs),
        stall=beat.worst_stall(), load=load_average(), profiler=profiler,
        span=(scrub.first, scrub.last),
        fps={k: f.count / took for k, f in tools.items()},
        new={k: len(f.shown_at) / took for k, f in tools.items()},
        lat={k: list(f.latencies) for k, f in tools.items()},
        costs={k: (f.count, f.paint_cpu, f.refreshes, f.refresh_cpu) for k, f in tools.items()},
        shown=[k for k, v in window.views.items() if v.is_shown()])
    for f in tools.values():
        f.detach()
    window.timeline.follow_live()
    spin(app, 1)
    return out




def report_scrub(label: str, r: dict[str, Any], n_runs: int) -> None:
    fps: dict[str, float] = r["fps"]
    new: dict[str, float] = r["new"]
    heat = {k: v for k, v in fps.items() if k.startswith("heatmap")}
    diag = {k: v for k, v in fps.items() if k.startswith("diagram")}
    worst = min(heat.values())
    what = "" if n_runs == 1 else f" x {n_runs} runs side by side"
    first, last = r["span"]
    print(f"{label} scrub {STEPS // 1_000_000}M steps x {DEPTH + 1} layers{what}: {worst:.0f} "
          f"painted frames/s (target >= {TARGET_FPS:.0f}: {verdict(worst >= TARGET_FPS)}) "
          f"[slowest heatmap; slider {first:,}..{last:,} dragged {r['moves']:.0f} moves/s for "
          f"{r['took']:.1f} s; views shown: {', '.join(r['shown'])}; {r['load']}]")
    print("   heatmaps painted " + ", ".join(
        f"{k} {v:.0f}/s ({new[k]:.0f} with a new step)" for k, v in heat.items())
          + "; diagrams " + ", ".join(
        f"{k.split()[1]} {v:.0f}/s ({new[k]:.0f} new)" for k, v in diag.items())
          + " (a diagram redraws on every 4th frame: 15 at most)")
    heat_lat = [x for k, v in r["lat"].items() if k.startswith("heatmap") for x in v]
    diag_lat = [x for k, v in r["lat"].items() if k.startswith("diagram") for x in v]
    stall = r["stall"]
    print(f"   move-to-pixel: heatmaps p50 {ms(heat_lat, 50, 0)} ms, p95 {ms(heat_lat, 95, 0)} ms; "
          f"diagrams p50 {ms(diag_lat, 50, 0)} ms, p95 {ms(diag_lat, 95, 0)} ms; longest stall "
          f"{stall * 1000:.0f} ms (target <= {TARGET_STALL * 1000:.0f}: "
          f"{verdict(stall <= TARGET_STALL)}); the clock ticked {r['ticks']:.0f}/s (60 "
          f"asked), frame work (views' refresh, paints not included) p50 {ms(r['cost'], 50, 0)} "
          f"ms, p95 {ms(r['cost'], 95, 0)} ms")
    took, cpu = r["took"], r["cpu"]
    costs: dict[str, tuple[int, float, int, float]] = r["costs"]
    per_tick = r["gui"] / max(1.0, r["ticks"] * took)
    print(f"   the process used {cpu / took:.0%} of a core, its GUI thread {per_tick * 1000:.0f} "
          f"ms of CPU per frame of the clock: at most {min(60.0, 1 / per_tick):.0f} frames/s "
          f"on a core of its own (30 needs <= 33 ms). GUI-thread CPU per view, ms per second "
          f"(paints x ms, refreshes x ms):")
    print("     " + view_costs(costs, took, words=False), flush=True)


def where(key: tuple[str, int, str]) -> str:
    file, line, func = key
    if file == "~":
        return func  # a built-in
    parts = Path(file).parts
    for top in ("vgrad_gui", "pyqtgraph", "numpy"):
        if top in parts:
            return f"{'/'.join(parts[parts.index(top):])}:{line}({func})"
    return f"{Path(file).name}:{line}({func})"


def print_profile(profiler: Any, out: str, took: float) -> None:
    """The top 15 by cumulative time of the app's and pyqtgraph's own functions (the
    benchmark's harness and Qt's event dispatch left out: they hold everything), then the
    top 10 by own time of any function."""
    import pstats

    if out:
        profiler.dump_stats(out)
    stats: dict[Any, Any] = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
    total = sum(tt for _, _, tt, _, _ in stats.values())

    def line(key: Any, row: Any) -> str:
        _, calls, own, cum, _ = row
        return f"{cum * 1000:7.0f} {own * 1000:7.0f} {calls:7d}  {where(key)}"

    app = [(k, v) for k, v in stats.items()
           if any(top in k[0] for top in ("vgrad_gui", "pyqtgraph"))]
    print(f"   profile of that scrub: {total:.2f} s of GUI-thread CPU in {took:.1f} s"
          f"{'; written to ' + out if out else ''}")
    print("   top 15 cumulative (app and pyqtgraph functions):\n"
          "       cum ms  own ms   calls")
    for key, row in sorted(app, key=lambda kv: -kv[1][3])[:15]:
        print("     " + line(key, row))
    print("   top 10 by own time (any function):")
    for key, row in sorted(stats.items(), key=lambda kv: -kv[1][2])[:10]:
        print("     " + line(key, row))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="each scrub")
    parser.add_argument("--opens", type=int, default=5, help="timed opens of the one run")
    parser.add_argument("--profile", nargs="?", const="", metavar="OUT.pstats",
                        help="one more scrub under cProfile; print its top 15 (and write OUT)")
    parser.add_argument("--fresh", action="store_true", help="make the run files again")
    parser.add_argument("--quick", action="store_true",
                        help="3 opens of one run, 2 of two (a smoke test)")
    args = parser.parse_args()
    if args.seconds <= 0 or args.opens < 1:
        sys.exit(f"bench_replay: --seconds must be > 0 and --opens >= 1 (got {args.seconds}, "
                 f"{args.opens})")
    opens = 3 if args.quick else args.opens
    pair_opens = 2 if args.quick else max(1, opens // 2)
    print(f"{os.cpu_count()} CPUs; shared CPUs: figures move with the load "
          f"({load_average()})", flush=True)
    a, made_a = run_file(0, 9.0, args.fresh)
    b, _ = run_file(1, 6.0, args.fresh)
    describe_file(a, made_a)

    app = make_app()
    print(f"   Qt platform {app.platformName()}, window 1920x1080", flush=True)
    window = open_window(app)
    report_open("2.", [time_open(app, window, [a]) for _ in range(opens)], 1)
    report_scrub("3.", measure_scrub(app, window, args.seconds), 1)
    if args.profile is not None:
        import cProfile

        def profiler() -> cProfile.Profile:
            # CPU time of the GUI thread, not wall time: on a loaded machine wall time charges
            # whatever ran when the scheduler took the core away.
            p = cProfile.Profile(time.thread_time)
            p.enable()
            return p

        r = measure_scrub(app, window, args.seconds, profiler)
        slowest = min(v for k, v in r["fps"].items() if k.startswith("heatmap"))
        print(f"   [one more scrub under cProfile: slowest heatmap {slowest:.0f} painted "
              f"frames/s]")
        print_profile(r["profiler"], args.profile, r["took"])
    report_open("4.", [time_open(app, window, [a, b]) for _ in range(pair_opens)], 2)
    report_scrub("  ", measure_scrub(app, window, args.seconds), 2)
    window.close()
    spin(app, 0.5)


if __name__ == "__main__":
    main()
