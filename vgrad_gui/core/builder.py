"""Build the network a Config describes: blocks of Linear -> [norm] -> activation (+ shortcut),
then an output Linear. Layer names are stable and readable: "hidden 1" ... "output".

The network is flat: ``VGradNet.forward`` loops over its own weight and bias tensors with
``F.linear``, the functional activation and ``F.batch_norm``/``F.layer_norm``, and calls no
per-layer module. A ``Block`` module per layer (Linear, norm, activation) cost ~80 module calls
per step at depth 20, twice an ``nn.Sequential``'s, and about a tenth of a small net's step in
Python dispatch. The parameters stay registered (ParameterLists), so ``.parameters()``,
``.train()``, ``.eval()`` and ``.to()`` work as for any module.

Initialisation is unchanged: the Linear layers are created as ``nn.Linear`` modules in the
order the block modules created them (hidden 1 ... output), which draws the same random
numbers, and their parameters are taken over; the same seed gives the same weights as before.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from vgrad_gui.core.activations import functional_activation
from vgrad_gui.core.inits import initialise
from vgrad_gui.core.spec import Config

BN_MOMENTUM = 0.1  # nn.BatchNorm1d's defaults
NORM_EPS = 1e-5  # nn.BatchNorm1d's and nn.LayerNorm's default


def layer_names(depth: int) -> list[str]:
    """Names of the Linear layers, input side first; the last is the output layer."""
    return [f"hidden {i}" for i in range(1, depth + 1)] + ["output"]


@dataclass(frozen=True)
class LinearParams:
    """One Linear layer's parameters (what the probe and the tests read)."""

    weight: nn.Parameter
    bias: nn.Parameter


class Capture:
    """What one forward pass keeps for the probe's statistics steps: each hidden block's
    activation output, and each Linear layer's block output as passed on (after activation
    and shortcut; the logits last), whose gradients autograd keeps (``retain_grad``)."""

    def __init__(self) -> None:
        self.activations: list[torch.Tensor] = []
        self.outputs: list[torch.Tensor] = []


class VGradNet(nn.Module):
    def __init__(self, config: Config, input_dim: int, n_classes: int) -> None:
        super().__init__()
        depth, width = config.depth, config.width
        dims = [input_dim] + [width] * depth + [n_classes]
        linears = [nn.Linear(dims[i], dims[i + 1]) for i in range(depth + 1)]
        self.weights = nn.ParameterList(lin.weight for lin in linears)
        self.biases = nn.ParameterList(lin.bias for lin in linears)
        self.norm = config.norm
        if config.norm in ("batch", "layer"):
            self.norm_weights = nn.ParameterList(
                nn.Parameter(torch.ones(width)) for _ in range(depth))
            self.norm_biases = nn.ParameterList(
                nn.Parameter(torch.zeros(width)) for _ in range(depth))
        if config.norm == "batch":
            self.register_buffer("running_mean", torch.zeros(depth, width))
            self.register_buffer("running_var", torch.ones(depth, width))
        self.width = width
        self.act: Callable[[torch.Tensor], torch.Tensor] = functional_activation(
            config.activation)
        # A shortcut needs matching sizes; the first block (input -> width) has none.
        self.residual = [config.residual and dims[i] == dims[i + 1] for i in range(depth)]
        self.names = layer_names(depth)
        # When set, forward() records into it (see Capture). The probe sets it only on the
        # steps it measures activations: hooks on every step would cost on every step.
        self.capture: Capture | None = None
        self._layers: list[tuple[Any, ...]] = []
        self._refresh()

    def _refresh(self) -> None:
        """Plain lists of the tensors forward() reads: indexing a ParameterList per layer
        costs a Python call each. Rebuilt whenever .to()/.float()... replace tensors."""
        depth = len(self.residual)
        w, b = list(self.weights), list(self.biases)
        nw = list(self.norm_weights) if self.norm in ("batch", "layer") else [None] * depth
        nb = list(self.norm_biases) if self.norm in ("batch", "layer") else [None] * depth
        rm: list[Any] = [None] * depth
        rv: list[Any] = [None] * depth
        if self.norm == "batch":
            rm = list(self.get_buffer("running_mean").unbind(0))
            rv = list(self.get_buffer("running_var").unbind(0))
        self._layers = [(w[i], b[i], nw[i], nb[i], rm[i], rv[i], self.residual[i])
                        for i in range(depth)]
        self._output = (w[-1], b[-1])

    def _apply(self, fn: Any, recurse: bool = True) -> VGradNet:
        super()._apply(fn, recurse)
        self._refresh()
        return self

    @property
    def linears(self) -> list[LinearParams]:
        """Every Linear layer's parameters, input side first, output layer last."""
        return [LinearParams(w, b) for w, b in zip(self.weights, self.biases, strict=True)]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        capture, act, norm, training = self.capture, self.act, self.norm, self.training
        shape = (self.width,)
        for w, b, nw, nb, rm, rv, residual in self._layers:
            y = F.linear(x, w, b)
            if norm == "batch":
                y = F.batch_norm(y, rm, rv, nw, nb, training, BN_MOMENTUM, NORM_EPS)
            elif norm == "layer":
                y = F.layer_norm(y, shape, nw, nb, NORM_EPS)
            y = act(y)
            x = x + y if residual else y
            if capture is not None:
                _keep(capture, y, x)
        w, b = self._output
        logits = F.linear(x, w, b)
        if capture is not None and logits.requires_grad:
            logits.retain_grad()
            capture.outputs.append(logits)
        return logits


def _keep(capture: Capture, activation: torch.Tensor, output: torch.Tensor) -> None:
    capture.activations.append(activation)
    if output.requires_grad:
        output.retain_grad()
    capture.outputs.append(output)


def build_model(config: Config, input_dim: int, n_classes: int) -> VGradNet:
    """Build on the CPU from the config's seed, without touching the global RNG state."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        model = VGradNet(config, input_dim, n_classes)
        for layer in model.linears:
            initialise(layer, config.init)
    return model
