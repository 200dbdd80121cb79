"""Compare mode's drawing and training speed, measured offscreen in a real MainWindow (Qt's
raster engine does the real drawing), every view shown (the health dock floating), 1920x1080.

1. 4 runs x 50 layers x 100,000 steps of history, compare mode on: four run panels in a grid
   (each its banner and diagram), the heatmap dock (run A), the other docks. Rows stream into
   every run as one worker training them in lockstep sends them (600 steps/s shared, a Rows
   per run per frame), through the session's own event handling (``_handle``, as its frame
   loop does). Painted frames/s of every heatmap and of each panel's diagram (paint events of
   the view, not refresh calls); step-to-pixel latency, from the rows reaching the session to
   the end of the first paint, after it drew them, of the view that shows that run's step (a
   heatmap where the run has one, else its panel's diagram); the event loop's longest stall
   (a 5 ms heartbeat timer); the frame clock's work per frame.
   Targets (issue 9): >= 30 painted frames/s for the heatmaps, latency p95 <= 50 ms, no stall
   over 50 ms.
2. The same with 1 run (compare mode off: one banner and diagram, the heatmap dock), printed
   next to the README's figures from before compare mode. Target: no slower. The README's
   figures come from another day's load; ``--baseline COMMIT`` also runs that commit's own
   bench_gui.py section 3 (one run, the same synthetic rows, every view shown; its 1M-step
   growth left out) right after, under the same load, with its CPU per frame.
   (``--sets`` adds 2 runs: two panels side by side, each with its own heatmap.)
3. 2 runs (the deep_sigmoid and relu_he presets) trained live by the real worker in compare
   mode, the window drawing them: steps/s of both runs together, against the same two configs
   recorded headless one after the other (``bench_compare.sequential``: cli.train as
   ``record``, in a subprocess), paired per round.

    python benchmarks/bench_compare_gui.py [--seconds 6] [--rounds 3] [--sets 4,1]
                                           [--baseline COMMIT] [--profile OUT.pstats]
                                           [--no-live] [--quick]

``--profile OUT.pstats`` writes a cProfile of the GUI process during each streaming phase
(OUT-4runs.pstats, OUT-1runs.pstats).
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from _common import (
    ROOT,
    TMP,
    SyntheticRun,
    cpu_seconds,
    fresh_env,
    load_average,
    spread,
    verdict,
)

os.environ.update({k: v for k, v in fresh_env().items()
                   if k in ("QT_QPA_PLATFORM", "XDG_CONFIG_HOME", "XDG_DATA_HOME")})

import numpy as np
from _qt_probes import Heartbeat, PaintedFrames, ms, show_every_view, spin, view_costs
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from vgrad_gui.core import worker as w
from vgrad_gui.core.run import Run
from vgrad_gui.core.spec import Config
from vgrad_gui.qt.app import make_app
from vgrad_gui.qt.main_window import MainWindow

TARGET_FPS = 30.0
TARGET_P95 = 0.050
TARGET_STALL = 0.050
TARGET_SPEED = 0.85  # bench_compare's for 2 runs together, and issue 8's live/headless
RATE = 600.0  # steps/s one worker sends, shared by the runs it trains
FRAME_S = 0.016
# The one-run figures in README.md's performance table (bench_gui.py 3., commit a199e6f),
# measured before compare mode on the same kind of shared 2-vCPU machine.
README_FPS, README_STALL = 22.0, 0.090
LETTERS = "ABCD"




def open_window(app: QApplication, config: Config) -> MainWindow:
    window = MainWindow(config=config)
    window.resize(1920, 1080)
    window.show()
    show_every_view(window)
    # The worker starts after the first paint: let it come up before anything is timed.
    spin(app, 120, lambda: window.session.worker_info is not None)
    if window.session.worker_info is None:
        sys.exit("bench_compare_gui: the worker did not start within 120 s")
    return window


def shows(frames: PaintedFrames, run_id: int) -> bool:
    """The watched view draws run ``run_id``."""
    return any(r.run_id == run_id for r in frames.view.runs)  # type: ignore[attr-defined]


class Instruments:
    """Painted frames of every heatmap and every panel's diagram, latency routed by run."""

    def __init__(self, window: MainWindow) -> None:
        self._watching: dict[int, list[PaintedFrames]] = {}
        self.frames: dict[str, PaintedFrames] = {
            "heatmap dock": PaintedFrames(window.views["heatmap"])}
        for i, panel in enumerate(window.panels.panels):
            if panel.heatmap is not None:
                self.frames[f"heatmap {LETTERS[i]}"] = PaintedFrames(panel.heatmap)
        for i, panel in enumerate(window.panels.panels):
            self.frames[f"diagram {LETTERS[i]}"] = PaintedFrames(panel.diagram)
            self.frames[f"banner {LETTERS[i]}"] = PaintedFrames(panel.banner)
        for key, view in window.views.items():
            if key != "heatmap" and view.is_shown():
                self.frames[f"{key} dock"] = PaintedFrames(view)

    def rows_arrived(self, run_id: int, oldest_done: float) -> None:
        # Which views show a run, asked once per run: asked per view at every feed, the
        # instruments cost the measured window 3-4% of its CPU.
        watching = self._watching.get(run_id)
        if watching is None:
            watching = self._watching[run_id] = [f for f in self.frames.values()
                                                 if shows(f, run_id)]
        for f in watching:
            f.rows_arrived(oldest_done)

    def watch_worker(self, session: Any) -> None:
        """Open latency samples as the session drains Rows from the real worker."""
        client = session.worker
        poll = client.poll

        def watched_poll(*args: Any, **kwargs: Any) -> list[Any]:
            events = poll(*args, **kwargs)
            for ev in events:
                if isinstance(ev, w.Rows):
                    self.rows_arrived(ev.run_id, float(ev.oldest_done))
            return events

        client.poll = watched_poll

    def reset(self) -> None:
        self._watching.clear()
        for f in self.frames.values():
            f.reset()

    def detach(self) -> None:
        for f in self.frames.values():
            f.detach()

    def heatmaps(self) -> dict[str, PaintedFrames]:
        return {k: f for k, f in self.frames.items() if k.startswith("heatmap")}

    def diagrams(self) -> dict[str, PaintedFrames]:
        return {k: f for k, f in self.frames.items() if k.startswith("diagram")}

    def first_view_latencies(self, run_ids: list[int]) -> list[float]:
        """Each run's latency at the view that shows its step first: its heatmaps, or its
        diagram when no heatmap shows it."""
        out: list[float] = []
        for run_id in run_ids:
            heat = [f for f in self.heatmaps().values() if shows(f, run_id)]
            for f in heat or [f for f in self.diagrams().values() if shows(f, run_id)]:
                out += f.latencies
        return out


class Feeder:
    """Every frame, the rows each run trained since the last (RATE shared), as a worker in
    its own process goes on training while the window is busy: a late feed brings more."""

    def __init__(self, window: MainWindow, runs: list[tuple[Run, SyntheticRun]],
                 tools: Instruments) -> None:
        self.session, self.runs, self.tools = window.session, runs, tools
        self.per_second = RATE / len(runs)
        self.started = self.last = time.monotonic()
        self.fed = 0  # steps of each run
        self.timer = QTimer()
        self.timer.setInterval(int(FRAME_S * 1000))
        self.timer.timeout.connect(self.feed)

    def start(self) -> None:
        self.started = self.last = time.monotonic()
        self.fed = 0
        self.timer.start()

    def feed(self) -> None:
        now = time.monotonic()
        k = int((now - self.started) * self.per_second) - self.fed
        if k < 1:
            return
        self.fed += k
        # The oldest of these rows was trained just after the last feed: a late feed (the
        # event loop busy) counts its wait in the latency, as the worker's queue would.
        oldest, self.last = self.last, now
        for run, source in self.runs:
            s, b = source.take(k)
            pw = source.pw
            self.session._handle(w.Rows(run.run_id, s, b, np.empty(0, np.int64),
                                        np.empty((0, pw), np.float32), np.empty(0, np.int64),
                                        np.empty((0, 2), np.float32), oldest, now,
                                        self.per_second))
            self.tools.rows_arrived(run.run_id, oldest)




def show_synthetic(app: QApplication, window: MainWindow,
                   sources: list[SyntheticRun]) -> list[tuple[Run, SyntheticRun]]:
    """Show the sources' runs in the window as live, running runs (compare mode when > 1)."""
    runs = [Run.from_history(s.history, source="synthetic", label=f"synthetic {i + 1}")
            for i, s in enumerate(sources)]
    window.show_runs(runs, "synthetic")
    for run in runs:
        run.source = "live"  # drawn as runs in training
        window.session._handle(w.State(run.run_id, "running", run.step))
    window.select_lane(0)
    spin(app, 2)
    return list(zip(runs, sources, strict=True))


def measure_synthetic(app: QApplication, window: MainWindow, n_runs: int, seconds: float,
                      profile: str | None) -> dict[str, Any]:
    sources = [SyntheticRun(seed=i, low=9.0 - 2 * i) for i in range(n_runs)]
    runs = show_synthetic(app, window, sources)
    assert len(window.session.lanes) == n_runs and len(window.panels.panels) == n_runs
    tools = Instruments(window)
    feeder = Feeder(window, runs, tools)
    beat = Heartbeat()
    beat.start()
    feeder.start()
    spin(app, 1)
    tools.reset()
    ticks = window.clock.ticks
    window.clock.tick_costs.clear()
    window.clock.latencies.clear()
    beat.start()
    profiler = None
    if profile:
        import cProfile

        # CPU time of the GUI thread, not wall time: on a loaded machine wall time charges
        # whatever function was running when the scheduler took the core away.
        profiler = cProfile.Profile(time.thread_time)
        profiler.enable()
    t0, cpu0 = time.monotonic(), time.process_time()
    spin(app, seconds)
    took, cpu = time.monotonic() - t0, time.process_time() - cpu0
    if profiler is not None and profile:
        profiler.disable()
        profiler.dump_stats(profile)
    feeder.timer.stop()
    beat.stop()
    ids = [run.run_id for run, _ in runs]
    out = dict(
        n=n_runs, took=took, ticks=(window.clock.ticks - ticks) / took, cpu=cpu,
        costs={k: (f.count, f.paint_cpu, f.refreshes, f.refresh_cpu)
               for k, f in tools.frames.items()},
        fps={k: f.count / took for k, f in tools.frames.items()},
        first=tools.first_view_latencies(ids),
        heat_lat=[x for f in tools.heatmaps().values() for x in f.latencies],
        diag_lat=[x for f in tools.diagrams().values() for x in f.latencies],
        clock_lat=list(window.clock.latencies), cost=list(window.clock.tick_costs),
        stall=beat.worst_stall(), cpu_stall=beat.worst_cpu_stall(),
        shown=[k for k, v in window.views.items() if v.is_shown()],
        grid=n_runs > 2, load=load_average(),
        steps=sum(source.next_step - 100_001 for _, source in runs))
    tools.detach()
    return out


def report_synthetic(r: dict[str, Any], profiled: bool) -> float:
    """Prints the figures; returns the CPU seconds per frame of the clock."""
    n = r["n"]
    fps: dict[str, float] = r["fps"]
    heat = {k: v for k, v in fps.items() if k.startswith("heatmap")}
    diag = {k: v for k, v in fps.items() if k.startswith("diagram")}
    label = "1." if n == 4 else ("2." if n == 1 else "  ")
    if n == 1:
        layout = "1 run (compare mode off): its banner and diagram, the heatmap dock"
    elif r["grid"]:
        layout = (f"{n} runs, compare mode: {n} panels in a grid (banner + diagram each; no "
                  "heatmap in a grid's panels), the heatmap dock shows run A")
    else:
        layout = (f"{n} runs, compare mode: {n} panels side by side (banner + diagram + "
                  "heatmap each), the heatmap dock shows run A")
    print(f"{label} {layout}; 50 layers x 100,000 steps each, {r['steps']:,} steps streamed "
          f"in {r['took']:.1f} s ({RATE:.0f} steps/s shared); views shown: "
          f"{', '.join(r['shown'])}  ({r['load']}){'  [profiled]' if profiled else ''}")
    worst = min(heat.values())
    print("   heatmaps painted " + ", ".join(f"{k} {v:.0f}" for k, v in heat.items())
          + f" frames/s  target >= {TARGET_FPS:.0f}: {verdict(worst >= TARGET_FPS)}")
    print("   diagrams painted " + ", ".join(f"{k.split()[1]} {v:.0f}" for k, v in diag.items())
          + " frames/s (on every 4th frame, 15 at most; in a grid, runs B-D, which have no "
          "heatmap, on every frame)")
    first = r["first"]
    p95 = float(np.percentile(first, 95)) if first else float("inf")
    print(f"   step-to-pixel, each run at the first view that shows it ({len(first)} samples): "
          f"p50 {ms(first, 50)} ms, p95 {ms(first, 95)} ms  target p95 <= "
          f"{TARGET_P95 * 1000:.0f} ms: {verdict(p95 <= TARGET_P95)}")
    print(f"     at the heatmaps p50 {ms(r['heat_lat'], 50)}, p95 {ms(r['heat_lat'], 95)} ms; "
          f"at the diagrams p50 {ms(r['diag_lat'], 50)}, p95 {ms(r['diag_lat'], 95)} ms; the "
          f"clock's own (any view's paint) p95 {ms(r['clock_lat'], 95)} ms")
    stall = r["stall"]
    print(f"   the frame clock ticked {r['ticks']:.0f} times/s (60 asked); frame work (drain + "
          f"every view's turn, paints not included) p50 {ms(r['cost'], 50)} ms, p95 "
          f"{ms(r['cost'], 95)} ms, max {ms(r['cost'], 100)} ms; longest stall "
          f"{stall * 1000:.1f} ms  target <= {TARGET_STALL * 1000:.0f} ms: "
          f"{verdict(stall <= TARGET_STALL)}; the GUI thread's longest stretch of work "
          f"between two heartbeats {r['cpu_stall'] * 1000:.1f} ms of CPU")
    took, cpu = r["took"], r["cpu"]
    costs: dict[str, tuple[int, float, int, float]] = r["costs"]
    per_tick = cpu / max(1.0, r["ticks"] * took)
    print(f"   the window's process used {cpu:.1f} CPU s in {took:.1f} s ({cpu / took:.0%} of a "
          f"core): {per_tick * 1000:.0f} ms of CPU per frame of the clock, so at most "
          f"{min(60.0, 1 / per_tick):.0f} frames/s on a core of its own (30 needs <= 33 ms); "
          "per view, the GUI thread's CPU (paint + refresh), ms per second:")
    print("     " + view_costs(costs, took))
    if n == 1:
        dock = heat["heatmap dock"]
        print(f"   against the README (one run, before compare mode, same views): heatmap "
              f"{README_FPS:.0f} frames/s, longest stall {README_STALL * 1000:.0f} ms; now "
              f"{dock:.0f} frames/s, {stall * 1000:.0f} ms  no slower: "
              f"{verdict(dock >= README_FPS * 0.95 and stall <= README_STALL * 1.1)} "
              "(another day's load: --baseline COMMIT compares under this one)")
    return per_tick


def headless(runs: list[tuple[str, Config]]) -> tuple[float, float]:
    """bench_compare.sequential's rates: per wall second and per CPU second (NaN when it
    gives only the first)."""
    from bench_compare import sequential

    rate: Any = sequential(runs)
    return (float(rate[0]), float(rate[1])) if isinstance(rate, tuple) else \
        (float(rate), math.nan)


# Runs an older commit's bench_gui.py section 3 without its growth to 1M steps, and prints the
# CPU its process spent per frame of the session's clock (that version's `session.frame`).
BASELINE = """
import os, sys, time
if __name__ == "__main__":
    seconds, sys.argv = float(sys.argv[1]), sys.argv[:1]
    import bench_gui as b
    b.Streaming.grow = lambda self, until: ([0.0], [0.0], 0.0)
    measure = b.Streaming.measure
    def counted(self, duration):
        ticks = [0]
        self.session.frame.connect(lambda *_: ticks.__setitem__(0, ticks[0] + 1))
        t0, c0 = time.monotonic(), time.process_time()
        out = measure(self, duration)
        took, cpu = time.monotonic() - t0, time.process_time() - c0
        print(f"cpu {cpu:.3f} {took:.3f} {ticks[0]}", flush=True)
        return out
    b.Streaming.measure = counted
    b.measure_frames(b.make_app(), seconds)
"""


def run_baseline(commit: str, seconds: float, per_tick: float) -> None:
    """``commit``'s bench_gui.py section 3, in its own tree and process, under this load
    (``commit`` may also be a folder holding that tree, e.g. from ``git archive``)."""
    tree = Path(commit) if Path(commit).is_dir() else TMP / f"baseline-{commit}"
    if not tree.exists():
        tree.mkdir()
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", commit],
                                 capture_output=True, check=False)
        if archive.returncode != 0:
            print(f"   baseline: git archive {commit} failed: "
                  f"{archive.stderr.decode(errors='replace').strip()[:200]}")
            return
        subprocess.run(["tar", "-x", "-C", str(tree)], input=archive.stdout, check=True)
    script = TMP / "baseline_frames.py"
    script.write_text(BASELINE)
    env = fresh_env(PYTHONPATH=f"{tree}{os.pathsep}{tree / 'benchmarks'}")
    out = subprocess.run([sys.executable, str(script), str(seconds)], capture_output=True,
                         text=True, cwd=tree, env=env, timeout=600)
    lines = out.stdout.splitlines()
    cpu = [line.split()[1:] for line in lines if line.startswith("cpu ")]
    shown = [line for line in lines if line.startswith("3.")]
    if out.returncode != 0 or not cpu or not shown:
        print(f"   baseline {commit}: its bench_gui.py section 3 did not run ({out.returncode}):"
              f" {(out.stderr.strip().splitlines() or ['no output'])[-1][:200]}")
        return
    spent, took, ticks = (float(v) for v in cpu[0])
    fps = shown[0].split("heatmap painted ", 1)[-1].split(" ", 1)[0]
    stall = shown[0].rsplit("longest stall ", 1)[-1].split(" ", 1)[0]
    before = spent / max(1.0, ticks)
    print(f"   baseline {commit}: its bench_gui.py 3. right after, same load "
          f"({load_average()}): heatmap painted {fps} frames/s, longest stall {stall} ms; "
          f"{spent / took:.0%} of a core, {before * 1000:.0f} ms of CPU per frame of its clock "
          f"({ticks / took:.0f} frames/s); now {per_tick * 1000:.0f} ms  no slower (CPU per "
          f"frame within 10%): {verdict(per_tick <= before * 1.1)}")


def measure_live(app: QApplication, seconds: float, rounds: int) -> None:
    from bench_compare import configs

    names = [name for name, _ in configs(2, 100)]
    live_cfgs = [c for _, c in configs(2, 10**7)]
    window = open_window(app, live_cfgs[0])
    spin(app, 120, lambda: window.session.state == "ready")
    window.add_run(live_cfgs[1])
    window.select_lane(0)
    session = window.session

    def both_ready() -> bool:
        return len(session.lanes) == 2 and all(
            lane.state == "ready" and lane.shown is not None for lane in session.lanes)

    spin(app, 120, both_ready)
    if not both_ready():
        sys.exit(f"bench_compare_gui: the two runs were not built (states "
                 f"{[lane.state for lane in session.lanes]})")
    spin(app, 1)
    tools = Instruments(window)
    tools.watch_worker(session)
    beat = Heartbeat()
    session.set_speed(None)
    lives, seqs, ratios, cpu_ratios, stalls, lat = [], [], [], [], [], []
    heat_fps: list[float] = []
    window_cpu: list[float] = []
    costs: dict[str, tuple[int, float, int, float]] = {}
    live_took = 0.0

    def steps() -> int:
        return sum(lane.shown.step for lane in session.lanes if lane.shown is not None)

    for r in range(rounds):
        this: dict[str, tuple[float, float]] = {}
        order: tuple[str, ...] = ("live", "sequential") if r % 2 == 0 else \
            ("sequential", "live")
        for mode in order:
            if mode == "live":
                beat.start()
                window.start_training()
                spin(app, 2)  # warm up
                tools.reset()
                pid = session.worker.process.pid if session.worker.process else None
                s0, t0, c0 = steps(), time.monotonic(), cpu_seconds(pid)
                own0 = time.process_time()
                spin(app, seconds)
                took = time.monotonic() - t0
                window_cpu.append((time.process_time() - own0) / took)
                done = steps() - s0
                live_took += took
                for k, f in tools.frames.items():
                    was = costs.get(k, (0, 0.0, 0, 0.0))
                    costs[k] = (was[0] + f.count, was[1] + f.paint_cpu,
                                was[2] + f.refreshes, was[3] + f.refresh_cpu)
                this["live"] = (done / took, done / (cpu_seconds(pid) - c0))
                heat_fps.append(min(f.count for f in tools.heatmaps().values()) / took)
                lat += tools.first_view_latencies([lane.run_id for lane in session.lanes])
                session.pause()
                spin(app, 5, lambda: session.state == "paused")
                beat.stop()
                stalls.append(beat.worst_stall())
            else:
                each = max(200, int(this.get("live", (400.0, 0.0))[0] / 2 * seconds))
                this["sequential"] = headless(configs(2, each))
        lives.append(this["live"][0])
        seqs.append(this["sequential"][0])
        ratios.append(this["live"][0] / this["sequential"][0])
        cpu_ratios.append(this["live"][1] / this["sequential"][1])
        print(f"   round {r + 1}: compare window {this['live'][0]:.0f}, headless one after the "
              f"other {this['sequential'][0]:.0f} steps/s, ratio {ratios[-1]:.2f} (per CPU "
              f"second of the training process {cpu_ratios[-1]:.2f})  ({load_average()})",
              flush=True)
    p95 = float(np.percentile(lat, 95)) if lat else float("inf")
    print(f"3. 2 runs live through the worker ({', '.join(names)}), compare mode, every view "
          f"shown:")
    print(f"   steps/s of both runs: compare window {spread(lives)}, recorded headless one "
          f"after the other {spread(seqs)}")
    print(f"   window/headless {spread(ratios, '.2f')}  target >= {TARGET_SPEED:.2f}: "
          f"{verdict(statistics.median(ratios) >= TARGET_SPEED)}; per CPU second of the "
          f"training process {spread(cpu_ratios, '.2f')} (less moved by other processes; "
          "blind to the window taking a core)")
    print(f"   while training: slowest heatmap painted {spread(heat_fps)} frames/s (target >= "
          f"{TARGET_FPS:.0f}: {verdict(statistics.median(heat_fps) >= TARGET_FPS)}); "
          f"step-to-pixel ({len(lat)} samples, from the worker's step) p50 {ms(lat, 50)} ms, "
          f"p95 {ms(lat, 95)} ms (target <= {TARGET_P95 * 1000:.0f}: "
          f"{verdict(p95 <= TARGET_P95)}); longest stall {max(stalls) * 1000:.0f} ms (target "
          f"<= {TARGET_STALL * 1000:.0f}: {verdict(max(stalls) <= TARGET_STALL)})")
    print(f"   the window's process used {spread([c * 100 for c in window_cpu], '.0f')}% of a "
          "core while training (the two vCPUs share a core: what it takes slows the worker); "
          "by view, CPU ms per second: " + view_costs(costs, live_took, words=False))
    tools.detach()
    window.close()
    spin(app, 0.5)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=6.0, help="each measured phase")
    parser.add_argument("--rounds", type=int, default=3, help="live/headless rounds of 3.")
    parser.add_argument("--sets", default="4,1",
                        help="run counts for 1. and 2., comma-separated, of 1-4")
    parser.add_argument("--no-live", action="store_true", help="skip 3.")
    parser.add_argument("--baseline", metavar="COMMIT",
                        help="after 2., run COMMIT's own bench_gui.py section 3 (before "
                             "compare mode: cadabe2) under the same load; or a folder "
                             "holding that commit's tree")
    parser.add_argument("--profile", metavar="OUT",
                        help="write a cProfile of each streaming phase of 1. and 2. (pstats, "
                             "OUT with -<n>runs before its extension)")
    parser.add_argument("--quick", action="store_true",
                        help="3 s phases, one live round (a smoke test)")
    args = parser.parse_args()
    try:
        sets = [int(n) for n in args.sets.split(",") if n.strip()]
    except ValueError:
        sets = []
    if not sets or any(not 1 <= n <= 4 for n in sets) or args.seconds <= 0 or args.rounds < 1:
        sys.exit(f"bench_compare_gui: --sets must be run counts 1-4, comma-separated; "
                 f"--seconds > 0; --rounds >= 1 (got {args.sets!r}, {args.seconds}, "
                 f"{args.rounds})")
    seconds, rounds = args.seconds, args.rounds
    if args.quick:
        seconds, rounds = 3.0, 1
    app = make_app()
    print(f"{os.cpu_count()} CPUs, Qt platform {app.platformName()}, 1920x1080; shared CPUs: "
          f"figures move with the load ({load_average()})", flush=True)
    window = open_window(app, SyntheticRun(steps=1).cfg)
    for n in sets:
        profile = None
        if args.profile:
            stem, dot, ext = args.profile.rpartition(".")
            profile = f"{stem}-{n}runs.{ext}" if dot else f"{args.profile}-{n}runs"
        per_tick = report_synthetic(measure_synthetic(app, window, n, seconds, profile),
                                    bool(profile))
        sys.stdout.flush()
        if n == 1 and args.baseline:
            run_baseline(args.baseline, seconds, per_tick)
            sys.stdout.flush()
    window.close()
    spin(app, 0.5)
    if not args.no_live:
        measure_live(app, seconds, rounds)


if __name__ == "__main__":
    main()
