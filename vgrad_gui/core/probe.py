"""GradientProbe: reads every Linear layer's gradient each step, cheaply.

Why it is shaped like this: a Python loop of ``p.grad.norm().item()`` costs ~11% of a small
step, and ``torch._foreach_norm`` ~6%. Instead every parameter and every gradient lives in one
flat buffer, laid out so that tensors of equal size sit next to each other; one
``vector_norm(dim=1)`` per size group then reads many layers at once, in float64 so that the
squares of tiny (vanishing) gradients do not underflow. Everything a step reports is packed
into one tensor, so there is one device-to-host transfer per step.

The probe owns gradient zeroing (``zero_grad``): autograd accumulates into the existing views
instead of allocating new gradients, and ``set_to_none`` would detach them from the buffer.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from vgrad_gui.core.activations import INFO, inactive_mask
from vgrad_gui.core.builder import VGradNet


class SegmentNorms:
    """L2 norms of fixed segments of a flat tensor, grouped by segment size."""

    def __init__(self, sizes: list[int], offsets: list[int], device: torch.device) -> None:
        order = sorted(range(len(sizes)), key=lambda i: (sizes[i], offsets[i]))
        # Runs of equal size that are also adjacent in memory become one 2-D view.
        self.groups: list[tuple[int, int, int]] = []  # (start, count, size)
        for i in order:
            start, size = offsets[i], sizes[i]
            if self.groups:
                g_start, g_count, g_size = self.groups[-1]
                if g_size == size and g_start + g_count * g_size == start:
                    self.groups[-1] = (g_start, g_count + 1, g_size)
                    continue
            self.groups.append((start, 1, size))
        # Position of each segment (in the caller's order) within the concatenated groups.
        position = {seg: pos for pos, seg in enumerate(order)}
        self.index = torch.tensor([position[i] for i in range(len(sizes))], device=device)

    def __call__(self, flat: torch.Tensor) -> torch.Tensor:
        parts = [
            torch.linalg.vector_norm(flat[s : s + c * z].view(c, z), dim=1, dtype=torch.float64)
            for s, c, z in self.groups
        ]
        return torch.cat(parts).index_select(0, self.index)


class GradientProbe:
    """Attach to a model once, before creating its optimizer; then each step:
    ``zero_grad()``, forward and backward, ``measure(...)`` before ``optimizer.step()`` and
    ``finish(...)`` after it."""

    def __init__(self, model: VGradNet, activation: str, stats_every: int = 10) -> None:
        self.model = model
        self.activation = activation
        self.inactive_kind = INFO[activation].inactive_kind
        self.stats_every = max(1, int(stats_every))
        linears = model.linears
        self.n_layers = len(linears)
        device = linears[0].weight.device
        reported = [lin.weight for lin in linears] + [
            lin.bias if lin.bias is not None else None for lin in linears
        ]
        if any(p is None for p in reported):
            raise ValueError("every Linear layer needs a bias")
        reported_params = [p for p in reported if p is not None]
        others = [p for p in model.parameters() if all(p is not q for q in reported_params)]
        # Lay reported tensors out sorted by size so equal sizes are adjacent.
        sizes = [p.numel() for p in reported_params]
        layout = sorted(range(len(reported_params)), key=lambda i: sizes[i])
        offsets = [0] * len(reported_params)
        cursor = 0
        for i in layout:
            offsets[i] = cursor
            cursor += sizes[i]
        self.n_reported = cursor
        total = cursor + sum(p.numel() for p in others)
        dtype = linears[0].weight.dtype
        self.params = torch.empty(total, dtype=dtype, device=device)
        self.grads = torch.zeros(total, dtype=dtype, device=device)
        placed = [(p, offsets[i]) for i, p in enumerate(reported_params)]
        cursor = self.n_reported
        for p in others:
            placed.append((p, cursor))
            cursor += p.numel()
        with torch.no_grad():
            for p, off in placed:
                n = p.numel()
                self.params[off : off + n].copy_(p.reshape(-1))
                p.data = self.params[off : off + n].view_as(p)
                p.grad = self.grads[off : off + n].view_as(p)
        self._norms = SegmentNorms(sizes, offsets, device)
        self._weight_norms = SegmentNorms(sizes[: self.n_layers], offsets[: self.n_layers],
                                          device)
        self._before: torch.Tensor | None = None

    # -- every step -------------------------------------------------------------------------
    def zero_grad(self) -> None:
        self.grads.zero_()

    def wants_stats(self, step: int) -> bool:
        """Whether this step measures activations and update ratios (the heavier statistics)."""
        return step % self.stats_every == 0 or step == 1

    def begin(self, step: int) -> None:
        """Call before the forward pass."""
        self.model.capture = [] if self.wants_stats(step) else None

    def measure(self) -> torch.Tensor:
        """After backward, before the optimizer step: weight then bias gradient norms, [2L]."""
        if self.model.capture is not None:
            self._before = self.params[: self.n_reported].clone()
        return self._norms(self.grads)

    def finish(self, grad_norms: torch.Tensor, loss: torch.Tensor,
               correct: torch.Tensor) -> tuple[np.ndarray, np.ndarray | None]:
        """After the optimizer step: pack everything, transfer once, split into the step row
        (grad norms, bias grad norms, loss, accuracy) and the probe row (or None)."""
        parts = [grad_norms, loss.detach().reshape(1).double(), correct.reshape(1).double()]
        captured = self.model.capture
        if captured is not None and self._before is not None:
            parts.append(self._activation_stats(captured))
            parts.append(self._update_ratios(self._before))
        self.model.capture = None
        self._before = None
        host = torch.cat(parts).cpu().numpy()
        split = 2 * self.n_layers + 2
        return host[:split], (host[split:] if captured is not None else None)

    # -- heavier statistics -------------------------------------------------------------------
    @torch.no_grad()
    def _activation_stats(self, captured: list[torch.Tensor]) -> torch.Tensor:
        acts = torch.stack([a.detach() for a in captured]).double()  # [hidden, batch, units]
        mean = acts.mean(dim=(1, 2))
        std = acts.std(dim=(1, 2)) if acts[0].numel() > 1 else torch.zeros_like(mean)
        mask = inactive_mask(self.activation, acts)
        if mask is None:
            inactive = torch.full_like(mean, math.nan)
        elif self.inactive_kind == "dead":
            inactive = mask.all(dim=1).double().mean(dim=1)
        else:
            inactive = mask.double().mean(dim=(1, 2))
        return torch.cat([mean, std, inactive])

    @torch.no_grad()
    def _update_ratios(self, before: torch.Tensor) -> torch.Tensor:
        after = self.params[: self.n_reported]
        delta = self._weight_norms(after - before)
        weight = self._weight_norms(after)
        return delta / weight
