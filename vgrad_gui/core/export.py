"""Export: the numbers behind each view as a table, a whole run as one wide CSV, a caption.

Every number comes from the history through ``readings`` (the current gradient, ratios, the
statistics row at a step) or from the history's own records (full-resolution rows, and the
decimated buckets that hold older steps as means), so a CSV quotes what the view showed at
that step. A row that stands for a bucket says so: ``steps_in_record`` > 1 and resolution
``mean``.

Tables are plain (header, rows): the header a list of column names, each row a list of
numbers and short texts. ``write_csv`` writes them with the csv module (names with commas
are quoted), floats as ``repr`` (exact round trip), NaN as ``nan``; any CSV reader, numpy's
included, reads them back.

No Qt and no torch: the CLI and the GUI process both import this.
"""

from __future__ import annotations

import contextlib
import csv
import math
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vgrad_gui.core import readings
from vgrad_gui.core.history import RunHistory
from vgrad_gui.core.run import Run
from vgrad_gui.core.workspace import ACTIVATION_NAMES, INIT_NAMES, NORM_NAMES

VIEWS = ("heatmap", "lines", "bars", "loss", "signal", "health", "boundary")
WHOLE_RUN = "run"  # the export command's name for the wide per-layer CSV

Cell = float | int | str
Table = tuple[list[str], list[list[Cell]]]

OPTIMIZER_NAMES = {"sgd": "SGD", "momentum": "SGD momentum", "adam": "Adam"}


class ExportError(ValueError):
    """An export cannot be made; the message (one line) says what is wrong and what is
    allowed."""


# -- steps ------------------------------------------------------------------------------------
def resolve_step(run: Run, step: int | None = None) -> int:
    """The step to export: ``step`` if the run recorded it, the last step when None."""
    last = run.step
    if last == 0:
        raise ExportError("this run has no recorded steps; nothing to export")
    if step is None:
        return last
    first = max(1, run.first_step)
    if not first <= int(step) <= last:
        raise ExportError(f"step {step} is out of range: this run recorded steps {first} to "
                          f"{last}")
    return int(step)


@dataclass(frozen=True)
class Records:
    """A channel's records up to a step, oldest first: decimated buckets (means, with their
    min and max) then full-resolution rows."""

    first: np.ndarray  # int64 [r]: first step of each record
    last: np.ndarray  # int64 [r]: last step (a full-resolution row: its step)
    count: np.ndarray  # int64 [r]: steps in the record (1 at full resolution)
    mean: np.ndarray  # float64 [r, k]
    min: np.ndarray  # float64 [r, k]
    max: np.ndarray  # float64 [r, k]

    def __len__(self) -> int:
        return len(self.last)


def records_upto(history: RunHistory, table: str, channel: str,
                 step: int | None = None) -> Records:
    """The records of one channel whose last step is at or before ``step`` (every record when
    None); a bucket that runs past ``step`` is left out, as ``readings`` leaves it out."""
    rec = history.table(table).records(history.cols(table, channel))
    keep = slice(None) if step is None else \
        slice(0, int(np.searchsorted(rec["last"], step, side="right")))
    return Records(rec["first"][keep].astype(np.int64), rec["last"][keep].astype(np.int64),
                   rec["count"][keep].astype(np.int64), rec["mean"][keep].astype(np.float64),
                   rec["min"][keep].astype(np.float64), rec["max"][keep].astype(np.float64))


@dataclass(frozen=True)
class Bins:
    """Records merged into at most a given number of bins, for drawing."""

    x: np.ndarray  # float64 [b]: the count-weighted middle step of each bin
    mean: np.ndarray  # float64 [b, k]: count-weighted mean (NaN and Inf propagate)
    min: np.ndarray  # float64 [b, k]
    max: np.ndarray  # float64 [b, k]
    width: int  # steps per bin (a power of two)


def bin_records(rec: Records, max_bins: int) -> Bins:
    """Merge records into bins ``width`` steps wide (a power of two, the smallest that gives
    at most ``max_bins``), aligned to multiples of the width; means weighted by step count,
    min and max combined, NaN and Inf kept."""
    k = rec.mean.shape[1] if rec.mean.ndim == 2 else 0
    if len(rec) == 0:
        e = np.empty((0, k))
        return Bins(np.empty(0), e, e.copy(), e.copy(), 1)
    last = int(rec.last[-1])
    width = 1
    while -(-last // width) > max(1, max_bins):
        width *= 2
    mid = (rec.first + rec.last) / 2.0
    index = ((mid - 1) // width).astype(np.int64)
    starts = np.flatnonzero(np.r_[True, index[1:] != index[:-1]])
    cnt = rec.count.astype(np.float64)
    xs = np.add.reduceat(mid * cnt, starts) / np.add.reduceat(cnt, starts)
    means = np.add.reduceat(rec.mean * cnt[:, None], starts, axis=0) / \
        np.add.reduceat(cnt, starts)[:, None]
    return Bins(xs, means, np.minimum.reduceat(rec.min, starts, axis=0),
                np.maximum.reduceat(rec.max, starts, axis=0), width)


# -- the tables ---------------------------------------------------------------------------------
def view_table(run: Run, view: str, step: int | None = None) -> Table:
    """The numbers behind ``view`` as the view shows them at ``step`` (default: the last step).

    - heatmap: one row per record up to the step: its steps and every layer's gradient norm
      (full-resolution rows as recorded, older steps as bucket means).
    - lines: as heatmap, plus each record's min and max (the faint band of the view).
    - bars: one row per layer: the current gradient (``readings.grad_reading``), its ratio to
      the output layer and class, and the update ratio of the statistics row at the step.
    - loss: one row per record: training loss and accuracy, and the held-out ones where an
      evaluation ends at that step.
    - signal: one row per layer at the statistics step at or before the step: forward signal,
      back-propagated gradient, weight gradient; the same at the first statistics step.
    - health: one row per layer: activation mean and std, inactive fraction (hidden layers),
      update ratio.
    - boundary: the grid of the decision-boundary snapshot at or before the step (x, y,
      class, confidence) and the data points (x, y, class).
    """
    if view not in VIEWS:
        raise ExportError(f"unknown view {view!r}; allowed: {', '.join(VIEWS)}")
    at = resolve_step(run, step)
    return _TABLES[view](run, at)


def _names(history: RunHistory, prefix: str) -> list[str]:
    return [f"{prefix}[{name}]" for name in history.layer_names]


def _record_cells(rec: Records, i: int) -> list[Cell]:
    count = int(rec.count[i])
    return [int(rec.last[i]), int(rec.first[i]), count, "full" if count == 1 else "mean"]


RECORD_COLUMNS = ["step", "first_step", "steps_in_record", "resolution"]


def heatmap_table(run: Run, step: int) -> Table:
    h = run.history
    rec = records_upto(h, "steps", "grad_norm", step)
    header = RECORD_COLUMNS + _names(h, "grad_norm")
    rows = [_record_cells(rec, i) + _floats(rec.mean[i]) for i in range(len(rec))]
    return header, rows


def lines_table(run: Run, step: int) -> Table:
    h = run.history
    rec = records_upto(h, "steps", "grad_norm", step)
    header = (RECORD_COLUMNS + _names(h, "grad_norm") + _names(h, "grad_norm_min")
              + _names(h, "grad_norm_max"))
    rows = [_record_cells(rec, i) + _floats(rec.mean[i]) + _floats(rec.min[i])
            + _floats(rec.max[i]) for i in range(len(rec))]
    return header, rows


def bars_table(run: Run, step: int) -> Table:
    h = run.history
    reading = readings.grad_reading(h, step)
    if reading is None:
        raise ExportError(f"no gradient recorded at or before step {step}")
    probe = readings.probe_reading(h, step)
    update = _probe_values(probe, "update_ratio", h.n_layers)
    header = ["layer", "name", "grad_norm", "ratio_to_output", "class", "update_ratio",
              "reading_step", "reading", "probe_step"]
    rows: list[list[Cell]] = []
    for i, name in enumerate(h.layer_names):
        rows.append([i + 1, name, float(reading.norms[i]), float(reading.ratios[i]),
                     reading.classes[i], update[i], reading.step, reading.source,
                     probe.step if probe is not None else -1])
    return header, rows


def loss_table(run: Run, step: int) -> Table:
    h = run.history
    loss = records_upto(h, "steps", "loss", step)
    acc = records_upto(h, "steps", "accuracy", step)
    tl = records_upto(h, "evals", "test_loss", step)
    ta = records_upto(h, "evals", "test_accuracy", step)
    by_step: dict[int, list[Cell]] = {}
    nan = math.nan
    for i in range(len(loss)):
        by_step[int(loss.last[i])] = [int(loss.last[i]), float(loss.mean[i, 0]),
                                      float(acc.mean[i, 0]), nan, nan, int(loss.count[i])]
    for i in range(len(tl)):
        s = int(tl.last[i])
        row = by_step.setdefault(s, [s, nan, nan, nan, nan, 0])
        row[3], row[4] = float(tl.mean[i, 0]), float(ta.mean[i, 0])
    header = ["step", "loss", "accuracy", "test_loss", "test_accuracy", "steps_in_record"]
    return header, [by_step[s] for s in sorted(by_step)]


def _probe_values(probe: readings.ProbeReading | None, channel: str, n: int) -> list[float]:
    """A probe channel as n floats, NaN where absent (no statistics yet, an older file, or a
    hidden-only channel's output-layer slot)."""
    out = [math.nan] * n
    if probe is not None and channel in probe.values:
        for i, v in enumerate(probe.values[channel][:n]):
            out[i] = float(v)
    return out


def grad_at(history: RunHistory, step: int) -> np.ndarray:
    """Every layer's gradient norm at exactly ``step``: its full-resolution row, or the mean
    of the bucket holding it; NaN where no record holds it."""
    rec = history.steps.records(history.cols("steps", "grad_norm"))
    i = int(np.searchsorted(rec["last"], step, side="left"))
    if i < len(rec["last"]) and int(rec["first"][i]) <= step:
        return np.asarray(rec["mean"][i], np.float64)
    return np.full(history.n_layers, np.nan)


@dataclass(frozen=True)
class SignalData:
    """The signal-across-depth view's numbers at one statistics step and at the first."""

    step: int | None  # the statistics step (None before the first)
    values: dict[str, list[float]]  # signal_std, backprop_grad, grad_norm: one per layer
    first_step: int | None
    first: dict[str, list[float]]


SIGNAL_QUANTITIES = ("signal_std", "backprop_grad", "grad_norm")


def signal_data(run: Run, step: int) -> SignalData:
    h = run.history
    n = h.n_layers

    def at(probe: readings.ProbeReading | None) -> dict[str, list[float]]:
        # A version-1 run file lacks the first two channels: they read as NaN.
        out = {q: _probe_values(probe, q, n) for q in SIGNAL_QUANTITIES[:2]}
        out["grad_norm"] = [float(v) for v in grad_at(h, probe.step)] if probe is not None \
            else [math.nan] * n
        return out

    probe = readings.probe_reading(h, step)
    last = h.probes.records()["last"]
    first = readings.probe_reading(h, int(last[0])) if len(last) else None
    if first is not None and probe is not None and first.step > probe.step:
        first = None
    return SignalData(probe.step if probe is not None else None, at(probe),
                      first.step if first is not None else None, at(first))


def signal_table(run: Run, step: int) -> Table:
    h = run.history
    data = signal_data(run, step)
    if data.step is None:
        raise ExportError(f"no layer statistics recorded at or before step {step} (they are "
                          "measured every 100 steps)")
    header = ["layer", "name", *SIGNAL_QUANTITIES, "probe_step",
              *(f"{q}_first" for q in SIGNAL_QUANTITIES), "first_probe_step"]
    rows: list[list[Cell]] = []
    for i, name in enumerate(h.layer_names):
        rows.append([i + 1, name, *(data.values[q][i] for q in SIGNAL_QUANTITIES), data.step,
                     *(data.first[q][i] for q in SIGNAL_QUANTITIES),
                     data.first_step if data.first_step is not None else -1])
    return header, rows


HEALTH_CHANNELS = ("act_mean", "act_std", "inactive_fraction", "update_ratio")


def health_table(run: Run, step: int) -> Table:
    h = run.history
    probe = readings.probe_reading(h, step)
    if probe is None:
        raise ExportError(f"no layer statistics recorded at or before step {step} (they are "
                          "measured every 100 steps)")
    columns = {c: _probe_values(probe, c, h.n_layers) for c in HEALTH_CHANNELS}
    header = ["layer", "name", *HEALTH_CHANNELS, "probe_step", "inactive_kind"]
    rows: list[list[Cell]] = []
    for i, name in enumerate(h.layer_names):
        rows.append([i + 1, name, *(columns[c][i] for c in HEALTH_CHANNELS), probe.step,
                     h.inactive_kind or "none"])
    return header, rows


def boundary_grid(run: Run, step: int) -> tuple[np.ndarray, np.ndarray, int, np.ndarray,
                                                 np.ndarray]:
    """(xs, ys, snapshot step, classes, confidence) of the snapshot at or before ``step``; the
    grid spans the data's extent as the worker's does (rows follow ys)."""
    if not run.is_2d:
        raise ExportError(f"the decision boundary needs 2-D data; this run has "
                          f"{run.input_dim} inputs")
    snap = run.boundary_at(step)
    if snap is None or run.data is None:
        raise ExportError(f"no decision boundary recorded at or before step {step}: a run "
                          "keeps it only while its view is shown, and older run files hold "
                          "none")
    x0, x1, y0, y1 = run.data.extent
    rows, cols = snap.classes.shape
    return (np.linspace(x0, x1, cols), np.linspace(y0, y1, rows), snap.step, snap.classes,
            snap.confidence)


def boundary_table(run: Run, step: int) -> Table:
    xs, ys, at, classes, conf = boundary_grid(run, step)
    header = ["kind", "x", "y", "class", "confidence", "snapshot_step"]
    rows: list[list[Cell]] = []
    for r, y in enumerate(ys):
        for c, x in enumerate(xs):
            rows.append(["grid", float(x), float(y), int(classes[r, c]), float(conf[r, c]), at])
    assert run.data is not None
    for (px, py), label in zip(run.data.points, run.data.labels, strict=True):
        rows.append(["point", float(px), float(py), int(label), math.nan, at])
    return header, rows


_TABLES = {"heatmap": heatmap_table, "lines": lines_table, "bars": bars_table,
           "loss": loss_table, "signal": signal_table, "health": health_table,
           "boundary": boundary_table}


def run_table(run: Run) -> Table:
    """The whole run, one row per record of the steps table (full-resolution rows as recorded,
    older steps as bucket means): step, first_step, steps_in_record, loss, accuracy, every
    layer's gradient norm, and the held-out loss and accuracy where an evaluation ends at that
    step (NaN elsewhere)."""
    resolve_step(run)
    h = run.history
    grad = records_upto(h, "steps", "grad_norm")
    loss = records_upto(h, "steps", "loss")
    acc = records_upto(h, "steps", "accuracy")
    tl = records_upto(h, "evals", "test_loss")
    ta = records_upto(h, "evals", "test_accuracy")
    tests = {int(s): (float(a[0]), float(b[0]))
             for s, a, b in zip(tl.last, tl.mean, ta.mean, strict=True)}
    header = ["step", "first_step", "steps_in_record", "loss", "accuracy",
              *_names(h, "grad_norm"), "test_loss", "test_accuracy"]
    rows: list[list[Cell]] = []
    for i in range(len(grad)):
        s = int(grad.last[i])
        test = tests.get(s, (math.nan, math.nan))
        rows.append([s, int(grad.first[i]), int(grad.count[i]), float(loss.mean[i, 0]),
                     float(acc.mean[i, 0]), *_floats(grad.mean[i]), *test])
    return header, rows


def run_wide_csv(run: Run, path: str | Path) -> Path:
    """Write ``run_table(run)`` as CSV to ``path``."""
    header, rows = run_table(run)
    return write_csv(path, header, rows)


# -- CSV ----------------------------------------------------------------------------------------
def _floats(values: np.ndarray) -> list[Cell]:
    return list(np.asarray(values, np.float64).tolist())


def cell_text(value: Cell) -> str:
    """A cell as CSV text: integers plainly, floats exactly (``repr``; NaN as ``nan``,
    infinities as ``inf``/``-inf``), texts as they are."""
    if type(value) is float and math.isfinite(value):  # nearly every cell: the short way
        return repr(value)
    if isinstance(value, (bool, np.bool_)):
        return str(int(value))
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        x = float(value)
        if math.isnan(x):
            return "nan"
        if math.isinf(x):
            return "inf" if x > 0 else "-inf"
        return repr(x)
    return str(value)


def write_csv(path: str | Path, header: Sequence[str], rows: Sequence[Sequence[Cell]]) -> Path:
    """Write a header row and the rows as CSV, atomically (a temporary file in the same
    folder, then a rename), so a failed export never leaves half a file; ExportError names
    the file and why it could not be written."""
    path = Path(path)
    width = len(header)
    for n, row in enumerate(rows):
        if len(row) != width:
            raise ExportError(f"row {n} has {len(row)} cells; the header has {width}")
    check_writable(path)
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            out = csv.writer(fh, lineterminator="\n")
            out.writerow(list(header))
            for row in rows:
                out.writerow([cell_text(v) for v in row])
        os.replace(tmp, path)
        tmp = None
    except OSError as exc:
        raise ExportError(f"cannot write {path}: {exc.strerror or exc}") from None
    finally:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
    return path


def check_writable(path: str | Path) -> None:
    """ExportError unless a file can be written at ``path`` (checked before any work)."""
    path = Path(path)
    if path.is_dir():
        raise ExportError(f"{path} is a folder; give a file name such as {path / 'out.csv'}")
    parent = path.parent
    if not parent.is_dir():
        raise ExportError(f"cannot write {path}: folder {parent} does not exist")
    if path.exists() and not path.is_file():
        raise ExportError(f"cannot write {path}: it exists and is not a regular file")
    if not os.access(parent, os.W_OK | os.X_OK) or (path.exists()
                                                     and not os.access(path, os.W_OK)):
        raise ExportError(f"cannot write {path}: permission denied")


# -- caption ------------------------------------------------------------------------------------
def run_name(run: Run) -> str:
    """What the run is called: the preset or config file it was recorded from, its label, or
    the name of the file it was opened from."""
    source = run.history.extra.get("source")
    if isinstance(source, str) and source.strip():
        return " ".join(source.split())[:40]
    if run.label:
        return run.label
    if run.source not in ("live", "stream"):
        return Path(run.source).stem[:40]
    return "run"


def describe_config(run: Run) -> str:
    """'depth 10 x 32 sigmoid, default init, SGD lr 0.1, moons' (norm and shortcuts when
    used); without a config, the layer count."""
    cfg = run.config
    if cfg is None:
        return f"{run.n_layers} layers"
    activation = ACTIVATION_NAMES.get(cfg.activation, cfg.activation)
    parts = [f"depth {cfg.depth} x {cfg.width} {activation}", INIT_NAMES.get(cfg.init, cfg.init)]
    if cfg.norm != "none":
        parts.append(NORM_NAMES.get(cfg.norm, cfg.norm))
    if cfg.residual:
        parts.append("residual")
    parts.append(f"{OPTIMIZER_NAMES.get(cfg.optimizer, cfg.optimizer)} lr {cfg.lr:g}")
    parts.append(cfg.dataset)
    return ", ".join(parts)


def caption(run: Run, step: int | None = None) -> str:
    """One line for notes: 'deep_sigmoid: depth 10 x 32 sigmoid, default init, SGD lr 0.1,
    moons — step 1,000'."""
    at = run.step if step is None else int(step)
    return f"{run_name(run)}: {describe_config(run)} — step {at:,}"
