"""A big network in the live window: depth 200 x width 1024 tanh, batch 128, CPU.

Measured in the window's own process (offscreen platform), with a 5 ms heartbeat timer running
throughout:
  - build: the progress notes the session receives while the worker builds the net (time and
    text), and the time from the worker being ready to the run being ready;
  - first row on screen: from Start to the end of the heatmap's first paint that shows step 1;
    target within two steps' time (the step time measured from the rows that follow);
  - Pause: from sending Pause to the state "paused"; target within 100 ms or one step,
    whichever is longer;
  - the event loop's longest stall while building, training and pausing; target <= 50 ms
    (the window's own start-up, before the worker is ready, printed apart);
  - steps/s, live (from the times later rows reach the window) against a plain PyTorch loop of
    the same size (nn.Sequential, same data, batch order and threads) in its own process,
    timed per step after its first; the ratio should be ~1 (the work is matrix products).

    python benchmarks/bench_bignet.py [--depth 200] [--width 1024] [--steps 5] [--init I]
                                      [--quick]

--quick uses width 256 (a smoke test of the benchmark, not the target's figures).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

from _common import (
    ROOT,
    TMP,
    app_threads,
    bench_config,
    fresh_env,
    load_average,
    plain_script,
    verdict,
    write_data,
)

os.environ.update({k: v for k, v in fresh_env().items()
                   if k in ("QT_QPA_PLATFORM", "XDG_CONFIG_HOME", "XDG_DATA_HOME")})

from _qt_probes import Heartbeat, PaintedFrames, spin, view_costs
from PySide6.QtWidgets import QApplication

from vgrad_gui.core.spec import Config
from vgrad_gui.qt.app import make_app
from vgrad_gui.qt.main_window import MainWindow

# The plain loop, printing the time after every step (tensor sync included: loss.item()).
PLAIN_TIMED = """
import runpy, sys, time
import torch
_step = torch.optim.SGD.step
def timed(self, *a, **k):
    out = _step(self, *a, **k)
    print(f"step {time.monotonic():.6f}", flush=True)
    return out
torch.optim.SGD.step = timed
sys.argv = [sys.argv[1]] + sys.argv[2:]
runpy.run_path(sys.argv[0], run_name="__main__")
"""


def plain_step_times(config: Config, steps: int, threads: int, data: str) -> list[float]:
    path = TMP / "plain_timed.py"
    path.write_text(PLAIN_TIMED)
    cmd = [sys.executable, str(path), plain_script(), str(config.depth), str(config.width),
           str(config.batch_size), str(steps), str(threads), str(config.seed), str(config.lr),
           data, config.activation, config.init]
    out = subprocess.run(cmd, capture_output=True, text=True, env=fresh_env(), cwd=ROOT,
                         timeout=1800)
    if out.returncode != 0:
        raise RuntimeError(f"the plain loop failed:\n{out.stderr[-2000:]}")
    return [float(line.split()[1]) for line in out.stdout.splitlines()
            if line.startswith("step ")]


def rate_of(times: list[float]) -> float:
    """Steps/s from the times steps 1..n were done, leaving out the first (warm-up)."""
    if len(times) < 3:
        return float("nan")
    return (len(times) - 2) / (times[-1] - times[1])


class Timeline:
    """What the window's session reports, with times: build notes, states, steps arriving."""

    def __init__(self, window: MainWindow) -> None:
        self.t0 = time.monotonic()
        self.notes: list[tuple[float, str, float]] = []
        self.states: list[tuple[float, str]] = []
        self.ready_at: float | None = None
        self.steps: list[tuple[float, int]] = []
        self.window = window
        s = window.session
        s.building.connect(lambda _run_id, stage, frac, *_: self.notes.append(
            (time.monotonic(), str(stage), float(frac))))
        s.stateChanged.connect(lambda st: self.states.append((time.monotonic(), st)))
        s.ready.connect(lambda *_: setattr(self, "ready_at", time.monotonic()))
        window.clock.frame.connect(self._frame)

    def _frame(self, _index: int) -> None:
        run = self.window.session.run
        if run is None or not run.live:
            return
        step = run.step
        if step and (not self.steps or step != self.steps[-1][1]):
            self.steps.append((time.monotonic(), step))

    def state_at(self, state: str) -> float | None:
        return next((t for t, s in self.states if s == state), None)

    def step_times(self) -> list[float]:
        """Time each step reached the window (steps arriving together share a time)."""
        out: list[float] = []
        for t, step in self.steps:
            out += [t] * (step - len(out))
        return out


def live(app: QApplication, config: Config, steps: int) -> dict[str, object]:
    window = MainWindow(config=config)
    window.resize(1920, 1080)
    beat = Heartbeat()
    beat.start()
    timeline = Timeline(window)
    window.show()
    frames = PaintedFrames(window.views["heatmap"])
    window.start_worker()
    frames.watch_worker(window.session)
    spin(app, 600, lambda: window.session.state in ("ready", "invalid"))
    if window.session.state != "ready":
        sys.exit(f"bench_bignet: the app did not build depth {config.depth} x width "
                 f"{config.width} (state '{window.session.state}'); nothing to measure")
    built = time.monotonic()
    spin(app, 0.5)
    frames.reset()
    # Every view's GUI-thread CPU while training (the run panel's diagram and banner, and
    # the docks on screen): what the window takes from the worker's cores.
    each = {f"{k} dock": PaintedFrames(v) for k, v in window.views.items()
            if k != "heatmap" and v.is_shown()}
    panel = window.panels.panels[0]
    each.update({"heatmap dock": frames, "diagram": PaintedFrames(panel.diagram),
                 "banner": PaintedFrames(panel.banner)})
    costs_at = {k: (f.count, f.paint_cpu, f.refreshes, f.refresh_cpu) for k, f in each.items()}
    started = time.monotonic()
    cpu_started = time.process_time()
    window.start_training()
    spin(app, 600, lambda: len(timeline.step_times()) >= steps)
    paused_sent = time.monotonic()
    window_cpu = (time.process_time() - cpu_started) / (paused_sent - started)
    costs = {k: tuple(x - y for x, y in zip((f.count, f.paint_cpu, f.refreshes, f.refresh_cpu),
                                            costs_at[k], strict=True))
             for k, f in each.items()}
    window.session.pause()
    spin(app, 600, lambda: window.session.state == "paused")
    paused = time.monotonic()
    beat.stop()
    first_paint = frames.shown_at[0] if frames.shown_at else None
    window.close()
    spin(app, 0.5)
    return dict(timeline=timeline, built=built, started=started, first_paint=first_paint,
                pause=paused - paused_sent, beat=beat, paused_sent=paused_sent,
                window_cpu=window_cpu, costs=costs,
                paused=paused, state=window.session.state)


def report(config: Config, result: dict[str, object], plain: list[float], threads: int) -> None:
    tl = result["timeline"]
    assert isinstance(tl, Timeline)
    ready_at = tl.ready_at or tl.t0
    print(f"depth {config.depth} x width {config.width} tanh, {config.init} init, batch "
          f"{config.batch_size}, "
          f"{threads} thread(s) ({load_average()})")
    print("   build notes: " + ("; ".join(f"+{t - ready_at:.2f} s '{s}' ({f:.0%})"
                                          for t, s, f in tl.notes) or "none")
          + f"  target: a note while building: {verdict(bool(tl.notes))}")
    built = float(result["built"])  # type: ignore[arg-type]
    print(f"   worker ready -> run ready (built): {built - ready_at:.2f} s")
    times = tl.step_times()
    live_rate, plain_rate = rate_of(times), rate_of(plain)
    step_s = 1 / live_rate if live_rate == live_rate and live_rate > 0 else float("nan")
    first = result["first_paint"]
    started = float(result["started"])  # type: ignore[arg-type]
    if first is None:
        print("   first row on screen: never painted  target: MISSED")
    else:
        took = float(first) - started  # type: ignore[arg-type]
        print(f"   Start -> first row painted: {took:.2f} s = {took / step_s:.2f} step times "
              f"(step {step_s:.2f} s)  target <= 2 steps: {verdict(took <= 2 * step_s)}")
    pause = float(result["pause"])  # type: ignore[arg-type]
    limit = max(0.1, step_s)
    print(f"   Pause -> paused: {pause * 1000:.0f} ms  target <= {limit * 1000:.0f} ms "
          f"(100 ms or one step): {verdict(pause <= limit)}")
    beat = result["beat"]
    assert isinstance(beat, Heartbeat)
    sent, paused = (float(result[k])  # type: ignore[arg-type]
                    for k in ("paused_sent", "paused"))
    phases = {"build": beat.worst_stall(ready_at, started),
              "training": beat.worst_stall(started, sent),
              "pausing": beat.worst_stall(sent, paused)}
    stall = max(phases.values())
    print("   longest event-loop stall: " + ", ".join(f"{k} {v * 1000:.0f} ms"
                                                     for k, v in phases.items())
          + f"  target <= 50 ms: {verdict(stall <= 0.05)}; (the window's start-up, before "
          f"the worker was ready: {beat.worst_stall(until=ready_at) * 1000:.0f} ms)")
    print(f"   steps/s after the first step: live {live_rate:.3f}, plain nn.Sequential "
          f"{plain_rate:.3f}; ratio {live_rate / plain_rate:.2f} (expected ~1)")
    print(f"   the window's own CPU while training: "
          f"{float(result['window_cpu']):.0%} of a core; by view, CPU ms per second: "
          + view_costs(result["costs"], sent - float(result["started"]),  # type: ignore
                       words=False))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--depth", type=int, default=200)
    parser.add_argument("--width", type=int, default=1024)
    parser.add_argument("--steps", type=int, default=5, help="steps to train (at least 3)")
    parser.add_argument("--init", default="xavier_uniform",
                        help="weight init (default xavier_uniform: with PyTorch's default init "
                             "a 200-layer tanh net's gradients underflow to denormal floats, "
                             "and the CPU's slow denormal arithmetic, not the app, sets the "
                             "pace; both sides slow alike)")
    parser.add_argument("--quick", action="store_true", help="width 256, 4 steps")
    args = parser.parse_args()
    if args.quick:
        args.width, args.steps = 256, 4
    if args.steps < 3 or not 1 <= args.depth <= 200 or not 1 <= args.width <= 1024:
        sys.exit("bench_bignet: --steps must be >= 3, --depth 1-200, --width 1-1024")
    config = bench_config(args.depth, args.width, steps=10**6, init=args.init)
    threads = app_threads(config)
    app = make_app()
    result = live(app, config, args.steps)
    plain = plain_step_times(config, args.steps, threads, write_data(config))
    report(config, result, plain, threads)


if __name__ == "__main__":
    main()
