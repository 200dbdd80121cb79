"""One number per concept: what every view, the banner, the status bar and ``summary`` quote.

Each reading is computed here and nowhere else, and takes an optional ``step`` ("as it was at
step s"; default: the last step recorded), so two views asked about the same step can only
agree. No Qt and no torch: the GUI process imports this.

Definitions
- Current gradient of a layer (``current_grad_norms``): the median of its weight-gradient norm
  over the last ``WINDOW`` full-resolution steps at or before ``step``. A median, because one
  noisy minibatch should not move the number a room is reading. If any of those steps is NaN
  or infinite, the last row instead (a median would hide the blow-up). When the steps before
  ``step`` survive only as decimated buckets, the mean of the last bucket at or before it.
- Ratio to the output layer (``ratio_to_output``): norm / output layer's norm. A layer whose
  gradient is exactly 0 has ratio 0 ("no gradient"), also when the output layer's is 0 too
  (0/0 is never infinite); a layer with a gradient while the output layer has exactly none gets
  +inf (it does not happen in these networks: the output layer's gradient is 0 only when no
  signal reaches it, and then no gradient flows further back either); a non-finite norm, NaN.
- Class of a value (``classify``): ``zero`` (exactly 0.0), ``nonfinite`` (NaN or +-Inf, the
  same rule as ``records.first_nonfinite``) or ``finite``. Per layer (``classify_layers``), an
  exact zero is ``underflow`` when the gradient nearest it on the output side is already within
  ``UNDERFLOW_NEAR`` of float32's smallest number: the same decay, rounded to 0 by float32.
- First non-finite step (``first_nonfinite_step``): ``history.first_nonfinite_step``, set from
  ``records.first_nonfinite``; None if it lies after ``step``.
- Latest probe row (``probe_reading``): the statistics row (signal_std, backprop_grad,
  update_ratio, inactive_fraction, ...) at or before ``step``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from vgrad_gui.core.history import RunHistory, Series

WINDOW = 20  # full-resolution steps pooled into the "current" gradient
FLOAT32_TINIEST = 1.4e-45  # float32's smallest subnormal: anything smaller rounds to 0
# An exact zero next to a gradient below 1e-30 is float32 underflow: 1e-30 is only 15 decades
# above 1.4e-45, and the gradients that decay this far (deep sigmoid) lose one decade or more
# per layer, so the next 15 layers land below float32's range. A dead unit's zero instead sits
# next to an ordinary gradient (measured: 1e-3 to 1e-1).
UNDERFLOW_NEAR = 1e-30

ZERO, NONFINITE, FINITE, UNDERFLOW = "zero", "nonfinite", "finite", "underflow"


def classify(x: float) -> str:
    """'zero' (exactly 0.0), 'nonfinite' (NaN or +-Inf) or 'finite'."""
    x = float(x)
    if not math.isfinite(x):
        return NONFINITE
    return ZERO if x == 0.0 else FINITE


def classify_layers(norms: np.ndarray) -> list[str]:
    """Per layer: 'zero', 'underflow', 'nonfinite' or 'finite' (see the module notes)."""
    x = np.asarray(norms, np.float64)
    finite = np.isfinite(x)
    zero = x == 0.0
    # classify's rule, for the whole row at once (it runs on every view's refresh)
    classes = [FINITE if f and not z else (ZERO if z else NONFINITE)
               for f, z in zip(finite.tolist(), zero.tolist(), strict=True)]
    live = np.flatnonzero(finite & ~zero)  # where the nearest gradient on the output side is
    for i in np.flatnonzero(zero).tolist():
        k = int(np.searchsorted(live, i))
        if k < len(live) and x[live[k]] < UNDERFLOW_NEAR:
            classes[i] = UNDERFLOW
    return classes


def ratio_to_output(norms: np.ndarray) -> np.ndarray:
    """Each layer's norm over the output layer's (the last): 0 for a zero norm (0/0 too),
    +inf for x/0 with x > 0, NaN for a non-finite norm."""
    norms = np.asarray(norms, np.float64)
    out = norms[-1]
    with np.errstate(divide="ignore", invalid="ignore"):
        r = norms / out
    r[norms == 0] = 0.0
    r[~np.isfinite(norms)] = np.nan
    if not math.isfinite(out):
        r[:] = np.nan
    return r


@dataclass(frozen=True)
class GradReading:
    """The current gradient of every layer at one step."""

    step: int  # the last step the reading includes
    norms: np.ndarray  # float64 [layers]
    ratios: np.ndarray  # float64 [layers]: ratio_to_output(norms)
    classes: tuple[str, ...]  # classify_layers(norms)
    source: str  # how it was taken: "median", "last" (non-finite) or "bucket"

    def layers(self, cls: str) -> list[int]:
        return [i for i, c in enumerate(self.classes) if c == cls]


def _raw_upto(series: Series, cols: slice, step: int | None) -> tuple[np.ndarray, np.ndarray]:
    steps, rows = series.raw(cols)
    if step is not None:
        end = int(np.searchsorted(steps, step, side="right"))
        steps, rows = steps[:end], rows[:end]
    return steps, rows


def _bucket_upto(series: Series, cols: slice, step: int | None) -> tuple[int, np.ndarray] | None:
    """The mean of the last decimated record at or before ``step`` (its last step, row)."""
    return series.record_at(np.inf if step is None else step, cols)


def current_grad_norms(history: RunHistory, step: int | None = None) -> np.ndarray | None:
    """The current weight-gradient norm of every layer (see the module notes); None before
    the first step (or before ``step``)."""
    reading = grad_reading(history, step)
    return None if reading is None else reading.norms


def grad_reading(history: RunHistory, step: int | None = None) -> GradReading | None:
    """The current gradient of every layer at ``step`` (see the module notes). Kept per
    history until its steps change: the diagram, the bars, the banner and the status bar ask
    for the same reading in every frame, and take the same object (its arrays read-only)."""
    key = ("grad_reading", history.steps.version, None if step is None else int(step))
    kept = history.derived.get(key, False)
    if kept is not False:
        return kept
    reading = _grad_reading(history, step)
    if reading is not None:
        reading.norms.setflags(write=False)
        reading.ratios.setflags(write=False)
    if len(history.derived) >= 16:  # older versions: no longer asked for
        history.derived.clear()
    history.derived[key] = reading
    return reading


def _grad_reading(history: RunHistory, step: int | None) -> GradReading | None:
    cols = history.cols("steps", "grad_norm")
    steps, rows = _raw_upto(history.steps, cols, step)
    if len(rows):
        window = rows[-WINDOW:].astype(np.float64)
        if np.isfinite(window).all():
            norms, source = _median(window), "median"
        else:
            norms, source = window[-1], "last"
        at = int(steps[-1])
    else:
        found = _bucket_upto(history.steps, cols, step)
        if found is None:
            return None
        at, norms = found
        source = "bucket"
    return GradReading(at, norms, ratio_to_output(norms), tuple(classify_layers(norms)), source)


def _median(rows: np.ndarray) -> np.ndarray:
    """np.median(rows, axis=0), to the bit, for finite rows: a sort of a few rows is a
    quarter of np.median's cost, which every view's reading paid each frame."""
    ordered = np.sort(rows, axis=0)
    n = len(ordered)
    if n % 2:
        return ordered[n // 2]
    return (ordered[n // 2 - 1] + ordered[n // 2]) / 2


def record_value(history: RunHistory, table: str, channel: str,
                 step: int) -> np.ndarray | None:
    """A channel's values at the record ending at or before ``step`` (a row, or a bucket's
    mean): what the status bar shows while the timeline is moved back."""
    found = history.table(table).record_at(step, history.cols(table, channel))
    return None if found is None else found[1]


def first_nonfinite_step(history: RunHistory, step: int | None = None) -> int | None:
    """The first step whose gradient norms or loss were NaN/Inf, if it is at or before
    ``step`` (the one rule: ``records.first_nonfinite``)."""
    first = history.first_nonfinite_step
    if first is None or (step is not None and first > step):
        return None
    return first


def has_channel(history: RunHistory, table: str, channel: str) -> bool:
    return channel in dict(history.layouts[table])


@dataclass(frozen=True)
class ProbeReading:
    """The statistics row at or before a step: channel name -> values (only the channels this
    history records; a version-1 run file's missing channels read as NaN)."""

    step: int
    values: dict[str, np.ndarray]

    def get(self, channel: str) -> np.ndarray | None:
        v = self.values.get(channel)
        return None if v is None or not np.isfinite(v).any() else v


def probe_reading(history: RunHistory, step: int | None = None) -> ProbeReading | None:
    steps, rows = _raw_upto(history.probes, slice(None), step)
    if len(rows):
        at, row = int(steps[-1]), rows[-1].astype(np.float64)
    else:
        found = _bucket_upto(history.probes, slice(None), step)
        if found is None:
            return None
        at, row = found
    values = {name: row[history.cols("probes", name)] for name, _ in history.layouts["probes"]}
    return ProbeReading(at, values)


def window_mean(history: RunHistory, channel: str, step: int | None = None,
                first: bool = False, n: int = 50) -> tuple[float, int] | None:
    """The mean of a one-wide steps channel (loss, accuracy) over the first (``first=True``)
    or the last ``n`` steps at or before ``step``, and the step count it covers; decimated
    buckets count with their sizes. None when nothing was recorded by then."""
    cols = history.cols("steps", channel)
    _, rows = _raw_upto(history.steps, cols, step)
    if len(rows) >= n and not (first and history.steps.decimated):
        part = rows[:n] if first else rows[-n:]
        return float(part[:, 0].astype(np.float64).mean()), n
    rec = history.steps.records(cols, covering=n if first else None)
    keep = rec["last"] <= step if step is not None else np.ones(len(rec["last"]), bool)
    means, counts = rec["mean"][keep, 0], rec["count"][keep]
    if len(counts) == 0:
        return None
    cum = np.cumsum(counts if first else counts[::-1])
    k = int(np.searchsorted(cum, n)) + 1
    sel = slice(0, k) if first else slice(len(counts) - k, None)
    total = int(counts[sel].sum())
    return float(np.dot(means[sel], counts[sel]) / total), total


def eval_at(history: RunHistory, channel: str, step: int | None = None,
            first: bool = False) -> float | None:
    """The first or the latest held-out evaluation (test_loss, test_accuracy) at or before
    ``step``."""
    rec = history.evals.records(history.cols("evals", channel))
    keep = np.flatnonzero(rec["last"] <= step) if step is not None else \
        np.arange(len(rec["last"]))
    if len(keep) == 0:
        return None
    return float(rec["mean"][keep[0] if first else keep[-1], 0])


def value_text(x: float) -> str:
    """A gradient-sized number for people: '0' for exactly zero, 'NaN'/'+Inf' for non-finite,
    else 3 significant digits in scientific notation."""
    x = float(x)
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "+Inf" if x > 0 else "-Inf"
    return "0" if x == 0 else f"{x:.2e}"


def ratio_text(r: float) -> str:
    """A fraction or multiple in words a room can read: '1/300', '10^-7', '40x'."""
    if not math.isfinite(r):
        return "NaN" if math.isnan(r) else "infinite"
    if r <= 0:
        return "none"
    if r >= 1e4:
        return f"10^{math.floor(math.log10(r))}x"
    if r >= 0.1:
        return f"{r:.2g}x"
    if r >= 1e-4:
        return f"1/{_round_sig(1 / r)}"
    return f"10^{math.floor(math.log10(r))}"


def _round_sig(x: float) -> str:
    digits = max(0, 1 - math.floor(math.log10(x)))
    value = round(x, -math.floor(math.log10(x)) + 1) if x >= 10 else round(x, digits)
    return f"{value:g}" if value < 1e6 else f"{value:.0f}"


def norm_label(reading: GradReading, i: int) -> str:
    """Layer i's current gradient as views and ``summary`` print it: '0 (underflow)' for
    float32 underflow, else ``value_text``."""
    if reading.classes[i] == UNDERFLOW:
        return "0 (underflow)"
    return value_text(float(reading.norms[i]))


def ratio_label(reading: GradReading, i: int) -> str:
    """Layer i's ratio to the output layer in words: 'none' for an exactly-zero gradient
    (0/0 included), 'NaN' for a non-finite one, else ``ratio_text``."""
    if reading.classes[i] in (ZERO, UNDERFLOW):
        return "none"
    return ratio_text(float(reading.ratios[i]))
