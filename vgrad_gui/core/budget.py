"""How much memory and time a config will take, estimated before anything is built.

Qt-free and torch-free, so the GUI, the CLI and the worker can all ask before building a net:
``check_budget(config)`` refuses a config that cannot fit in memory (a ConfigError naming the
estimate and what is available) and returns one-line warnings when it will be slow.

The figures are deliberately on the high side (measured on the CPU, float32, at the probe's
busiest step; the measured peak resident memory was 0.5-0.8x the estimate, from a default
net to depth 20 x width 1024 with adam and a batch of 16384 x width 1024):

- weights: the probe keeps every weight and weight gradient as a row of a buffer padded to
  the largest layer; on a statistics step it also holds a copy of the weights (for the update
  ratio), their difference and float64 versions of rows it re-measures. So ~7 padded copies,
  plus the optimizer's state (adam 2, momentum 1 per parameter).
- activations: per hidden layer and example, ~6 values of the layer's width (the Linear, norm
  and activation outputs, the shortcut sum and, in the backward pass, their gradients).
- evaluation of the held-out split (no gradients), the data set, and the runtime itself
  (PyTorch ~220 MB resident after import, ~310 MB with the app at a small net's first step).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from vgrad_gui.core.spec import Config, ConfigError

FLOAT = 4  # bytes per float32 value
PADDED_COPIES = 7  # padded weight-sized buffers held by the model and probe at their peak
OPTIMIZER_SLOTS = {"sgd": 0, "momentum": 1, "adam": 2}
VALUES_PER_UNIT = 6  # activation values kept per example, hidden layer and unit
RUNTIME_BYTES = 400 * 2**20  # PyTorch and the app (~310 MB measured), with some headroom
SAFETY = 0.8  # refuse when the estimate exceeds this fraction of the memory available
TEST_FRACTION = 0.2  # as in datasets.py
DIGITS_ROWS = 1797
# Sustained float32 rate assumed for the time estimate, on the low side for a CPU with the 1-4
# threads the trainer uses (measured 4-36 GFLOP/s on a busy 2-core machine, depending on the
# matrix sizes); an accelerator is assumed 50x faster. Each layer also costs per-op overhead.
CPU_FLOPS = 1e10
ACCELERATOR_FLOPS = 5e11
SECONDS_PER_LAYER = 1e-4
SLOW_STEP_S = 1.0  # warn above this many seconds per step


@dataclass(frozen=True)
class Estimate:
    parameters: int
    weight_bytes: int  # parameters, gradients, optimizer state, the probe's padded buffers
    activation_bytes: int  # one training batch, forward and backward, plus evaluation
    data_bytes: int
    runtime_bytes: int
    flops_per_step: float
    seconds_per_step: float
    on_accelerator: bool

    @property
    def host_bytes(self) -> int:
        """What must fit in this machine's memory: everything on the CPU; with an
        accelerator, the runtime, the data and the model as first built on the CPU."""
        if self.on_accelerator:
            return self.runtime_bytes + self.data_bytes + self.parameters * FLOAT * 2
        return self.runtime_bytes + self.data_bytes + self.weight_bytes + self.activation_bytes


def shape(config: Config) -> tuple[int, int]:
    """Input size and number of classes of the config's data set."""
    if config.dataset == "digits":
        return 64, 10
    return 2, 3 if config.dataset == "blobs" else 2


def estimate(config: Config) -> Estimate:
    d_in, classes = shape(config)
    w, depth = config.width, config.depth
    rows = DIGITS_ROWS if config.dataset == "digits" else config.samples
    n_test = max(1, round(rows * TEST_FRACTION))
    batch = min(config.batch_size, rows - n_test)
    sizes = [d_in * w] + [w * w] * (depth - 1) + [w * classes]
    norm_params = 2 * w * depth if config.norm != "none" else 0
    params = sum(sizes) + w * depth + classes + norm_params
    padded = (depth + 1) * (max(sizes) + w) * FLOAT
    weight_bytes = (padded * PADDED_COPIES
                    + params * FLOAT * OPTIMIZER_SLOTS[config.optimizer])
    activation_bytes = (batch * VALUES_PER_UNIT + n_test * 3) * w * depth * FLOAT
    # Generated in float64 with a few temporaries, then kept as float32 inputs, int64 labels.
    data_bytes = rows * (d_in * 8 * 4 + 8 * 3)
    flops = 6.0 * params * batch
    on_accelerator = _on_accelerator(config.device)
    rate = ACCELERATOR_FLOPS if on_accelerator else CPU_FLOPS
    seconds = flops / rate + (depth + 1) * SECONDS_PER_LAYER
    return Estimate(params, weight_bytes, activation_bytes, data_bytes, RUNTIME_BYTES, flops,
                    seconds, on_accelerator)


def _on_accelerator(device: str) -> bool:
    if device in ("cuda", "mps"):
        return True
    if device == "auto":
        # Without importing torch: the NVIDIA driver's files say whether 'auto' means CUDA.
        return Path("/proc/driver/nvidia/version").exists()
    return False


def available_memory() -> int | None:
    """Bytes this process can still use: MemAvailable, lowered by a cgroup limit when one is
    set; the free physical pages where /proc is missing; None when nothing can be read."""
    found = _meminfo_available()
    if found is None:
        try:
            found = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        except (AttributeError, OSError, ValueError):
            found = None
    limit = _cgroup_room()
    if limit is not None:
        found = limit if found is None else min(found, limit)
    return found


def _meminfo_available() -> int | None:
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def _cgroup_room() -> int | None:
    try:
        limit = Path("/sys/fs/cgroup/memory.max").read_text().strip()
        used = Path("/sys/fs/cgroup/memory.current").read_text().strip()
        return max(0, int(limit) - int(used)) if limit != "max" else None
    except (OSError, ValueError):
        return None


def human_bytes(n: float) -> str:
    for unit, size in (("TiB", 2**40), ("GiB", 2**30), ("MiB", 2**20)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n / 2**10:.0f} KiB"


def human_seconds(s: float) -> str:
    for unit, size in (("days", 86400), ("h", 3600), ("min", 60)):
        if s >= size:
            return f"{s / size:.1f} {unit}"
    return f"{s:.1f} s"


def check_budget(config: Config, *, available: int | None = None) -> list[str]:
    """Raise ConfigError when the config cannot fit in memory; return one-line warnings when
    it will be slow or use most of the memory. ``available`` (bytes) is read when not given."""
    est = estimate(config)
    room = available_memory() if available is None else available
    need = est.host_bytes
    if room is not None and need > SAFETY * room:
        biggest = ("activations for a batch of "
                   f"{config.batch_size}: {human_bytes(est.activation_bytes)}"
                   if est.activation_bytes >= est.weight_bytes
                   else f"{est.parameters:,} parameters with gradients, optimizer state and "
                        f"the probe's copies: {human_bytes(est.weight_bytes)}")
        raise ConfigError("", None, f"this network needs about {human_bytes(need)} of memory "
                          f"({biggest}) but {human_bytes(room)} is available; reduce depth, "
                          "width or batch_size")
    warnings = []
    if est.seconds_per_step > SLOW_STEP_S:
        where = "an accelerator" if est.on_accelerator else "the CPU"
        warnings.append(f"slow: roughly {human_seconds(est.seconds_per_step)} per step on "
                        f"{where} ({est.flops_per_step:.1e} FLOP); {config.steps} steps would "
                        f"take roughly {human_seconds(est.seconds_per_step * config.steps)}")
    if room is not None and need > room / 2:
        warnings.append(f"memory: this network needs about {human_bytes(need)} of the "
                        f"{human_bytes(room)} available")
    return warnings
