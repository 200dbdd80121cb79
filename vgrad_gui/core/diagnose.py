"""One diagnosis of a run, in plain language, judged across depth at one step.

Every view, the banner and ``summary`` read it, so they give the same words for the same run.
Each rule names its evidence (a number) and the layers. The rules, most serious first:

- nonfinite: the gradient norms or the loss became NaN/Inf (the step is
  ``readings.first_nonfinite_step``, the one rule).
- no_gradient: a layer's weight gradient is exactly 0 and it is not float32 underflow (dead
  ReLUs, a signal that is exactly 0). Never called exploding or infinite.
- underflow: exactly 0 because the true gradient fell below float32's smallest number.
- exploding: huge norms, a gradient that grows towards the input, or a forward signal that
  grows across depth.
- vanished_signal: the forward signal dies across depth, so every gradient is tiny, the output
  layer's included, while the ratios to the output layer look normal (ReLU with Xavier init,
  He et al. 2015; tanh with tiny weights). Without the forward-signal channel (old run files),
  tiny_updates judges the same thing from the update ratios.
- vanishing / fading: a hidden layer gets a small fraction of the output layer's gradient.
- dead / saturated: most units of a layer are off or on the flat ends of the activation.
- slow: "not learning", judged on the loss and on the training and test accuracy.
- healthy: none of the above.

Thresholds are named constants below, each with the reason for its value. The figures quoted
in the comments were measured on the classic cases of ``tests/core/test_classic_cases.py``
(moons, width 32, SGD lr 0.1 unless stated).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from vgrad_gui.core import readings
from vgrad_gui.core.history import RunHistory
from vgrad_gui.core.readings import GradReading, ProbeReading, ratio_text

# Relative to the output layer. A factor 1000 is three decades: at a fixed learning rate such a
# layer moves 1000x slower than the output layer, i.e. it barely learns within a run's length
# (deep sigmoid: hidden 1 gets 3e-9 of the output layer's gradient at step 1).
VANISH_RATIO = 1e-3
FADE_RATIO = 1e-2  # one decade milder: worth a warning, not an error
# The mirror image: a hidden layer with 1000x the output layer's gradient. Batch norm's known
# gradient growth at init (Yang et al. 2019) reaches 262x at depth 30 and trains fine, so the
# threshold stays at three decades, not two.
EXPLODE_RATIO = 1e3
# An absolute norm this large makes one SGD step at lr 0.1 move the weights by ~1000 times
# their size (weights are O(1)); the large-init preset reaches 1.5e5 at step 1, healthy nets
# stay below ~300 (batch norm, depth 30, step 1: 125).
EXPLODE_NORM = 1e4
# Forward signal: std of the last hidden layer's output over the first hidden layer's. Three
# decades again. ReLU with Xavier init halves the variance per layer (He et al. 2015), so the
# std falls by 2^(-1/2) per layer and 1e-3 is crossed at depth ~21; measured at depth 30: 6e-6.
# tanh with std-0.01 weights: 2e-13. Every healthy case stays within 0.1-10 (He init depth 30:
# 0.11; batch norm: 1.0; residual sigmoid: 4.8). Growth by more than 1e3: exploding.
SIGNAL_DECAY = 1e-3
SIGNAL_GROWTH = 1e3
# Update ratio ||dW|| / ||W|| per step. The rule of thumb (Karpathy, CS231n) is about 1e-3; a
# layer updated 100x less needs >1e5 steps to change its weights by their own size. Only used
# when every layer is below it and the run is not visibly learning: a converged net also makes
# tiny updates (ReLU+He after 300 steps: 1e-5 to 4e-5, with its loss at 3e-4).
UPDATE_RULE_OF_THUMB = 1e-3
TINY_UPDATE = 1e-5
# More than half the units dead (ReLU: 0 for the whole batch) or saturated: the layer has lost
# most of its capacity and passes little gradient.
INACTIVE_FRACTION = 0.5
FULLY_INACTIVE = 0.999  # a layer with every unit off passes exactly no gradient
# "Not learning" needs both flat loss and flat accuracy. The loss alone misleads: the relu preset
# keeps its loss within 1% of 0.693 for 1800 steps while its test accuracy climbs 49% -> 67%.
TREND_WINDOW = 50  # steps averaged at the start and at the end
MIN_TREND_STEPS = 300  # too early to call it before this
LOSS_DROP = 0.95  # learning: the loss fell by at least 5%
# Training accuracy over 50 batches of 64: its standard deviation is ~0.01, so a 5-point gain
# is ~5 sigma. A single test evaluation (200 points on moons) jitters by ~0.035 and a net that
# predicts one class flips between the class shares (49% / 51%), so it needs 10 points.
TRAIN_ACCURACY_GAIN = 0.05
TEST_ACCURACY_GAIN = 0.10
LEARNED_ACCURACY = 0.99  # already fit: a flat loss then means done, not stuck


@dataclass(frozen=True)
class Finding:
    # nonfinite, no_gradient, underflow, exploding, vanished_signal, tiny_updates, vanishing,
    # fading, dead, saturated, slow, healthy
    kind: str
    severity: str  # "error", "warning" or "ok"
    message: str
    layers: tuple[int, ...] = ()  # indices into the layer list (0 = nearest the input)
    evidence: float | None = None  # the number the message quotes as its main evidence

    def __str__(self) -> str:
        return self.message

    @property
    def title(self) -> str:
        """The kind of finding as its message names it: "vanishing", "NaN/Inf"."""
        return self.message.split(":", 1)[0]

    def short(self, n_layers: int) -> str:
        """The finding in a few words, for a place too narrow for the message (a compare
        panel on a 1024 x 768 projector): its title, and the layers it is about.
        "vanishing: hidden layers 1-7"."""
        layers = describe_layers(self.layers, n_layers) if self.layers else ""
        return f"{self.title}: {layers}" if layers else self.title


__all__ = ["Finding", "describe_layers", "diagnose", "learning_trend", "ratio_text",
           "summary_line"]


def verb(indices: list[int] | tuple[int, ...], plural: str, singular: str) -> str:
    return singular if len(indices) == 1 else plural


def describe_layers(indices: list[int] | tuple[int, ...], n_layers: int) -> str:
    """'hidden layers 1-7, 9 and the output layer' for 0-based layer indices."""
    hidden = sorted(i + 1 for i in indices if i < n_layers - 1)
    has_output = (n_layers - 1) in indices
    runs: list[str] = []
    i = 0
    while i < len(hidden):
        j = i
        while j + 1 < len(hidden) and hidden[j + 1] == hidden[j] + 1:
            j += 1
        runs.append(str(hidden[i]) if i == j else f"{hidden[i]}-{hidden[j]}")
        i = j + 1
    text = ""
    if hidden:
        noun = "hidden layer" if len(hidden) == 1 else "hidden layers"
        text = f"{noun} {', '.join(runs)}"
    if has_output:
        text = f"{text} and the output layer" if text else "the output layer"
    return text


@dataclass(frozen=True)
class _Context:
    history: RunHistory
    reading: GradReading
    probe: ProbeReading | None

    @property
    def n(self) -> int:
        return len(self.reading.norms)

    @property
    def step(self) -> int:
        return self.reading.step

    def probe_values(self, channel: str) -> np.ndarray | None:
        return None if self.probe is None else self.probe.get(channel)


SEVERITY_ORDER = {"error": 0, "warning": 1, "ok": 2}


def diagnose(history: RunHistory, step: int | None = None) -> list[Finding]:
    """Findings at ``step`` (default: the last step recorded), most serious first; empty
    before the first step. Reads only ``readings``, so it quotes what the views show."""
    reading = readings.grad_reading(history, step)
    if reading is None:
        return []
    ctx = _Context(history, reading, readings.probe_reading(history, reading.step))
    broken = _nonfinite(ctx)
    if broken is not None:
        return [broken]  # nothing else can be read from NaN weights
    learning, slow = learning_trend(history, reading.step)
    findings = [*_zeros(ctx), *_exploding(ctx), *_signal(ctx, learning), *_relative(ctx),
                *_activity(ctx)]
    if slow is not None:
        findings.append(slow)
    if not findings:
        findings.append(_healthy(ctx))
    return sorted(findings, key=lambda f: SEVERITY_ORDER[f.severity])


def _nonfinite(ctx: _Context) -> Finding | None:
    first = readings.first_nonfinite_step(ctx.history, ctx.step)
    if first is None:
        return None
    at_first = readings.grad_reading(ctx.history, first)
    bad = at_first.layers(readings.NONFINITE) if at_first is not None else []
    what = f"the gradients of {describe_layers(bad, ctx.n)}" if bad else "the loss"
    return Finding(
        "nonfinite", "error",
        f"NaN/Inf: at step {first} {what} became NaN or infinite. The weights are ruined; "
        "lower the learning rate or the initial weight scale, then reset.",
        tuple(bad), float(first))


def _zeros(ctx: _Context) -> list[Finding]:
    r, n = ctx.reading, ctx.n
    found: list[Finding] = []
    under = r.layers(readings.UNDERFLOW)
    if under:
        # classify_layers marks underflow only below a finite neighbour on the output side.
        near = next(i for i in range(max(under) + 1, n) if r.classes[i] == readings.FINITE)
        g = float(r.norms[near])
        found.append(Finding(
            "underflow", "error",
            f"underflow: the gradient reaching {describe_layers(under, n)} is smaller than "
            f"float32 can hold (its smallest number is {readings.FLOAT32_TINIEST:.1e}), so it "
            f"is stored as exactly 0 and {verb(under, 'they', 'it')} cannot learn at all; "
            f"{describe_layers([near], n)}, the nearest with any gradient, gets {g:.1e}.",
            tuple(under), g))
    zero = r.layers(readings.ZERO)
    if zero:
        msg = (f"no gradient: no gradient reaches {describe_layers(zero, n)} (weight "
               f"{verb(zero, 'gradients', 'gradient')} exactly 0)")
        frac = ctx.probe_values("inactive_fraction")
        dead = [] if frac is None or ctx.history.inactive_kind != "dead" else \
            [i for i in range(len(frac)) if frac[i] >= FULLY_INACTIVE]
        if dead:
            msg += (f": every unit of {describe_layers(dead, n)} outputs 0 for the whole "
                    "batch (dead ReLUs), so nothing flows back through "
                    f"{verb(dead, 'them', 'it')}. A smaller learning rate or leaky ReLU "
                    "avoids it")
        elif len(zero) == n:
            msg += "; the network no longer learns"
        found.append(Finding("no_gradient", "error", msg + ".", tuple(zero), 0.0))
    return found


def _exploding(ctx: _Context) -> list[Finding]:
    r, n = ctx.reading, ctx.n
    hidden = r.ratios[:-1]
    big = [i for i in range(n - 1) if np.isfinite(hidden[i]) and hidden[i] > EXPLODE_RATIO]
    if big:
        worst = max(big, key=lambda i: hidden[i])
        return [Finding(
            "exploding", "error",
            f"exploding: {describe_layers(big, n)} {verb(big, 'receive', 'receives')} more "
            f"than {EXPLODE_RATIO:.0f}x the output layer's gradient (hidden layer "
            f"{worst + 1}: {ratio_text(hidden[worst])}).", tuple(big), float(hidden[worst]))]
    huge = [i for i in range(n) if r.norms[i] > EXPLODE_NORM]
    if huge:
        worst = max(huge, key=lambda i: r.norms[i])
        return [Finding(
            "exploding", "error",
            f"exploding: gradient norms reach {r.norms[worst]:.1e} "
            f"({describe_layers([worst], n)}); one update can throw the weights far away.",
            tuple(huge), float(r.norms[worst]))]
    change = _signal_change(ctx)
    if change is not None and change[0] > SIGNAL_GROWTH:
        grow, s = change
        return [Finding(
            "exploding", "error",
            f"exploding: the forward signal grows {ratio_text(grow)} across depth, from "
            f"{s[0]:.1e} at hidden layer 1 to {s[-1]:.1e} at hidden layer {n - 1}.",
            tuple(range(n - 1)), grow)]
    return []


def _signal_change(ctx: _Context) -> tuple[float, np.ndarray] | None:
    """(last hidden layer's signal std / first hidden layer's, the hidden layers' stds)."""
    sig = ctx.probe_values("signal_std")
    if sig is None or ctx.n < 3:
        return None
    s = np.asarray(sig[:-1], np.float64)
    if not (np.isfinite(s[[0, -1]]).all() and s[0] > 0):
        return None
    return float(s[-1] / s[0]), s


def _signal(ctx: _Context, learning: bool | None) -> list[Finding]:
    """A uniformly tiny gradient: the forward signal died, or every update is tiny."""
    n, r = ctx.n, ctx.reading
    ur = ctx.probe_values("update_ratio")
    top_update = float(np.nanmax(ur)) if ur is not None else math.nan
    updates = ""
    if top_update == 0:
        updates = (" No layer's weights changed at all in the last update: it is below "
                   "float32's resolution of the weights.")
    elif math.isfinite(top_update):
        updates = (f" The largest update changes a layer's weights by {top_update:.0e} of "
                   f"their size (rule of thumb: about {UPDATE_RULE_OF_THUMB:.0e}).")
    change = _signal_change(ctx)
    # An exactly-zero signal is dead units, not a scale problem: no_gradient/dead report it.
    if change is not None and 0 < change[0] < SIGNAL_DECAY:
        decay, s = change
        faint = [i for i in range(n - 1) if s[i] < SIGNAL_DECAY * s[0]]
        return [Finding(
            "vanished_signal", "error",
            f"vanished signal: the forward signal shrinks {ratio_text(decay)} across depth, "
            f"from {s[0]:.1e} at hidden layer 1 to {s[-1]:.1e} at hidden layer {n - 1}, so "
            f"every gradient is tiny, the output layer's included ({r.norms[-1]:.1e}), even "
            f"though the ratios to the output layer look normal.{updates} The init's scale is "
            "wrong for this activation: He init for ReLU, Xavier for tanh and sigmoid.",
            tuple(faint), decay)]
    if learning or ur is None or not np.isfinite(ur).all() or top_update >= TINY_UPDATE:
        return []
    return [Finding(
        "tiny_updates", "warning",
        f"tiny updates: every layer's update changes its weights by less than "
        f"{TINY_UPDATE:.0e} of their size (largest: {top_update:.0e}; rule of thumb: about "
        f"{UPDATE_RULE_OF_THUMB:.0e}), so training barely moves. If every gradient is tiny, "
        "the forward signal has probably died (check the init); otherwise raise the learning "
        "rate.", tuple(range(n)), top_update)]


def _relative(ctx: _Context) -> list[Finding]:
    r, n = ctx.reading, ctx.n
    if r.classes[-1] != readings.FINITE:
        return []
    hidden = r.ratios[:-1]
    live = [i for i in range(n - 1) if r.classes[i] == readings.FINITE]
    vanish = [i for i in live if hidden[i] < VANISH_RATIO]
    fade = [i for i in live if VANISH_RATIO <= hidden[i] < FADE_RATIO]
    found: list[Finding] = []
    if vanish:
        worst = min(vanish, key=lambda i: hidden[i])
        msg = (f"vanishing: {describe_layers(vanish, n)} {verb(vanish, 'receive', 'receives')}"
               f" less than 1/1000 of the output layer's gradient (hidden layer {worst + 1}: "
               f"{ratio_text(hidden[worst])}). "
               f"{verb(vanish, 'They barely learn.', 'It barely learns.')}")
        ur = ctx.probe_values("update_ratio")
        frozen = [] if ur is None else [i for i in vanish if ur[i] == 0]
        if frozen:
            msg += (f" {describe_layers(frozen, n).capitalize()} did not change at all: the "
                    "update is below float32's resolution of the weights.")
        found.append(Finding("vanishing", "error", msg, tuple(vanish), float(hidden[worst])))
    if fade:
        worst = min(fade, key=lambda i: hidden[i])
        found.append(Finding(
            "fading", "warning",
            f"fading: {describe_layers(fade, n)} {verb(fade, 'receive', 'receives')} less "
            f"than 1/100 of the output layer's gradient (hidden layer {worst + 1}: "
            f"{ratio_text(hidden[worst])}).", tuple(fade), float(hidden[worst])))
    return found


def _activity(ctx: _Context) -> list[Finding]:
    kind = ctx.history.inactive_kind
    frac = ctx.probe_values("inactive_fraction")
    if not kind or frac is None:
        return []
    n = ctx.n
    many = [i for i in range(len(frac)) if frac[i] > INACTIVE_FRACTION]
    if not many:
        return []
    worst = max(many, key=lambda i: frac[i])
    f = float(frac[worst])
    assert ctx.probe is not None
    at = f" at step {ctx.probe.step}" if ctx.probe.step != ctx.step else ""
    if kind == "dead":
        return [Finding(
            "dead", "error",
            f"dead ReLUs: in {describe_layers(many, n)} more than half the units output 0 for "
            f"the whole batch (hidden layer {worst + 1}: {f:.0%}{at}); dead units pass no "
            "gradient back.", tuple(many), f)]
    return [Finding(
        "saturated", "error",
        f"saturation: in {describe_layers(many, n)} more than half the units sit on the flat "
        f"ends of the activation (hidden layer {worst + 1}: {f:.0%}{at}), where its slope is "
        "nearly 0.", tuple(many), f)]


def learning_trend(history: RunHistory, step: int | None = None
                   ) -> tuple[bool | None, Finding | None]:
    """(Is the run learning by ``step``? None: too early to tell; the "not learning" finding
    when it is not.) Learning means any of: the loss fell by 5%, the training accuracy rose by
    5 points, the test accuracy by 10 points, or the training accuracy is already 99%."""
    at = history.step if step is None else min(step, history.step)
    if at < MIN_TREND_STEPS:
        return None, None
    loss0 = readings.window_mean(history, "loss", at, first=True, n=TREND_WINDOW)
    loss1 = readings.window_mean(history, "loss", at, n=TREND_WINDOW)
    acc0 = readings.window_mean(history, "accuracy", at, first=True, n=TREND_WINDOW)
    acc1 = readings.window_mean(history, "accuracy", at, n=TREND_WINDOW)
    if loss0 is None or loss1 is None or acc0 is None or acc1 is None:
        return None, None
    (early, covered), (late, _), (a0, _), (a1, _) = loss0, loss1, acc0, acc1
    if not all(math.isfinite(x) for x in (early, late, a0, a1)):
        return None, None
    t0 = readings.eval_at(history, "test_accuracy", at, first=True)
    t1 = readings.eval_at(history, "test_accuracy", at)
    test_gain = t1 - t0 if t0 is not None and t1 is not None else math.nan
    if (late <= LOSS_DROP * early or a1 - a0 >= TRAIN_ACCURACY_GAIN
            or test_gain >= TEST_ACCURACY_GAIN or a1 >= LEARNED_ACCURACY):
        return True, None
    test = f", test accuracy {t1:.0%}" if t1 is not None and math.isfinite(t1) else ""
    return False, Finding(
        "slow", "warning",
        f"not learning: after {at} steps the training loss is {late:.3f} and the training "
        f"accuracy {a1:.0%} (over the first {covered} steps: {early:.3f} and {a0:.0%}){test}.",
        (), late / early if early > 0 else None)


def _healthy(ctx: _Context) -> Finding:
    n, hidden = ctx.n, ctx.reading.ratios[:-1]
    msg = "healthy: every layer receives at least 1/100 of the output layer's gradient"
    weakest = int(np.nanargmin(hidden)) if n > 1 and np.isfinite(hidden).any() else None
    if weakest is not None:
        msg += f" (weakest: hidden layer {weakest + 1}, {ratio_text(hidden[weakest])})"
    change = _signal_change(ctx)
    if change is not None:
        msg += (f"; forward signal, last hidden layer / first: {ratio_text(change[0])} "
                f"(within {SIGNAL_DECAY:g}-{SIGNAL_GROWTH:g})")
    evidence = float(hidden[weakest]) if weakest is not None else None
    return Finding("healthy", "ok", msg + ".", (), evidence)


def summary_line(findings: list[Finding]) -> str:
    return findings[0].message if findings else "no steps recorded yet"
