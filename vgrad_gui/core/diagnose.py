"""Plain-language findings about a run, judged across depth.

Every layer's gradient is compared with the output layer's at the same steps, not with its own
past, so a network whose first layers vanish from step 1 is caught at step 1.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from vgrad_gui.core.history import RunHistory

VANISH_RATIO = 1e-3  # below this fraction of the output layer's gradient: vanishing
FADE_RATIO = 1e-2  # below this: fading (a warning)
EXPLODE_RATIO = 1e3  # above this multiple of the output layer's gradient: exploding
EXPLODE_NORM = 1e4  # or a gradient norm this large anywhere
INACTIVE_FRACTION = 0.5  # more than half the units dead or saturated
RECENT_STEPS = 50


@dataclass(frozen=True)
class Finding:
    kind: str  # nonfinite, exploding, vanishing, fading, dead, saturated, slow, healthy
    severity: str  # "error", "warning" or "ok"
    message: str
    layers: tuple[int, ...] = ()  # indices into the layer list (0 = nearest the input)

    def __str__(self) -> str:
        return self.message


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


def recent_grad_norms(history: RunHistory, steps: int = RECENT_STEPS) -> np.ndarray | None:
    """Median weight-gradient norm per layer over the last ``steps`` full-resolution steps."""
    _, rows = history.steps.raw(history.cols("steps", "grad_norm"))
    if len(rows) == 0:
        return None
    window = rows[-steps:].astype(np.float64)
    if not np.isfinite(window).all():
        return window[-1]
    return np.median(window, axis=0)


def diagnose(history: RunHistory) -> list[Finding]:
    """Findings, most serious first. Empty before the first step."""
    norms = recent_grad_norms(history)
    if norms is None:
        return []
    n = history.n_layers
    findings: list[Finding] = []
    latest = history.latest("steps", "grad_norm")
    loss = history.latest("steps", "loss")
    bad = [i for i in range(n) if latest is not None and not math.isfinite(float(latest[i]))]
    if bad or (loss is not None and not math.isfinite(float(loss[0]))):
        where = describe_layers(bad, n) if bad else "the loss"
        step = history.first_nonfinite_step or history.step
        findings.append(Finding(
            "nonfinite", "error",
            f"exploding: gradients became NaN/Inf at step {step} ({where}). The weights are "
            "ruined; lower the learning rate or the initial weight scale, then reset.",
            tuple(bad)))
        return findings

    out = float(norms[-1])
    ratios = norms / out if out > 0 else np.full(n, np.inf)
    hidden = ratios[:-1]
    huge = [i for i in range(n) if norms[i] > EXPLODE_NORM]
    big = [i for i in range(n - 1) if hidden[i] > EXPLODE_RATIO]
    if big:
        worst = int(np.argmax(hidden))
        findings.append(Finding(
            "exploding", "error",
            f"exploding: {describe_layers(big, n)} {verb(big, 'receive', 'receives')} more "
            f"than {EXPLODE_RATIO:.0f}x the output layer's gradient (hidden layer "
            f"{worst + 1}: {ratio_text(hidden[worst])}).",
            tuple(big)))
    elif huge:
        worst = int(np.argmax(norms))
        findings.append(Finding(
            "exploding", "error",
            f"exploding: gradient norms reach {norms[worst]:.1e} "
            f"({describe_layers([worst], n)}); one update can throw the weights far away.",
            tuple(huge)))

    vanish = [i for i in range(n - 1) if hidden[i] < VANISH_RATIO]
    fade = [i for i in range(n - 1) if VANISH_RATIO <= hidden[i] < FADE_RATIO]
    if vanish:
        worst = int(np.argmin(hidden))
        findings.append(Finding(
            "vanishing", "error",
            f"vanishing: {describe_layers(vanish, n)} {verb(vanish, 'receive', 'receives')} "
            f"less than 1/1000 of the output layer's gradient (hidden layer {worst + 1}: "
            f"{ratio_text(hidden[worst])}). "
            f"{verb(vanish, 'They barely learn.', 'It barely learns.')}",
            tuple(vanish)))
    if fade:
        findings.append(Finding(
            "fading", "warning",
            f"fading: {describe_layers(fade, n)} {verb(fade, 'receive', 'receives')} less "
            "than 1/100 of the output layer's gradient.",
            tuple(fade)))

    findings.extend(_activity(history))
    slow = _slow(history)
    if slow is not None:
        findings.append(slow)
    if not any(f.severity == "error" for f in findings) and not fade:
        weakest = int(np.argmin(hidden)) if n > 1 else 0
        msg = "healthy: every layer receives at least 1/100 of the output layer's gradient"
        if n > 1:
            msg += f" (weakest: hidden layer {weakest + 1}, {ratio_text(hidden[weakest])})"
        findings.append(Finding("healthy", "ok", msg + "."))
    return findings


def _activity(history: RunHistory) -> list[Finding]:
    kind = history.inactive_kind
    frac = history.latest("probes", "inactive_fraction")
    if not kind or frac is None:
        return []
    n = history.n_layers
    many = [i for i in range(len(frac)) if frac[i] > INACTIVE_FRACTION]
    if not many:
        return []
    worst = int(np.nanargmax(frac))
    if kind == "dead":
        return [Finding(
            "dead", "error",
            f"dead ReLUs: in {describe_layers(many, n)} more than half the units output 0 for "
            f"the whole batch (hidden layer {worst + 1}: {frac[worst]:.0%}); dead units pass "
            "no gradient back.", tuple(many))]
    return [Finding(
        "saturated", "error",
        f"saturation: in {describe_layers(many, n)} more than half the units sit on the flat "
        f"ends of the activation (hidden layer {worst + 1}: {frac[worst]:.0%}), where its "
        "slope is nearly 0.", tuple(many))]


def _slow(history: RunHistory, window: int = 50, min_steps: int = 300) -> Finding | None:
    steps, loss = history.steps.raw(history.cols("steps", "loss"))
    if history.step < min_steps or len(loss) < 2 * window:
        return None
    early = float(np.mean(loss[:window]))
    late = float(np.mean(loss[-window:]))
    if not (math.isfinite(early) and math.isfinite(late)) or early <= 0:
        return None
    if late > 0.95 * early:
        return Finding("slow", "warning",
                       f"not learning: the training loss is still {late:.3f} after "
                       f"{history.step} steps (it was {early:.3f} around step "
                       f"{int(steps[0])}).")
    return None


def summary_line(findings: list[Finding]) -> str:
    return findings[0].message if findings else "no steps recorded yet"
