"""Activation functions: the module to build, the largest slope, and what 'unhealthy' means.

Saturating activations (sigmoid, tanh) are unhealthy where their output sits near a flat end;
ReLU units are dead when they output zero for a whole batch. Other activations have no such
test and report NaN for the inactive fraction.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn


@dataclass(frozen=True)
class ActivationInfo:
    name: str
    max_slope: float
    # "saturated", "dead" or "" (no inactivity test for this activation)
    inactive_kind: str


INFO: dict[str, ActivationInfo] = {
    "sigmoid": ActivationInfo("sigmoid", 0.25, "saturated"),
    "tanh": ActivationInfo("tanh", 1.0, "saturated"),
    "relu": ActivationInfo("relu", 1.0, "dead"),
    "leaky_relu": ActivationInfo("leaky_relu", 1.0, ""),
    "elu": ActivationInfo("elu", 1.0, ""),
    "gelu": ActivationInfo("gelu", 1.13, ""),
    "selu": ActivationInfo("selu", 1.76, ""),
    "linear": ActivationInfo("linear", 1.0, ""),
}

# A unit counts as saturated where its slope is below ~10% of the activation's largest slope:
# sigmoid outside (0.025, 0.975) has slope < 0.024; tanh with |y| > 0.95 has slope < 0.0975.
SIGMOID_SATURATION = 0.025
TANH_SATURATION = 0.95


def make_activation(name: str) -> nn.Module:
    factories: dict[str, Callable[[], nn.Module]] = {
        "sigmoid": nn.Sigmoid,
        "tanh": nn.Tanh,
        "relu": nn.ReLU,
        "leaky_relu": lambda: nn.LeakyReLU(0.01),
        "elu": nn.ELU,
        "gelu": nn.GELU,
        "selu": nn.SELU,
        "linear": nn.Identity,
    }
    return factories[name]()


def functional_activation(name: str) -> Callable[[torch.Tensor], torch.Tensor]:
    """The same function as ``make_activation(name)``, without a module call per layer."""
    functions: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
        "sigmoid": torch.sigmoid,
        "tanh": torch.tanh,
        "relu": torch.relu,
        "leaky_relu": lambda x: F.leaky_relu(x, 0.01),
        "elu": F.elu,
        "gelu": F.gelu,
        "selu": torch.selu,
        "linear": _identity,
    }
    return functions[name]


def _identity(x: torch.Tensor) -> torch.Tensor:
    return x


def inactive_mask(name: str, out: torch.Tensor) -> torch.Tensor | None:
    """Boolean [..., batch, units] mask of inactive outputs, or None where undefined.

    For ReLU the caller reduces over the batch (a unit is dead only if all its outputs are 0).
    """
    if name == "sigmoid":
        return (out < SIGMOID_SATURATION) | (out > 1.0 - SIGMOID_SATURATION)
    if name == "tanh":
        return out.abs() > TANH_SATURATION
    if name == "relu":
        return out <= 0
    return None
