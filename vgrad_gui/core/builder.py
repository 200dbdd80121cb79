"""Build the network a Config describes: blocks of Linear -> [norm] -> activation (+ shortcut),
then an output Linear. Layer names are stable and readable: "hidden 1" ... "output"."""

from __future__ import annotations

from typing import cast

import torch
from torch import nn

from vgrad_gui.core.activations import make_activation
from vgrad_gui.core.inits import initialise
from vgrad_gui.core.spec import Config


def layer_names(depth: int) -> list[str]:
    """Names of the Linear layers, input side first; the last is the output layer."""
    return [f"hidden {i}" for i in range(1, depth + 1)] + ["output"]


class Block(nn.Module):
    def __init__(self, in_dim: int, out_dim: int, activation: str, norm: str,
                 residual: bool) -> None:
        super().__init__()
        self.linear = nn.Linear(in_dim, out_dim)
        self.norm: nn.Module
        if norm == "batch":
            self.norm = nn.BatchNorm1d(out_dim)
        elif norm == "layer":
            self.norm = nn.LayerNorm(out_dim)
        else:
            self.norm = nn.Identity()
        self.act = make_activation(activation)
        # A shortcut needs matching sizes; the first block (input -> width) has none.
        self.residual = residual and in_dim == out_dim

    def forward(self, h: torch.Tensor, capture: list[torch.Tensor] | None = None) -> torch.Tensor:
        y = self.act(self.norm(self.linear(h)))
        if capture is not None:
            capture.append(y)
        return h + y if self.residual else y


class VGradNet(nn.Module):
    def __init__(self, config: Config, input_dim: int, n_classes: int) -> None:
        super().__init__()
        dims = [input_dim] + [config.width] * config.depth
        self.blocks = nn.ModuleList(
            Block(dims[i], dims[i + 1], config.activation, config.norm, config.residual)
            for i in range(config.depth)
        )
        self.output = nn.Linear(config.width, n_classes)
        self.names = layer_names(config.depth)
        # When a list, forward() appends every block's activation output to it. The probe sets
        # it only on the steps it measures activations: a hook on every block would cost the
        # slow nn.Module call path on every step.
        self.capture: list[torch.Tensor] | None = None

    @property
    def linears(self) -> list[nn.Linear]:
        """Every Linear layer, input side first, output layer last."""
        return [cast(Block, b).linear for b in self.blocks] + [self.output]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        capture = self.capture
        for block in self.blocks:
            x = block(x, capture)
        return self.output(x)


def build_model(config: Config, input_dim: int, n_classes: int) -> VGradNet:
    """Build on the CPU from the config's seed, without touching the global RNG state."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        model = VGradNet(config, input_dim, n_classes)
        for linear in model.linears:
            initialise(linear, config.init)
    return model
