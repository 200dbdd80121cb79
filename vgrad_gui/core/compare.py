"""The comparison in words: a headline computed from the data, and one banner per run.

Compare mode's point is a contrast ("hidden 1: ReLU + He init receives 10^7 times more
gradient than A (sigmoid) at step 500"), so the headline is chosen from the numbers: for each
run against run A, every layer both have (hidden i by its place from the input, the output
layer with the output layer), the one whose gradient differs most. Every number comes from
``readings.grad_reading`` at the step the cursor shows for each run, so the headline, the
banners and the views quote the same values.

Honest with zeros and NaN: a layer with exactly no gradient (0, or float32 underflow) next to
one with a gradient is the strongest contrast there is, but it is said in words ("receives
none"), never as an "infinite" ratio; two zeros are no contrast at all; a run whose gradients
became NaN/Inf is named first, with its step, and no ratio is taken from it.

No torch and no Qt: the GUI process imports this.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from vgrad_gui.core import readings
from vgrad_gui.core.diagnose import diagnose, summary_line
from vgrad_gui.core.readings import FINITE, NONFINITE, UNDERFLOW, GradReading
from vgrad_gui.core.run import Run
from vgrad_gui.core.workspace import Cursor

SAME_WITHIN = 2.0  # a factor below this is "about the same gradient" (minibatch noise is ~1.5x)
RATIO, ONLY_OTHER, ONLY_BASE, BROKEN, SAME = "ratio", "only_other", "only_base", "nonfinite", \
    "same"


@dataclass(frozen=True)
class Contrast:
    """How one run's gradient differs from run A's at the layer where it differs most."""

    run_id: int
    base_id: int
    kind: str  # ratio, only_other (A has none), only_base (this run has none), nonfinite, same
    layer: int | None  # index in this run's layers (None for nonfinite)
    layer_name: str
    ratio: float | None  # this run's norm / A's (finite and > 0 only for kind "ratio")
    strength: float  # decades of difference, for ranking; inf for the worded kinds
    text: str


def _name(run: Run, letters: Mapping[int, str] | None, is_base: bool) -> str:
    letter = (letters or {}).get(run.run_id, "A" if is_base else "")
    if is_base:
        return f"{letter} ({run.label})" if run.label else letter or f"run {run.run_id}"
    return run.label or letter or f"run {run.run_id}"


def layer_pairs(base: Run, other: Run) -> list[tuple[int, int, str]]:
    """(index in base, index in other, name) of the layers both runs have: hidden i with
    hidden i, output with output."""
    hb, ho = base.n_layers - 1, other.n_layers - 1
    pairs = [(i, i, other.layer_names[i]) for i in range(min(hb, ho))]
    pairs.append((hb, ho, other.layer_names[ho]))
    return pairs


def _at(step: int, other_step: int) -> str:
    return f"at step {step}" if step == other_step else f"at steps {other_step} and {step}"


def _times(r: float) -> str:
    if r >= 1:
        # The tolerance keeps float32 rounding (1e-2 / 1e-6 = 9999.9998) from losing a decade.
        decade = math.floor(math.log10(r) + 1e-6)
        n = f"10^{decade}" if decade >= 4 else f"{round(r, 1 - decade):g}"
        return f"{n} times more gradient than"
    if r >= 0.1:
        return f"{_times(1 / r).split(' times')[0]} times less gradient than"
    return f"{readings.ratio_text(r)} of the gradient of"


def contrast(base: Run, other: Run, base_step: int, other_step: int,
             letters: Mapping[int, str] | None = None) -> Contrast | None:
    """``other`` against run A (``base``) at their steps; None when either has no steps."""
    rb = readings.grad_reading(base.history, base_step)
    ro = readings.grad_reading(other.history, other_step)
    if rb is None or ro is None:
        return None
    a, b = _name(base, letters, True), _name(other, letters, False)
    at = _at(rb.step, ro.step)
    for run, name, reading in ((other, b, ro), (base, a, rb)):
        bad = readings.first_nonfinite_step(run.history, reading.step)
        if bad is not None:
            return Contrast(other.run_id, base.run_id, BROKEN, None, "", None, math.inf,
                            f"{name}: gradients or loss became NaN/Inf at step {bad}; no "
                            f"comparison after that")
    best: Contrast | None = None
    for ib, io, lname in layer_pairs(base, other):
        c = _layer_contrast(rb, ro, ib, io, lname, a, b, at)
        if c is not None and (best is None or c.strength > best.strength):
            best = c
    if best is None:
        return None
    return Contrast(other.run_id, base.run_id, best.kind, best.layer, best.layer_name,
                    best.ratio, best.strength, best.text)


def _layer_contrast(rb: GradReading, ro: GradReading, ib: int, io: int, lname: str, a: str,
                    b: str, at: str) -> Contrast | None:
    cb, co = rb.classes[ib], ro.classes[io]
    nb, no = float(rb.norms[ib]), float(ro.norms[io])
    if NONFINITE in (cb, co):
        return None  # caught per run above; a reading's NaN is never turned into a ratio
    if cb != FINITE and co != FINITE:
        return None  # both exactly zero: no contrast, never 0/0
    if cb != FINITE:
        why = "float32 underflow" if cb == UNDERFLOW else "exactly 0"
        return Contrast(0, 0, ONLY_OTHER, io, lname, None, math.inf,
                        f"{lname}: {b} receives a gradient ({readings.value_text(no)}); {a} "
                        f"receives none ({why}) {at}")
    if co != FINITE:
        why = "float32 underflow" if co == UNDERFLOW else "exactly 0"
        return Contrast(0, 0, ONLY_BASE, io, lname, None, math.inf,
                        f"{lname}: {b} receives no gradient ({why}); {a} receives "
                        f"{readings.value_text(nb)} {at}")
    r = no / nb
    strength = abs(math.log10(r))
    if r < SAME_WITHIN and r > 1 / SAME_WITHIN:
        return Contrast(0, 0, SAME, io, lname, r, strength,
                        f"{b} and {a} receive about the same gradient in every layer {at}")
    return Contrast(0, 0, RATIO, io, lname, r, strength,
                    f"{lname}: {b} receives {_times(r)} {a} {at}")


def contrasts(runs: Sequence[Run], cursor: Cursor,
              letters: Mapping[int, str] | None = None) -> list[Contrast]:
    """Every run after the first against the first (run A), at the cursor's steps."""
    if len(runs) < 2:
        return []
    base = runs[0]
    found = [contrast(base, r, cursor.step_for(base), cursor.step_for(r), letters)
             for r in runs[1:]]
    return [c for c in found if c is not None]


def headline(runs: Sequence[Run], cursor: Cursor,
             letters: Mapping[int, str] | None = None) -> Contrast | None:
    """The strongest contrast among the runs (a NaN/Inf run first, then a layer that gets
    no gradient next to one that does, then the largest ratio); None with fewer than two
    runs with steps."""
    found = contrasts(runs, cursor, letters)
    if not found:
        return None
    order = {BROKEN: 0, ONLY_OTHER: 1, ONLY_BASE: 1, RATIO: 2, SAME: 2}
    return min(found, key=lambda c: (order[c.kind], -c.strength))


def banners(runs: Sequence[Run], cursor: Cursor,
            letters: Mapping[int, str] | None = None) -> dict[int, str]:
    """One line per run: its name and the first finding of ``diagnose`` at its step."""
    out: dict[int, str] = {}
    for i, run in enumerate(runs):
        step = cursor.step_for(run)
        name = _name(run, letters, i == 0)
        findings = diagnose(run.history, step) if step else []
        out[run.run_id] = f"{name}: {summary_line(findings)}"
    return out


def grad_matrix(runs: Sequence[Run], cursor: Cursor) -> dict[int, np.ndarray | None]:
    """Each run's current gradient per layer at the cursor (what the shared colour scale of
    side-by-side heatmaps and the grouped flow bars read)."""
    return {r.run_id: readings.current_grad_norms(r.history, cursor.step_for(r) or None)
            for r in runs}
