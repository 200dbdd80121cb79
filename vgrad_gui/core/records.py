"""What one training step records, and in which order: the one description of the row layout
shared by the probe (which writes rows), the history (which stores them), the run file and the
GUI (which reads them)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Tables of a run, with their channels as (name, width kind). Width kinds: "layers" (every
# Linear layer, input side first, output last), "hidden" (every hidden layer), "one".
STEP_CHANNELS = (("grad_norm", "layers"), ("bias_grad_norm", "layers"), ("loss", "one"),
                 ("accuracy", "one"))
PROBE_CHANNELS = (("act_mean", "hidden"), ("act_std", "hidden"), ("inactive_fraction", "hidden"),
                  ("update_ratio", "layers"))
EVAL_CHANNELS = (("test_loss", "one"), ("test_accuracy", "one"))
TABLES = {"steps": STEP_CHANNELS, "probes": PROBE_CHANNELS, "evals": EVAL_CHANNELS}


def channel_widths(table: str, n_layers: int) -> list[tuple[str, int]]:
    sizes = {"layers": n_layers, "hidden": n_layers - 1, "one": 1}
    return [(name, sizes[kind]) for name, kind in TABLES[table]]


def row_width(table: str, n_layers: int) -> int:
    return sum(w for _, w in channel_widths(table, n_layers))


@dataclass
class StepRecord:
    """One training step: its number (1 = the first step, at the initial weights) and rows for
    the tables measured on it. ``probe`` and ``eval`` are None on steps that skip them."""

    step: int
    row: np.ndarray
    probe: np.ndarray | None = None
    eval: np.ndarray | None = None

    def grad_norm(self, n_layers: int) -> np.ndarray:
        return self.row[:n_layers]

    @property
    def loss(self) -> float:
        return float(self.row[-2])

    @property
    def accuracy(self) -> float:
        return float(self.row[-1])

    def finite(self, n_layers: int) -> bool:
        """False when a gradient norm or the loss is NaN or infinite."""
        return bool(np.isfinite(self.row[: 2 * n_layers + 1]).all())
