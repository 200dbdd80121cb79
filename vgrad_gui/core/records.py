"""What training records, and in which order: the one description of the row layout shared by
the probe (which writes rows), the history (which stores them), the run file and the GUI."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Tables of a run, with their channels as (name, width kind). Width kinds: "layers" (every
# Linear layer, input side first, output last), "hidden" (every hidden layer), "one".
STEP_CHANNELS = (("grad_norm", "layers"), ("bias_grad_norm", "layers"), ("loss", "one"),
                 ("accuracy", "one"))
# Probe channels (statistics steps only; see probe.py's docstring for the cadence):
# act_* and inactive_fraction describe each hidden block's activation output; update_ratio is
# ||W_after - W_before|| / ||W_after||; signal_std is the std (over batch x units) of each
# Linear layer's block output as passed on (hidden: after activation and shortcut; output: the
# logits); backprop_grad is the root-mean-square of dL/d(that output), L the mean
# cross-entropy of the batch.
PROBE_CHANNELS = (("act_mean", "hidden"), ("act_std", "hidden"), ("inactive_fraction", "hidden"),
                  ("update_ratio", "layers"), ("signal_std", "layers"),
                  ("backprop_grad", "layers"))
EVAL_CHANNELS = (("test_loss", "one"), ("test_accuracy", "one"))
TABLES = {"steps": STEP_CHANNELS, "probes": PROBE_CHANNELS, "evals": EVAL_CHANNELS}
# The run-file format version that first recorded a channel (absent: version 1). A file older
# than that lacks the channel, which then reads as NaN.
CHANNEL_ADDED_IN = {"signal_std": 2, "backprop_grad": 2}


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
    probe_rows: np.ndarray  # float64 [p, 3 * hidden + 3 * layers] (PROBE_CHANNELS)
    eval_steps: np.ndarray  # int64 [e]
    eval_rows: np.ndarray  # float64 [e, 2]

    @classmethod
    def empty(cls, row_width: int, probe_width: int) -> RecordBlock:
        """A block that trained no step."""
        return cls(np.empty(0, np.int64), np.empty((0, row_width)), np.empty(0, np.int64),
                   np.empty((0, probe_width)), np.empty(0, np.int64), np.empty((0, 2)))

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

    def through(self, step: int) -> RecordBlock:
        """The records of the steps up to and including ``step``."""
        def keep(steps: np.ndarray) -> np.ndarray:
            return np.asarray(steps) <= step

        s, p, e = keep(self.steps), keep(self.probe_steps), keep(self.eval_steps)
        return RecordBlock(self.steps[s], self.rows[s], self.probe_steps[p], self.probe_rows[p],
                           self.eval_steps[e], self.eval_rows[e])


def first_nonfinite(steps: np.ndarray, rows: np.ndarray, n_layers: int) -> int | None:
    """The first step whose gradient norms or loss are NaN or infinite, if any."""
    bad = ~np.isfinite(rows[:, : 2 * n_layers + 1]).all(axis=1)
    return int(np.asarray(steps)[np.argmax(bad)]) if bad.any() else None
