"""What the benchmarks share: the plain-PyTorch baseline a user would write, whole-process
timing of ``record`` and the live window, and a 5 ms heartbeat for event-loop stalls.

Nothing here imports torch or Qt at module level: the parent process of a benchmark only
launches and times other processes.
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from vgrad_gui.core.datasets import make_dataset
from vgrad_gui.core.spec import Config

ROOT = Path(__file__).resolve().parent.parent
TMP = Path(tempfile.mkdtemp(prefix="vgrad-bench-"))
atexit.register(shutil.rmtree, TMP, ignore_errors=True)

# The plain loop a practitioner would write: nn.Sequential of Linear and the activation, SGD,
# the app's data and batch order (a permutation per epoch from Generator(seed + 1)). It prints
# the monotonic time when it has trained the last step, and exits.
PLAIN = """
import sys, time
import numpy as np, torch, torch.nn as nn, torch.nn.functional as F
depth, width, batch, steps, threads, seed = (int(a) for a in sys.argv[1:7])
lr, data, act = float(sys.argv[7]), sys.argv[8], sys.argv[9]
init = sys.argv[10] if len(sys.argv) > 10 else "default"
torch.set_num_threads(threads)
torch.manual_seed(seed)
x, y = torch.from_numpy(np.load(data + ".x.npy")), torch.from_numpy(np.load(data + ".y.npy"))
Act = {"tanh": nn.Tanh, "relu": nn.ReLU, "sigmoid": nn.Sigmoid}[act]
layers, d = [], x.shape[1]
for _ in range(depth):
    layers += [nn.Linear(d, width), Act()]
    d = width
model = nn.Sequential(*layers, nn.Linear(d, int(y.max()) + 1))
if init != "default":  # as the app's inits.py: the named scheme on weights, zero biases
    for m in model:
        if isinstance(m, nn.Linear):
            getattr(nn.init, init + "_")(m.weight)
            nn.init.zeros_(m.bias)
opt = torch.optim.SGD(model.parameters(), lr=lr)
gen, order, cursor, n = torch.Generator().manual_seed(seed + 1), None, 0, len(x)
for step in range(steps):
    if order is None or cursor + batch > n:
        order, cursor = torch.randperm(n, generator=gen), 0
    idx = order[cursor:cursor + batch]
    cursor += batch
    loss = F.cross_entropy(model(x[idx]), y[idx])
    opt.zero_grad()
    loss.backward()
    opt.step()
print(f"done {time.monotonic():.6f} loss {loss.item():.4f}", flush=True)
"""


class SyntheticRun:
    """A run of made-up rows, 50 Linear layers by default, log-spaced gradient norms as a
    vanishing sigmoid net makes (the lowest layer ``10**-low`` of the output's), with
    ``steps`` steps of history; ``take(k)`` makes the next ``k`` rows, as a worker training
    it would send them. ``seed`` and ``low`` make the runs of a comparison differ."""

    def __init__(self, steps: int = 100_000, depth: int = 49, seed: int = 0,
                 low: float = 9.0) -> None:
        from vgrad_gui.core.history import RunHistory
        from vgrad_gui.core.records import row_width

        self.cfg = Config(depth=depth, width=16, activation="sigmoid", steps=10**8, seed=seed)
        names = [f"hidden {i}" for i in range(1, depth + 1)] + ["output"]
        self.history = RunHistory(self.cfg, names, "saturated")
        self.n = n = len(names)
        self.rng = np.random.default_rng(seed)
        self.base = np.linspace(-low, 0.0, n)
        self.width = row_width("steps", n)
        self.pw = row_width("probes", n)
        s, block = self.rows(1, steps)
        self.history.extend("steps", s, block)
        marks = np.arange(100, steps + 1, 100)
        self.history.extend("probes", marks,
                            self.rng.random((len(marks), self.pw)).astype(np.float32))
        self.history.extend("evals", marks,
                            self.rng.random((len(marks), 2)).astype(np.float32))
        self.next_step = steps + 1

    def rows(self, first: int, k: int) -> tuple[np.ndarray, np.ndarray]:
        n = self.n
        block = np.empty((k, self.width), np.float32)
        block[:, :n] = 10 ** (self.base + self.rng.normal(0, 0.2, (k, n)))
        block[:, n : 2 * n] = block[:, :n] * 0.3
        block[:, -2] = 0.69 + self.rng.normal(0, 0.01, k)
        block[:, -1] = 0.5
        return np.arange(first, first + k), block

    def take(self, k: int) -> tuple[np.ndarray, np.ndarray]:
        out = self.rows(self.next_step, k)
        self.next_step += k
        return out


def bench_config(depth: int, width: int, **changes: object) -> Config:
    """The benchmark network: tanh, PyTorch's default init, SGD, batch 128, moons, CPU."""
    base = dict(depth=depth, width=width, activation="tanh", init="default", optimizer="sgd",
                lr=0.01, batch_size=128, dataset="moons", seed=0, device="cpu")
    base.update(changes)
    return Config(**base)  # type: ignore[arg-type]


def app_threads(config: Config) -> int:
    """The thread count the app uses for this config (``trainer.threads_for``), without
    importing torch here: 1 up to width 128, else the physical cores up to 4."""
    if config.width <= 128:
        return 1
    out = subprocess.run([sys.executable, "-c", "import torch; print(torch.get_num_threads())"],
                         capture_output=True, text=True, check=True)
    return max(1, min(4, int(out.stdout.strip())))


def write_data(config: Config) -> str:
    """The app's training split for ``config``, saved for the plain script; returns its stem."""
    data = make_dataset(config.dataset, config.samples, config.noise, config.seed)
    stem = TMP / f"{config.dataset}-{config.samples}-{config.noise}-{config.seed}"
    np.save(f"{stem}.x.npy", data.x_train)
    np.save(f"{stem}.y.npy", data.y_train)
    return str(stem)


def write_config(config: Config) -> str:
    path = TMP / f"config-{config.depth}x{config.width}-{config.steps}.json"
    path.write_text(config.to_json())
    return str(path)


def plain_script() -> str:
    path = TMP / "plain_loop.py"
    if not path.exists():
        path.write_text(PLAIN)
    return str(path)


def plain_command(config: Config, steps: int, threads: int, data: str) -> list[str]:
    return [sys.executable, plain_script(), str(config.depth), str(config.width),
            str(config.batch_size), str(steps), str(threads), str(config.seed), str(config.lr),
            data, config.activation, config.init]


def fresh_env(**extra: str) -> dict[str, str]:
    """An environment with its own settings and data folders (a first launch of the app,
    nothing saved from an earlier run) and the offscreen Qt platform."""
    home = tempfile.mkdtemp(dir=TMP)
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen",
               XDG_CONFIG_HOME=os.path.join(home, "config"),
               XDG_DATA_HOME=os.path.join(home, "data"))
    env.update(extra)
    return env


def wall_time(cmd: Sequence[str], env: dict[str, str] | None = None,
              timeout: float = 600) -> float:
    """Seconds from launching ``cmd`` to its exit (it must succeed)."""
    started = time.monotonic()
    out = subprocess.run(list(cmd), capture_output=True, text=True, env=env or fresh_env(),
                         timeout=timeout, cwd=ROOT)
    took = time.monotonic() - started
    if out.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[:4])}... failed ({out.returncode}):\n"
                           f"{out.stderr[-2000:]}")
    return took


def time_to_line(cmd: Sequence[str], marker: str, env: dict[str, str] | None = None,
                 timeout: float = 600,
                 parse: Callable[[str], float] | None = None) -> tuple[float, str]:
    """Seconds from launching ``cmd`` to the monotonic time it prints on a line starting with
    ``marker`` (``marker <monotonic> ...``, or read by ``parse``), on stdout or stderr; then
    the process is ended."""
    (took, line), = times_to_lines(cmd, [marker], env, timeout, parse)
    return took, line


def times_to_lines(cmd: Sequence[str], markers: Sequence[str],
                   env: dict[str, str] | None = None, timeout: float = 600,
                   parse: Callable[[str], float] | None = None) -> list[tuple[float, str]]:
    """``time_to_line`` for several markers, in the order given: the process is ended once
    it has printed all of them."""
    started = time.monotonic()
    proc = subprocess.Popen(list(cmd), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, env=env or fresh_env(), cwd=ROOT)
    assert proc.stdout is not None
    seen: list[str] = []
    found: dict[str, tuple[float, str]] = {}
    try:
        deadline = started + timeout
        for line in proc.stdout:
            seen.append(line)
            for marker in markers:
                if marker not in found and line.startswith(marker):
                    at = parse(line) if parse else float(line.split()[1])
                    found[marker] = (at - started, line.strip())
            if len(found) == len(markers):
                return [found[m] for m in markers]
            if time.monotonic() > deadline:
                break
        missing = [m for m in markers if m not in found]
        raise RuntimeError(f"no '{missing[0]}' line from {' '.join(cmd[:4])}...:\n"
                           + "".join(seen[-30:]))
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)


def spread(values: Sequence[float], fmt: str = ".0f") -> str:
    """'median (min-max, n runs)'."""
    if not values:
        return "n/a"
    med = statistics.median(values)
    if len(values) == 1:
        return f"{med:{fmt}}"
    return f"{med:{fmt}} (range {min(values):{fmt}}-{max(values):{fmt}}, {len(values)} runs)"


def verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


def config_json(config: Config) -> str:
    return json.dumps(config.to_dict())


def cpu_seconds(pid: int | None) -> float:
    """CPU time (user + system) of process ``pid`` so far; NaN where /proc cannot tell."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except (OSError, TypeError):
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def load_average() -> str:
    try:
        return "load average " + " ".join(f"{v:.1f}" for v in os.getloadavg())
    except OSError:
        return ""
