"""What training records, and in which order: the one description of the row layout shared by
the probe (which writes rows), the history (which stores them), the run file and the GUI."""

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
class RecordBlock:
    """Consecutive training steps: one row per step for the steps table, plus rows for the
    steps that also measured the heavier statistics (probes) or the held-out set (evals).

    Step 1 is the first step, whose gradient is taken at the initial weights.
    """

    steps: np.ndarray  # int64 [k]
    rows: np.ndarray  # float64 [k, 2 * layers + 2]
    probe_steps: np.ndarray  # int64 [p]
    probe_rows: np.ndarray  # float64 [p, 3 * hidden + layers]
    eval_steps: np.ndarray  # int64 [e]
    eval_rows: np.ndarray  # float64 [e, 2]

    def __len__(self) -> int:
        return len(self.steps)

    @property
    def last_step(self) -> int:
        return int(self.steps[-1])

    def grad_norms(self, n_layers: int) -> np.ndarray:
        """[k, layers] weight-gradient norms."""
        return self.rows[:, :n_layers]

    @property
    def loss(self) -> np.ndarray:
        return self.rows[:, -2]

    @property
    def accuracy(self) -> np.ndarray:
        return self.rows[:, -1]

    def first_nonfinite(self, n_layers: int) -> int | None:
        return first_nonfinite(self.steps, self.rows, n_layers)


def first_nonfinite(steps: np.ndarray, rows: np.ndarray, n_layers: int) -> int | None:
    """The first step whose gradient norms or loss are NaN or infinite, if any."""
    bad = ~np.isfinite(rows[:, : 2 * n_layers + 1]).all(axis=1)
    return int(np.asarray(steps)[np.argmax(bad)]) if bad.any() else None
