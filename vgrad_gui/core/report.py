"""The text report of a run (``vgrad-gui summary``): a per-layer table and the diagnosis.

Both halves are taken at the same step and from the same readings (``readings``) as the views
and the banner, so the table and the diagnosis line quote the same numbers.
"""

from __future__ import annotations

import numpy as np

from vgrad_gui.core import readings
from vgrad_gui.core.diagnose import diagnose
from vgrad_gui.core.history import RunHistory

# (probe channel, column title) shown when the run recorded them.
PROBE_COLUMNS = (("signal_std", "signal"), ("backprop_grad", "dL/dh"),
                 ("update_ratio", "update"))


def summary_text(history: RunHistory, source: str) -> str:
    cfg = history.config
    lines = [
        f"{source}: {history.step} steps, depth {cfg.depth} x width {cfg.width}, "
        f"{cfg.activation}, init {cfg.init}, norm {cfg.norm}, residual "
        f"{'on' if cfg.residual else 'off'}, {cfg.optimizer} lr {cfg.lr:g}, {cfg.dataset}",
    ]
    now = readings.grad_reading(history)
    if now is None:
        lines.append("no steps recorded")
        return "\n".join(lines)
    lines += ["", *_table(history, now), ""]
    findings = diagnose(history, now.step)
    lines += [f"- {f.message}" for f in findings] or ["- no diagnosis"]
    return "\n".join(lines)


def _table(history: RunHistory, now: readings.GradReading) -> list[str]:
    start = readings.grad_reading(history, 1) or now
    probe = readings.probe_reading(history, now.step)
    extra = [(title, v) for name, title in PROBE_COLUMNS
             if probe is not None and (v := probe.get(name)) is not None]
    how = {"median": f"median of the last {readings.WINDOW} steps",
           "last": "the last step (non-finite)", "bucket": "mean of a decimated bucket"}
    notes = [f"weight-gradient norm at the start (step {start.step}) and now (step "
             f"{now.step}: {how[now.source]});", "vs output: now / the output layer's now"]
    if probe is not None and extra:
        notes.append(f"from the statistics of step {probe.step}: signal = std of each "
                     "layer's output, dL/dh = RMS")
        notes.append("of the gradient there, update = |dW| / |W| of the last update")
    width = max(len(n) for n in history.layer_names)
    header = f"{'layer':<{width}}  {'start':>10}  {'now':>10}  {'vs output':>10}" + "".join(
        f"  {title:>10}" for title, _ in extra)
    rows = [*notes, "", header, "-" * len(header)]
    for i, name in enumerate(history.layer_names):
        row = (f"{name:<{width}}  {_cell(start, i)}  {_cell(now, i)}  "
               f"{readings.ratio_label(now, i):>10}")
        row += "".join(f"  {_fmt(values[i]) if i < len(values) else '':>10}"
                       for _, values in extra)
        rows.append(row)
    if readings.UNDERFLOW in now.classes or readings.UNDERFLOW in start.classes:
        rows.append(f"0* = below float32's smallest number ({readings.FLOAT32_TINIEST:.1e}), "
                    "stored as exactly 0")
    return rows


def _cell(reading: readings.GradReading, i: int) -> str:
    if reading.classes[i] == readings.UNDERFLOW:
        return f"{'0*':>10}"
    return f"{_fmt(reading.norms[i]):>10}"


def _fmt(x: float | np.floating) -> str:
    return readings.value_text(float(x))
