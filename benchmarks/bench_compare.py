"""Compare mode's training speed: runs trained together by one worker process, in lockstep,
against the same configs trained one after another headless.

  together    the app's worker process (vgrad_gui.core.worker, spawned through WorkerClient as
              the GUI does, no GUI drawing), all runs configured, SetSpeed(None), Start; timed
              from Start to the worker's clock stamp on the rows that bring the last run to
              step N (steps counted from the Rows events). Decision boundaries on, as in the app.
  sequential  the same configs trained one after another as ``vgrad-gui record`` trains them:
              ``vgrad_gui.cli.train`` (Trainer.run in blocks of 16, every block appended to a
              RunHistory) with record's thread count, in one subprocess; timed around each
              train() call and summed.
Building the networks, torch's import and process start-up are excluded from both. Rates are
total steps of all runs per second; each ratio is taken within one repeat (the two modes run
back to back, in a rotating order) so load from other processes hits both alike. Targets:
2 runs >= 0.85x, 4 runs >= 0.80x the sequential rate.

    python benchmarks/bench_compare.py [--repeats 3] [--steps 3000] [--quick]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable

from _common import ROOT, load_average, spread, verdict

from vgrad_gui.core import worker as w
from vgrad_gui.core.presets import get_preset
from vgrad_gui.core.spec import Config

SETS = {
    2: ("deep_sigmoid", "relu_he"),
    4: ("deep_sigmoid", "relu_he", "batch_norm", "residual"),
}
TARGETS = {2: 0.85, 4: 0.80}
TIMEOUT = 600.0

# Trains each config with record's own code; prints the seconds train() reports (its own
# timer, around Trainer.run) and the CPU seconds of Trainer.run (which calls back to append
# each block to the history), summed over the configs.
SEQUENTIAL = """
import json, sys, time
import torch
from vgrad_gui.cli import train
from vgrad_gui.core import trainer as trainer_mod
from vgrad_gui.core.spec import Config
cpu = []
real_run = trainer_mod.Trainer.run
def timed_run(self, *args, **kwargs):
    started = time.process_time()
    try:
        return real_run(self, *args, **kwargs)
    finally:
        cpu.append(time.process_time() - started)
trainer_mod.Trainer.run = timed_run
took = []
for name, data in json.loads(sys.argv[1]):
    config = Config.from_dict(data)
    torch.set_num_threads(trainer_mod.threads_for(config))
    history, elapsed, stopped = train(config, name, quiet=True)
    assert not stopped and history.step == config.steps, (name, history.step, stopped)
    took.append(elapsed)
print("took", json.dumps([sum(took), sum(cpu)]), flush=True)
"""


def configs(n_runs: int, steps: int) -> list[tuple[str, Config]]:
    return [(name, get_preset(name).config.replace(steps=steps, device="cpu"))
            for name in SETS[n_runs]]


def sequential(runs: list[tuple[str, Config]]) -> tuple[float, float]:
    """Total steps per second of the configs trained one after another, headless: per second
    of wall time and per CPU second."""
    payload = json.dumps([(name, c.to_dict()) for name, c in runs])
    out = subprocess.run([sys.executable, "-c", SEQUENTIAL, payload], capture_output=True,
                         text=True, cwd=ROOT, timeout=TIMEOUT)
    if out.returncode != 0:
        raise RuntimeError(f"the sequential run failed ({out.returncode}):\n{out.stderr[-2000:]}")
    took, cpu = json.loads(out.stdout.split("took ", 1)[1])
    total = sum(c.steps for _, c in runs)
    return total / took, total / cpu


class Together:
    """One worker process, reused across repeats (its start-up is not what is measured)."""

    def __init__(self) -> None:
        self.client = w.WorkerClient()
        self.client.start()
        self.next_id = 1
        self.wait(lambda ev: isinstance(ev, w.Ready), "the worker to start")

    def wait(self, done: Callable[[object], bool], what: str) -> list[object]:
        seen: list[object] = []
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            for ev in self.client.poll():
                seen.append(ev)
                if isinstance(ev, w.Failed):
                    raise RuntimeError(f"the worker failed: {ev.message}")
                if done(ev):
                    return seen
            time.sleep(0.002)
        raise RuntimeError(f"timed out waiting for {what}")

    def cpu_seconds(self) -> float:
        """CPU time of the worker process so far (Linux: /proc; NaN elsewhere)."""
        try:
            with open(f"/proc/{self.client.process.pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            return math.nan
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def rate(self, runs: list[tuple[str, Config]]) -> tuple[float, float]:
        """Total steps per second of the configs trained together: per second of wall time
        and per CPU second of the worker process."""
        ids = list(range(self.next_id, self.next_id + len(runs)))
        self.next_id += len(runs)
        self.client.send(w.SetSpeed(None))
        for i, (run_id, (_, config)) in enumerate(zip(ids, runs, strict=True)):
            self.client.send(w.Configure(run_id, config.to_dict(), solo=i == 0))
        last = ids[-1]
        self.wait(lambda ev: isinstance(ev, w.Configured) and ev.run_id == last,
                  "the networks to be built")
        steps = {run_id: 0 for run_id in ids}
        target = {run_id: config.steps for run_id, (_, config) in zip(ids, runs, strict=True)}
        finished_at = 0.0
        cpu = self.cpu_seconds()
        started = time.monotonic()
        self.client.send(w.Start())

        def all_there(ev: object) -> bool:
            nonlocal finished_at
            if isinstance(ev, w.Rows) and ev.run_id in steps and len(ev.steps):
                steps[ev.run_id] = int(ev.steps[-1])
                finished_at = max(finished_at, ev.newest_done)
            return all(steps[i] >= target[i] for i in ids)

        self.wait(all_there, "every run to reach its last step")
        cpu = self.cpu_seconds() - cpu
        total = sum(target.values())
        return total / (finished_at - started), total / cpu

    def close(self) -> None:
        self.client.shutdown()


def measure(n_runs: int, steps: int, repeats: int, together: Together) -> None:
    runs = configs(n_runs, steps)
    rates: dict[str, list[float]] = {"together": [], "sequential": []}
    ratios: list[float] = []
    cpu_ratios: list[float] = []
    for r in range(repeats):
        this: dict[str, tuple[float, float]] = {}
        for mode in (("together", "sequential") if r % 2 == 0 else ("sequential", "together")):
            this[mode] = together.rate(runs) if mode == "together" else sequential(runs)
            rates[mode].append(this[mode][0])
        ratios.append(this["together"][0] / this["sequential"][0])
        cpu_ratios.append(this["together"][1] / this["sequential"][1])
        print(f"   repeat {r + 1}: together {this['together'][0]:.0f}, sequential "
              f"{this['sequential'][0]:.0f} steps/s, ratio {ratios[-1]:.2f} (per CPU second "
              f"{cpu_ratios[-1]:.2f})  ({load_average()})", flush=True)
    names = ", ".join(name for name, _ in runs)
    print(f"{n_runs} runs ({names}), {steps} steps each, CPU:")
    for mode, values in rates.items():
        print(f"   {mode:10s} {spread(values)} steps/s (all runs together)")
    target = TARGETS[n_runs]
    print(f"   together/sequential {spread(ratios, '.2f')}  target >= {target:.2f}: "
          f"{verdict(statistics.median(ratios) >= target)}")
    # Steps per CPU second: less moved by other processes on a shared machine than wall time
    # (the worker's figure includes its queue's feeder thread and the decision boundaries).
    print(f"   per CPU second, together/sequential {spread(cpu_ratios, '.2f')}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--steps", type=int, default=3000, help="steps of each run")
    parser.add_argument("--runs", default="2,4", help="comma-separated, of 2, 4")
    parser.add_argument("--quick", action="store_true",
                        help="2 repeats of 400 steps each (a smoke test)")
    args = parser.parse_args()
    try:
        sets = [int(n) for n in args.runs.split(",") if n.strip()]
    except ValueError:
        sets = []
    if not sets or any(n not in SETS for n in sets) or args.repeats < 1 or args.steps < 50:
        sys.exit(f"bench_compare: --runs must be a comma-separated list of "
                 f"{', '.join(map(str, SETS))}; --repeats >= 1; --steps >= 50 "
                 f"(got {args.runs!r}, {args.repeats}, {args.steps})")
    repeats, steps = args.repeats, args.steps
    if args.quick:
        repeats, steps = 2, 400
    print("Compare mode: runs trained together in one worker process (lockstep) vs one after "
          "another headless (cli.train, as record, in a subprocess). Shared CPUs "
          f"({load_average()}): compare ratios, not absolute rates.", flush=True)
    together = Together()
    try:
        for n_runs in sets:
            measure(n_runs, steps, repeats, together)
    finally:
        together.close()


if __name__ == "__main__":
    main()
