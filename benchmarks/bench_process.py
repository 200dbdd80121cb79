"""Whole-process training speed, as a user would measure it with a stopwatch.

Three programs train the same network on the same data, batch order and thread count:
  plain   a five-line PyTorch loop (nn.Sequential of Linear + Tanh, SGD), the baseline;
  record  ``python -m vgrad_gui record --config CFG --steps N -q -o out.npz`` (every layer's
          gradient and the probe statistics recorded, the run saved);
  live    the desktop app, ``vgrad-gui --config CFG --autostart`` on the offscreen platform,
          timed until step N is in the window's history (benchmarks/_live_driver.py).
Each runs twice, N1 and N2 steps, so start-up cancels: rate = (N2 - N1) / (t2 - t1). Runs are
interleaved (plain, record, live, in a rotating order) and every ratio is taken within one
repeat, so load from other processes hits all three alike. Targets: record >= 0.95x plain,
live >= 0.90x plain.

    python benchmarks/bench_process.py [--repeats 3] [--configs 20x32,50x16,10x256] [--quick]
"""

from __future__ import annotations

import argparse
import statistics
import sys

from _common import (
    TMP,
    app_threads,
    bench_config,
    load_average,
    plain_command,
    spread,
    time_to_line,
    verdict,
    wall_time,
    write_config,
    write_data,
)

# name: (depth, width, N1, N2). N2 - N1 is ~5 s of plain training on an idle 2-core machine.
CONFIGS = {
    "20x32": (20, 32, 1000, 6000),
    "50x16": (50, 16, 500, 2500),
    "10x256": (10, 256, 500, 2500),
}
TARGETS = {"record": 0.95, "live": 0.90}
MODES = ("plain", "record", "live")


def run_once(mode: str, depth: int, width: int, steps: int, threads: int, data: str) -> float:
    """Seconds from launch to the N-th step done (plain, record: to exit; live: to the row
    being in the window)."""
    config = bench_config(depth, width, steps=steps)
    if mode == "plain":
        return wall_time(plain_command(config, steps, threads, data))
    path = write_config(config)
    if mode == "record":
        return wall_time([sys.executable, "-m", "vgrad_gui", "record", "--config", path,
                          "--steps", str(steps), "-q", "-o", str(TMP / "out.npz")])
    took, _ = time_to_line([sys.executable, "benchmarks/_live_driver.py", path, str(steps)],
                           "reached")
    return took


def measure(name: str, repeats: int, modes: tuple[str, ...], scale: float) -> None:
    depth, width, n1, n2 = CONFIGS[name]
    n1, n2 = max(50, int(n1 * scale)), max(200, int(n2 * scale))
    config = bench_config(depth, width)
    threads = app_threads(config)
    data = write_data(config)
    rates: dict[str, list[float]] = {m: [] for m in modes}
    ratios: dict[str, list[float]] = {m: [] for m in modes if m != "plain"}
    intercepts: dict[str, list[float]] = {m: [] for m in modes}
    for r in range(repeats):
        order = modes[r % len(modes):] + modes[:r % len(modes)]
        times: dict[tuple[str, int], float] = {}
        for n in ((n1, n2) if r % 2 == 0 else (n2, n1)):
            for mode in order:
                times[mode, n] = run_once(mode, depth, width, n, threads, data)
        this = {m: (n2 - n1) / (times[m, n2] - times[m, n1]) for m in modes}
        for m in modes:
            rates[m].append(this[m])
            intercepts[m].append(times[m, n1] - n1 / this[m])
            if m != "plain" and "plain" in modes:
                ratios[m].append(this[m] / this["plain"])
        print(f"   repeat {r + 1}: " + ", ".join(f"{m} {this[m]:.0f}" for m in modes)
              + f" steps/s  ({load_average()})", flush=True)
    print(f"{name} tanh, batch 128, SGD, {threads} thread(s), N = {n1} and {n2}:")
    for m in modes:
        print(f"   {m:6s} {spread(rates[m])} steps/s; start-up (time at step 0) "
              f"{spread(intercepts[m], '.1f')} s")
    for m, values in ratios.items():
        if not values:
            continue
        target = TARGETS[m]
        med = statistics.median(values)
        print(f"   {m}/plain {spread(values, '.2f')}  target >= {target:.2f}: "
              f"{verdict(med >= target)}")
    sys.stdout.flush()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--configs", default=",".join(CONFIGS),
                        help=f"comma-separated, of {', '.join(CONFIGS)}")
    parser.add_argument("--modes", default=",".join(MODES),
                        help="comma-separated, of plain, record, live (plain is the baseline)")
    parser.add_argument("--scale", type=float, default=1.0, help="multiply the step counts")
    parser.add_argument("--quick", action="store_true",
                        help="20x32 only, one repeat, a fifth of the steps (a smoke test)")
    args = parser.parse_args()
    names = [c.strip() for c in args.configs.split(",") if c.strip()]
    bad = [c for c in names if c not in CONFIGS]
    modes = tuple(m.strip() for m in args.modes.split(",") if m.strip())
    bad_modes = [m for m in modes if m not in MODES]
    if bad or bad_modes or not names or not modes or args.repeats < 1:
        sys.exit(f"bench_process: unknown --configs {bad} or --modes {bad_modes}, or "
                 f"--repeats < 1; allowed configs: {', '.join(CONFIGS)}; modes: "
                 f"{', '.join(MODES)}")
    repeats, scale = args.repeats, args.scale
    if args.quick:
        names, repeats, scale = ["20x32"], 1, scale * 0.2
    print("Whole-process marginal training rates (2 run lengths; start-up cancels). "
          f"Shared CPUs ({load_average()}): compare ratios, not absolute rates.", flush=True)
    for name in names:
        measure(name, repeats, modes, scale)


if __name__ == "__main__":
    main()
