"""Weight initialisation schemes, by config name."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Protocol

import torch
from torch import nn


def _normal(std: float) -> Callable[[torch.Tensor], object]:
    return lambda w: nn.init.normal_(w, 0.0, std)


def _lecun_normal(w: torch.Tensor) -> None:
    fan_in = w.shape[1]
    nn.init.normal_(w, 0.0, 1.0 / math.sqrt(fan_in))


INITIALISERS: dict[str, Callable[[torch.Tensor], object]] = {
    "small_normal": _normal(0.01),
    "large_normal": _normal(1.0),
    "xavier_uniform": nn.init.xavier_uniform_,
    "xavier_normal": nn.init.xavier_normal_,
    "he_uniform": lambda w: nn.init.kaiming_uniform_(w, nonlinearity="relu"),
    "he_normal": lambda w: nn.init.kaiming_normal_(w, nonlinearity="relu"),
    "lecun_normal": _lecun_normal,
    "orthogonal": nn.init.orthogonal_,
}


class HasWeightAndBias(Protocol):
    """An nn.Linear, or the builder's LinearParams."""

    @property
    def weight(self) -> torch.Tensor: ...

    @property
    def bias(self) -> torch.Tensor | None: ...


@torch.no_grad()
def initialise(linear: HasWeightAndBias, scheme: str) -> None:
    """Re-initialise a Linear layer in place. 'default' keeps PyTorch's own initialisation;
    every other scheme sets the weights as named and the biases to zero."""
    if scheme == "default":
        return
    INITIALISERS[scheme](linear.weight)
    if linear.bias is not None:
        linear.bias.zero_()
