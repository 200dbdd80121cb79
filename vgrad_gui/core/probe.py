"""GradientProbe: reads every Linear layer's gradient each step, cheaply.

Why it is shaped like this. The budget is ~5% of a 1-2 ms step, and on the CPU every tensor op
or numpy call made between two backward passes costs 5-50 us (its code and data are cold by
then); a Python loop of ``p.grad.norm().item()`` costs ~11% of a small step and
``torch._foreach_norm`` ~6%. So:

- every weight (and every weight gradient) is a view into one row of a 2-D buffer, zero-padded
  to the longest layer, so one ``vector_norm(dim=1)`` reads every layer's norm at once (padding
  adds nothing to a norm); biases get a second such buffer;
- per step, only those norms are taken, written into a block buffer; everything else a step
  reports (loss, accuracy) is collected once per block of steps, in a few batched ops and one
  device-to-host transfer;
- vanishing gradients are tiny, and in float32 the squares of values below ~1e-19 underflow,
  so a float32 norm would report 0 where the truth is 1e-25 (and Inf above ~1.8e19). On
  accelerators the norms are taken in float64. On the CPU, where float64 costs 3-8x, they are
  taken in float32, and each step the rows whose float32 norm is below 1e-10 or above 1e13 or
  not finite are taken again in float64, which replaces them (see ``_NormBlock``).

The probe owns gradient zeroing (``zero_grad``) and decides how gradients are held, by layer
size (measured against a user's plain loop at depth 20 x 32, 50 x 16 and 10 x 256):

- narrow layers (weights < SEPARATE_FROM = 16k elements), where per-op overhead dominates:
  the gradients are views into the buffer, zeroed by one op; autograd accumulates into them;
  ``zero_grad(set_to_none=True)`` elsewhere would detach them. The optimizer runs on the whole
  parameter buffer at once (``optimizer_params``): one elementwise update instead of a Python
  loop over every tensor, which pays for the accumulation (padding has zero gradient, so SGD,
  momentum and Adam leave it at zero). ``torch._foreach_norm`` over 42 small tensors costs
  ~10x one ``vector_norm`` of the buffer.
- wide layers (``separate``), where passes over memory dominate: zeroing the buffer and
  accumulating into it cost three more passes over every gradient (+15% at 10 x 256). The
  gradients stay as autograd hands them over (set to None before backward), one
  ``_foreach_norm`` reads them, and the optimizer updates every tensor in one foreach call.
  No gradient buffer is allocated. The parameters still live in the flat buffer, so the update
  ratios are read the same way.

Cadence. Every step: weight- and bias-gradient norms, loss, batch accuracy. On statistics
steps (step 1, then every ``stats_every``; the trainer's default is 100, the live window lowers
it when it slows training down): activation mean, std and inactive fraction per hidden layer;
update ratio ||W_after - W_before|| / ||W_after|| per layer; ``signal_std``, the standard
deviation over batch x units of each Linear layer's block output as passed on (hidden layers
after activation and shortcut, the output layer's logits); ``backprop_grad``, the
root-mean-square of dL/d(that block output), L the batch's mean cross-entropy. Only on those
steps does the forward pass keep its block outputs and ask autograd for their gradients
(``retain_grad``); the other steps run no hook and keep nothing. These statistics are taken in
float64 (two-pass variance), so tiny gradients (1e-27) and a vanished signal beside a large
mean (saturated sigmoid) are exact; the update ratio's weight norms, on the CPU, as float32 BLAS
dot products (~3e-7), retaken in float64 outside the band where float32 squares are safe
(``_norms``). The live worker holds step 1's statistics back until its row is sent
(``after_update(hold=True)``, ``take_held``).
"""

from __future__ import annotations

import math

import numpy as np
import torch

from vgrad_gui.core.activations import INFO, SIGMOID_SATURATION, TANH_SATURATION
from vgrad_gui.core.builder import Capture, LinearParams, VGradNet

MAX_BLOCK = 64  # steps per block at most
# Weights of this many elements or more: gradients stay as autograd hands them over instead of
# accumulating in the buffer (see GradientProbe.zero_grad).
SEPARATE_FROM = 16384


class GradientProbe:
    """Attach to a model once, before creating its optimizer. Then, for each step ``slot`` of
    a block (0, 1, ...): ``begin(step)`` before the forward pass, ``zero_grad()`` and backward,
    ``measure(slot, step)`` before ``optimizer.step()`` and ``after_update(slot, step)`` after it;
    at the end of the block, ``collect(...)``."""

    def __init__(self, model: VGradNet, activation: str, stats_every: int = 100,
                 accelerator_path: bool | None = None, separate: bool | None = None) -> None:
        """``accelerator_path``: use the float64, one-transfer path even on the CPU (tests
        use it to check that path on machines without an accelerator); default by device.
        ``separate``: gradients as autograd hands them over rather than in the buffer
        (default: for weights of SEPARATE_FROM elements or more; see ``zero_grad``)."""
        self.model = model
        self.activation = activation
        self.inactive_kind = INFO[activation].inactive_kind
        self.stats_every = max(1, int(stats_every))
        linears = model.linears
        self.n_layers = n = len(linears)
        self.n_hidden = n - 1
        self.device = linears[0].weight.device
        self.on_cpu = (self.device.type == "cpu" if accelerator_path is None
                       else not accelerator_path)
        w_cols = max(lin.weight.numel() for lin in linears)
        self.separate = w_cols >= SEPARATE_FROM if separate is None else separate
        self._params: list[torch.Tensor] = []
        self._adopt_all(linears, w_cols)
        exact = not self.on_cpu
        weights = self._params[0 : 2 * n : 2]
        biases = self._params[1 : 2 * n : 2]
        self._w = _NormBlock(weights if self.separate else self.weight_grads, exact)
        self._b = _NormBlock(biases if self.separate else self.bias_grads, exact)
        # Heavier statistics, in records.PROBE_CHANNELS order: act mean, std and inactive
        # fraction [hidden] each, update ratio, signal std, back-propagated gradient [layers];
        # one row per statistics step of the block.
        self.probe_width = 3 * self.n_hidden + 3 * n
        self._probe_rows: list[torch.Tensor] = []
        self._probe_steps: list[int] = []
        # The weights before this step's update, on statistics steps (for the update ratio).
        # The buffer is allocated and touched here, with the net, and kept: at 200 x 1024 its
        # 800 MB cost 1.6 s in page faults at first touch, which step 1 (the first row on
        # screen) would otherwise pay, and 5x the copy each time if allocated anew. The
        # memory budget counts it already.
        self._before: torch.Tensor | None = None
        self._kept = torch.zeros_like(self.weights)
        self._held: tuple[int, Capture, torch.Tensor] | None = None

    def _adopt_all(self, linears: list[LinearParams], w_cols: int) -> None:
        """Move every parameter into the flat buffer (weights, biases, then the rest: norm
        layers' scales and shifts), and unless ``separate`` their gradients likewise."""
        n = len(linears)
        reported = {id(t) for lin in linears for t in (lin.weight, lin.bias)}
        others = [p for p in self.model.parameters() if id(p) not in reported]
        b_cols = max(lin.bias.numel() for lin in linears)
        w_size, b_size = n * w_cols, n * b_cols
        total = w_size + b_size + sum(p.numel() for p in others)
        ref = linears[0].weight
        self._param_flat = torch.zeros(total, dtype=ref.dtype, device=ref.device)
        # Separate gradients need no buffer (at 200 x 1024 it would be 800 MB).
        self._grad_flat = torch.zeros(0 if self.separate else total, dtype=ref.dtype,
                                      device=ref.device)
        self.weights = self._param_flat[:w_size].view(n, w_cols)
        bias_params = self._param_flat[w_size : w_size + b_size].view(n, b_cols)
        grads = self._grad_flat if not self.separate else torch.zeros(
            total, dtype=ref.dtype, device="meta")  # shapes only
        self.weight_grads = grads[:w_size].view(n, w_cols)
        self.bias_grads = grads[w_size : w_size + b_size].view(n, b_cols)
        with torch.no_grad():
            for i, lin in enumerate(linears):
                self._adopt(lin.weight, self.weights[i], self.weight_grads[i])
                self._adopt(lin.bias, bias_params[i], self.bias_grads[i])
            cursor = w_size + b_size
            for p in others:
                k = p.numel()
                self._adopt(p, self._param_flat[cursor : cursor + k], grads[cursor : cursor + k])
                cursor += k

    def _adopt(self, p: torch.Tensor, data_slot: torch.Tensor, grad_slot: torch.Tensor) -> None:
        """Make ``p`` (and its gradient, unless separate) views of the given slots."""
        k = p.numel()
        data_slot[:k].copy_(p.reshape(-1))
        p.data = data_slot[:k].view_as(p)
        p.grad = None if self.separate else grad_slot[:k].view_as(p)
        self._params.append(p)

    def optimizer_params(self) -> list[torch.Tensor]:
        """What to give the optimizer: every parameter of the model as one flat tensor whose
        ``.grad`` is the gradient buffer; when ``separate``, the parameters themselves."""
        if self.separate:
            return list(self._params)
        self._param_flat.grad = self._grad_flat
        return [self._param_flat]

    # -- every step -------------------------------------------------------------------------
    def zero_grad(self) -> None:
        """Before backward. Narrow layers: zero the buffer, into which autograd accumulates
        and whose rows one op reads (per-tensor ops dominate there). Wide layers (separate):
        drop the gradients, so autograd hands over fresh ones, read by one ``_foreach_norm``;
        zeroing and accumulating would cost three more passes over memory."""
        if self.separate:
            for p in self._params:
                p.grad = None
        else:
            self._grad_flat.zero_()

    def wants_stats(self, step: int) -> bool:
        """Whether this step measures activations and update ratios (the heavier statistics)."""
        return step % self.stats_every == 0 or step == 1

    def begin(self, step: int) -> None:
        """Call before the forward pass."""
        self.model.capture = Capture() if self.wants_stats(step) else None

    def measure(self, slot: int, step: int) -> None:
        """After backward, before the optimizer step: the gradient norms."""
        self._w.measure(slot, step)
        self._b.measure(slot, step)
        if self.model.capture is not None:
            self._before = self._kept.copy_(self.weights)

    def abandon(self) -> None:
        """The step under way will not finish (Trainer.run_block's abort): let go of what
        it captured (at 200 x 1024, 100 MB of activations, else held all through a pause)."""
        self.model.capture = None
        self._before = None

    def after_update(self, step: int, hold: bool = False) -> None:
        """After the optimizer step: the heavier statistics, on the steps that take them.
        With ``hold``, they are computed later by ``take_held()``, which must come before the
        next step changes the weights."""
        captured = self.model.capture
        if captured is not None and self._before is not None:
            if hold:
                self._held = (step, captured, self._before)
            else:
                self._probe_rows.append(self._heavy(captured, self._before))
                self._probe_steps.append(step)
        self.model.capture = None
        self._before = None

    def take_held(self) -> tuple[np.ndarray, np.ndarray]:
        """The statistics held back by ``after_update(hold=True)``: probe steps and rows
        (none if nothing was held), the same numbers ``after_update`` would have given."""
        held, self._held = self._held, None
        if held is None:
            return np.empty(0, np.int64), np.empty((0, self.probe_width))
        step, captured, before = held
        row = self._heavy(captured, before).cpu().numpy()
        return np.array([step], np.int64), row.reshape(1, -1)

    def collect(self, k: int, losses: list[torch.Tensor], logits: list[torch.Tensor],
                targets: list[torch.Tensor], extra: list[torch.Tensor]
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[np.ndarray]]:
        """End of a block of ``k`` steps: rows [k, 2L+2] (weight- and bias-gradient norms,
        loss, batch accuracy), probe steps and rows, and ``extra`` device tensors (held-out
        results) brought to the host in the same transfer."""
        with torch.no_grad():
            loss = torch.stack(losses).double()
            predicted = torch.stack(logits).argmax(2)
            acc = torch.eq(predicted, torch.stack(targets)).double().mean(1)
        probes = self._probe_rows
        sizes = [k * self.n_layers] * 2 + [k, k] + [len(p) for p in probes] + \
            [len(e) for e in extra]
        parts = [self._w.block(k).flatten(), self._b.block(k).flatten(), loss, acc,
                 *probes, *extra]
        if self.on_cpu:
            host = [p.numpy() for p in parts]
        else:
            packed = torch.cat([p.double() for p in parts]).cpu().numpy()  # the one transfer
            host = list(np.split(packed, np.cumsum(sizes)[:-1]))
        n = self.n_layers
        rows = np.empty((k, 2 * n + 2))
        rows[:, :n] = self._w.finish(host[0].reshape(k, n))
        rows[:, n : 2 * n] = self._b.finish(host[1].reshape(k, n))
        rows[:, 2 * n] = host[2]
        rows[:, 2 * n + 1] = host[3]
        n_probe = len(probes)
        probe_rows = (np.array(host[4 : 4 + n_probe], dtype=np.float64).reshape(n_probe, -1)
                      if n_probe else np.empty((0, self.probe_width)))
        probe_steps = np.array(self._probe_steps, dtype=np.int64)
        self._probe_rows = []
        self._probe_steps = []
        return rows, probe_steps, probe_rows, [np.array(h, np.float64) for h in host[4 + n_probe:]]

    # -- heavier statistics -------------------------------------------------------------------
    @torch.no_grad()
    def _heavy(self, captured: Capture, before: torch.Tensor) -> torch.Tensor:
        n, h = self.n_layers, self.n_hidden
        out = torch.empty(self.probe_width, dtype=torch.float64, device=self.device)
        if h:
            self._activation_stats(captured.activations, out)
        ratio = out[3 * h : 3 * h + n]
        # before - after in place: the same norm as after - before, and no new buffer.
        _norms(before.sub_(self.weights), ratio, self.on_cpu)
        ratio.div_(_norms(self.weights, None, self.on_cpu))
        self._signal_stats(captured, out[3 * h + n : 3 * h + 2 * n], out[3 * h + 2 * n :],
                           out[h : 2 * h])
        return out

    def _signal_stats(self, captured: Capture, signal: torch.Tensor, backprop: torch.Tensor,
                      act_std: torch.Tensor) -> None:
        """signal_std and backprop_grad of every layer's block output (see the docstring).
        ``act_std``: the activations' std, already taken; without shortcuts the hidden block
        outputs are those very tensors."""
        outputs = captured.outputs
        h = len(outputs) - 1
        if h > 0:
            if all(o is a for o, a in zip(outputs[:h], captured.activations, strict=True)):
                signal[:h].copy_(act_std)
            else:
                _std64([o.detach() for o in outputs[:h]], signal[:h])
        _std64([outputs[h].detach()], signal[h:])
        grads = [o.grad for o in outputs]
        if any(g is None for g in grads):  # no backward pass reached them
            backprop.fill_(math.nan)
            return
        if h > 0:
            _rms64(grads[:h], backprop[:h])  # type: ignore[arg-type]
        _rms64(grads[h:], backprop[h:])  # type: ignore[arg-type]

    def _activation_stats(self, captured: list[torch.Tensor], out: torch.Tensor) -> None:
        # Written with arithmetic rather than boolean masks: on the CPU, comparisons that
        # produce bool tensors and reductions over them cost ~10x more than float ops.
        # Layer by layer, never stacked: at 200 x 1024 a stack copies 100 MB.
        h = self.n_hidden
        acts = [a.detach() for a in captured]  # [batch, units] each
        _std64(acts, out[h : 2 * h], mean=out[:h])
        inactive = out[2 * h : 3 * h]
        if self.activation in ("sigmoid", "tanh"):
            # Distance beyond the saturation threshold, mapped to 1 if positive, else 0.
            centre, limit = ((0.5, 0.5 - SIGMOID_SATURATION) if self.activation == "sigmoid"
                             else (0.0, TANH_SATURATION))
            inactive.copy_(torch.stack([
                (a - centre).abs_().sub_(limit).clamp_(min=0).mul_(1e30).clamp_(max=1).mean()
                for a in acts]))
        elif self.activation == "relu":
            # A unit is dead when it outputs zero for every example in the batch.
            inactive.copy_(torch.stack([(a.amax(dim=0) <= 0).double().mean() for a in acts]))
        else:
            inactive.fill_(math.nan)


class _NormBlock:
    """Norms of every gradient of a kind (weights, biases), one row of results per step of a
    block: the rows of a 2-D gradient buffer, or (``separate``) each parameter's ``.grad``.

    On the CPU the norms are taken in float32, and each step the rows whose float32 norm is
    outside [RISK_LOW, RISK_HIGH] (or not finite) are taken again in float64 while their
    gradients are still there: within that range float32 is exact to ~1e-7 (squares of
    elements below 1e-19 underflow, but they add under n * 1e-38 to a square above 1e-20), and
    outside it a float32 norm may have underflowed or overflowed (Inf above ~1.8e19). Reading
    the norms costs no sync on the CPU; the decision depends on that step alone, so the
    records do not depend on how the steps were split into blocks.
    """

    RISK_LOW = 1e-10
    RISK_HIGH = 1e13

    @classmethod
    def risky(cls, norms: np.ndarray) -> np.ndarray:
        """Indices of the float32 norms outside [RISK_LOW, RISK_HIGH] or not finite."""
        with np.errstate(invalid="ignore"):
            return np.flatnonzero(~((norms >= cls.RISK_LOW) & (norms <= cls.RISK_HIGH)))

    def __init__(self, source: torch.Tensor | list[torch.Tensor], exact: bool) -> None:
        self.rows = source if isinstance(source, torch.Tensor) else None
        self.params = source if isinstance(source, list) else []
        ref = source if isinstance(source, torch.Tensor) else source[0]
        self.exact = exact or ref.dtype != torch.float32
        n = len(source)
        dtype = torch.float64 if self.exact else ref.dtype
        self._block = torch.empty(MAX_BLOCK, n, dtype=dtype, device=ref.device)
        self._slots = list(self._block.unbind(0))  # views, so no indexing op per step
        self._host = [t.numpy() for t in self._slots] if ref.device.type == "cpu" else []
        self._risk_block = torch.empty(MAX_BLOCK, n, dtype=torch.float64)
        self._risk_slots = list(self._risk_block.unbind(0))
        self._block_risk: list[np.ndarray] = []  # the rows retaken in float64, per slot

    def measure(self, slot: int, step: int) -> None:
        wide = torch.float64 if self.exact else None
        if self.rows is not None:
            torch.linalg.vector_norm(self.rows, dim=1, out=self._slots[slot], dtype=wide)
        else:
            grads = [p.grad for p in self.params]
            torch.stack(torch._foreach_norm(grads, dtype=wide),  # type: ignore[arg-type]
                        out=self._slots[slot])
        if self.exact:
            return
        norms = self._host[slot]
        # min/max propagate NaN, and NaN fails both comparisons: one test for the usual case.
        if norms.min() >= self.RISK_LOW and norms.max() <= self.RISK_HIGH:
            self._block_risk.append(_NONE)
            return
        risk = self.risky(norms)
        self._block_risk.append(risk)
        out = self._risk_slots[slot][: len(risk)]
        if self.rows is not None:
            picked = self.rows.index_select(0, torch.from_numpy(risk))
            torch.linalg.vector_norm(picked, dim=1, dtype=torch.float64, out=out)
        else:
            chosen = [self.params[i].grad for i in risk]
            torch.stack(torch._foreach_norm(chosen, dtype=torch.float64), out=out)

    def block(self, k: int) -> torch.Tensor:
        return self._block[:k]

    def finish(self, host: np.ndarray) -> np.ndarray:
        """float64 norms [k, rows] of the block that just ended."""
        norms = host.astype(np.float64)
        if self.exact:
            return norms
        for slot, risk in enumerate(self._block_risk):
            if len(risk):
                norms[slot, risk] = self._risk_block[slot, : len(risk)].numpy()
        self._block_risk = []
        return norms


_NONE = np.empty(0, dtype=np.int64)


# "Rows" below: the rows of a 2-D tensor, or a list of tensors, each reduced whole. Row by row:
# on the CPU, float64 reductions along dim 1 of a [200, 65536] float32 tensor took ~4x as long
# as the same reductions row by row (87 vs 23 ms for the norms; the rows stay in cache), with
# the same numbers.
Rows = torch.Tensor | list[torch.Tensor]


def _std64(rows: Rows, out: torch.Tensor | None = None,
           mean: torch.Tensor | None = None) -> torch.Tensor:
    """Population standard deviation of each row, in float64, two passes: a one-pass
    E[x^2] - E[x]^2 cancels to 0 where the spread is tiny beside the mean. ``mean``, if
    given, receives each row's mean."""
    if out is None:
        out = torch.empty(len(rows), dtype=torch.float64, device=rows[0].device)
    for i, row in enumerate(rows):
        x = row.double()
        m = x.mean()
        torch.sqrt((x - m).square_().mean(), out=out[i])
        if mean is not None:
            mean[i] = m
    return out


def _norms64(rows: Rows, out: torch.Tensor | None = None) -> torch.Tensor:
    """The 2-norm of each row, in float64 (float32 squares of 1e-20 underflow)."""
    norms = torch._foreach_norm(list(rows), 2, dtype=torch.float64)
    return torch.stack(norms) if out is None else torch.stack(norms, out=out)


def _norms(rows: torch.Tensor, out: torch.Tensor | None, on_cpu: bool) -> torch.Tensor:
    """The 2-norm of each row of a float32 matrix, in float64. On the CPU a float64 norm
    costs ~7x a float32 one, and a float32 ``vector_norm`` of a million elements is off by
    ~1e-5; each row's BLAS dot product with itself is off by ~3e-7 and costs less than
    either. Rows whose norm falls outside the band where float32 squares neither underflow
    nor overflow (``_NormBlock.RISK_LOW``..``RISK_HIGH``, or not finite) are taken again in
    float64, as the gradient norms are."""
    if not on_cpu or rows.dtype != torch.float32:
        return _norms64(rows, out)
    norms = np.sqrt(np.array([torch.dot(r, r).item() for r in rows.unbind(0)]))
    risky = _NormBlock.risky(norms)
    if len(risky):
        norms[risky] = _norms64(rows.index_select(0, torch.from_numpy(risky))).numpy()
    result = torch.from_numpy(norms)
    return result if out is None else out.copy_(result)


def _rms64(rows: Rows, out: torch.Tensor) -> None:
    """Root-mean-square of each row, in float64 (rows of one size)."""
    _norms64(rows, out)
    out.div_(math.sqrt(rows[0].numel()))



