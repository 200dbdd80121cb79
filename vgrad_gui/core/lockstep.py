"""Lockstep: several Trainers in one process, stepped in turn, block by block.

Compare mode trains two to four networks at once. They share one worker process, not one
process each: on a 2-core machine two processes of a single-threaded trainer each would fight
the GUI for the cores, and every process costs a torch import (seconds) and its memory. In one
process the runs are stepped in turn, ``k`` steps each per turn, so compared runs stay at the
same step (the views compare like with like) and share the cores fairly (each run gets the
same number of steps, whatever its cost per step).

Each Trainer owns its data, weights, optimizer and batch-order generator, and the model is
built from its own seed without touching the global RNG, so interleaving runs changes
nothing: a compared run's records are bit-identical to the same config trained alone (tested).
A run that finishes, hits NaN/Inf or raises stops; the others go on.

Torch threads are per process. Each run trains its turn with its own count
(``trainer.threads_for``: 1 for narrow nets, where a second thread only adds synchronisation);
between turns, and while a network is built, the count is the widest run's. Changing it costs
~1 us (measured), and the records do not depend on it (measured at widths 8 and 256: 1 and 2
threads give identical bytes).

Hosted by the desktop app's worker (``gui_cores=1``), a run whose steps are quick leaves a core
to the window, which then redraws at its full rate: torch's threads wait for each other at
every operation, and one of them kept off a core by the window stalls them all. A 10 x 256 net
trained at 6 steps/s on 2 threads next to a busy process, 67 on 1 (86-110 alone, measured).
Runs whose steps are slow (``BUSY_STEP_S`` or more: the window has little to draw) keep every
thread.

This module imports torch (through trainer.py): it runs in the worker process only.
"""

from __future__ import annotations

import os
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from vgrad_gui.core import trainer as trainer_mod
from vgrad_gui.core.records import RecordBlock
from vgrad_gui.core.run import MAX_POINTS, DataSample
from vgrad_gui.core.spec import Config
from vgrad_gui.core.trainer import Trainer

MAX_RUNS = 4
BUSY_STEP_S = 0.05  # steps quicker than this keep the window drawing at its full rate
RUNNING, FINISHED, NONFINITE, FAILED = "running", "finished", "nonfinite", "failed"

TrainerFactory = Callable[[Config], Trainer]


class LockstepError(ValueError):
    """A lockstep operation that cannot be done; the message says what is allowed."""


@dataclass
class Failure:
    """A run whose training raised: one line for people, the traceback for the details."""

    message: str
    details: str


@dataclass
class _Slot:
    trainer: Trainer
    config: Config
    max_steps: int
    failure: Failure | None = None
    step_s: float | None = None  # seconds a step, as last trained
    capped: bool = False  # trained on fewer threads, leaving a core to the window


class Lockstep:
    """Trainers keyed by run id, in the order they were added."""

    def __init__(self, make_trainer: TrainerFactory = Trainer, max_runs: int = MAX_RUNS,
                 gui_cores: int = 0, cpus: int | None = None) -> None:
        """``gui_cores``: cores a window drawing these runs takes while they train quickly
        (see the module's docstring); ``cpus``: the machine's (os.cpu_count by default)."""
        self._make = make_trainer
        self.max_runs = max_runs
        self.gui_cores = gui_cores
        self.cpus = cpus or os.cpu_count() or 1
        self._slots: dict[int, _Slot] = {}

    # -- the set of runs ----------------------------------------------------------------------
    def add(self, run_id: int, config: Config) -> Trainer:
        """Build a trainer for ``config`` under ``run_id``; raises what Trainer raises
        (ConfigError for a config this machine cannot run)."""
        if run_id in self._slots:
            raise LockstepError(f"run id {run_id} is already training; use replace()")
        if len(self._slots) >= self.max_runs:
            raise LockstepError(f"at most {self.max_runs} runs train together; remove one "
                                f"first")
        trainer = self._build(config)
        self._slots[run_id] = _Slot(trainer, config, config.steps)
        self._set_threads()
        return trainer

    def remove(self, run_id: int) -> None:
        self._slot(run_id)
        del self._slots[run_id]
        self._set_threads()

    def replace(self, run_id: int, config: Config, new_id: int | None = None) -> Trainer:
        """A fresh trainer for ``config`` in ``run_id``'s place (same turn order), under
        ``new_id`` if given (a reset gets a new id so that late messages for the old run can
        be told apart). The new run starts at step 0; the others go on."""
        self._slot(run_id)
        new_id = run_id if new_id is None else new_id
        if new_id != run_id and new_id in self._slots:
            raise LockstepError(f"run id {new_id} is already training")
        trainer = self._build(config)
        slots: dict[int, _Slot] = {}
        for key, slot in self._slots.items():
            if key == run_id:
                slots[new_id] = _Slot(trainer, config, config.steps)
            else:
                slots[key] = slot
        self._slots = slots
        self._set_threads()
        return trainer

    def clear(self) -> None:
        self._slots.clear()

    def _build(self, config: Config) -> Trainer:
        # Threads first: a wide net's build (its init) already uses them.
        torch.set_num_threads(max(self._threads(), trainer_mod.threads_for(config)))
        try:
            return self._make(config)
        finally:
            self._set_threads()

    def _threads(self) -> int:
        return max((trainer_mod.threads_for(s.config) for s in self._slots.values()),
                   default=1)

    def turn_threads(self, slot: _Slot) -> int:
        """Torch threads for a turn of ``slot``'s run (see the module's docstring)."""
        want = trainer_mod.threads_for(slot.config)
        # Not before its first turn (a big net's first step on every thread), and with some
        # hysteresis: a step of 40 ms on two threads may take 60 on one.
        slot.capped = bool(self.gui_cores) and slot.step_s is not None and \
            slot.step_s < BUSY_STEP_S * (2 if slot.capped else 1)
        return min(want, max(1, self.cpus - self.gui_cores)) if slot.capped else want

    def _set_threads(self) -> None:
        if self._slots:
            torch.set_num_threads(self._threads())

    def _slot(self, run_id: int) -> _Slot:
        try:
            return self._slots[run_id]
        except KeyError:
            raise LockstepError(f"no run {run_id} (runs: {list(self._slots)})") from None

    # -- reading --------------------------------------------------------------------------------
    @property
    def ids(self) -> list[int]:
        return list(self._slots)

    def __len__(self) -> int:
        return len(self._slots)

    def __contains__(self, run_id: object) -> bool:
        return run_id in self._slots

    def trainer(self, run_id: int) -> Trainer:
        return self._slot(run_id).trainer

    @property
    def steps(self) -> dict[int, int]:
        """The last step each run trained, by run id."""
        return {k: s.trainer.step_count for k, s in self._slots.items()}

    def status(self, run_id: int) -> str:
        """running, finished (reached its max steps), nonfinite or failed."""
        slot = self._slot(run_id)
        if slot.failure is not None:
            return FAILED
        if slot.trainer.nonfinite_step is not None:
            return NONFINITE
        return FINISHED if slot.trainer.step_count >= slot.max_steps else RUNNING

    def failure(self, run_id: int) -> Failure | None:
        return self._slot(run_id).failure

    def active_ids(self) -> list[int]:
        return [k for k in self._slots if self.status(k) == RUNNING]

    @property
    def done(self) -> bool:
        return not self.active_ids()

    def set_max_steps(self, run_id: int, steps: int) -> None:
        self._slot(run_id).max_steps = max(0, int(steps))

    # -- training -------------------------------------------------------------------------------
    def step_all(self, k: int, align: bool = False,
                 abort: Callable[[], bool] | None = None) -> dict[int, RecordBlock]:
        """Train every running run ``k`` more steps (fewer where its max steps come first),
        in turn; returns the blocks by run id (none for a run that trained no step). With
        ``align``, a run ahead of the slowest running run waits for it (trains only up to the
        slowest's step + k), so a run added or reset mid-way catches up and the comparison is
        again at one step. A run that raises is marked failed (``failure``) and the others go
        on. ``abort``: see Trainer.run_block; once it has said yes, the turn ends there (the
        runs are realigned by the next turn with ``align``)."""
        k = max(1, int(k))
        active = self.active_ids()
        if not active:
            return {}
        target = min(self._slots[i].trainer.step_count for i in active) + k
        out: dict[int, RecordBlock] = {}
        for run_id in active:
            slot = self._slots[run_id]
            tr = slot.trainer
            n = min(k, slot.max_steps - tr.step_count)
            if align:
                n = min(n, target - tr.step_count)
            if n <= 0:
                continue
            want = self.turn_threads(slot)
            if torch.get_num_threads() != want:
                torch.set_num_threads(want)
            started = time.perf_counter()
            try:
                block = self._train(tr, n, abort)
            except Exception as exc:  # one broken run must not stop the comparison
                slot.failure = _failure(tr.step_count + 1, exc)
                continue
            if len(block):
                slot.step_s = (time.perf_counter() - started) / len(block)
                out[run_id] = block
            if tr.aborted:
                break
        self._set_threads()
        return out

    def finish_first(self, run_id: int) -> RecordBlock | None:
        """Step 1's held-back statistics and evaluation (``Trainer.defer_first``); a run
        that raises is marked failed, as in ``step_all``."""
        slot = self._slot(run_id)
        try:
            return slot.trainer.finish_first()
        except Exception as exc:
            slot.failure = _failure(1, exc)
            return None

    @staticmethod
    def _train(tr: Trainer, n: int, abort: Callable[[], bool] | None = None) -> RecordBlock:
        blocks = []
        while n > 0 and tr.nonfinite_step is None:
            block = tr.run_block(n, abort)
            blocks.append(block)
            n -= len(block)
            if tr.aborted or block.first_nonfinite(tr.n_layers) is not None:
                break
        return blocks[0] if len(blocks) == 1 else concat_blocks(blocks)


def _failure(step: int, exc: Exception) -> Failure:
    """What a run that raised while training ``step`` reports (its traceback as details)."""
    return Failure(f"training failed at step {step}: {exc}", traceback.format_exc())


def concat_blocks(blocks: list[RecordBlock]) -> RecordBlock:
    """Consecutive blocks of one run as one (k may exceed the trainer's MAX_BLOCK)."""
    def cat(name: str) -> np.ndarray:
        return np.concatenate([getattr(b, name) for b in blocks])

    return RecordBlock(cat("steps"), cat("rows"), cat("probe_steps"), cat("probe_rows"),
                       cat("eval_steps"), cat("eval_rows"))


def data_sample(trainer: Trainer, max_points: int = MAX_POINTS) -> DataSample | None:
    """The first ``max_points`` training points and the boundary grid's extent (the data's
    range plus a margin of 0.5) for a 2-D data set; None for any other."""
    data = trainer.data
    if data.input_dim != 2:
        return None
    both = np.concatenate([data.x_train, data.x_test])
    lo, hi = both.min(0) - 0.5, both.max(0) + 0.5
    return DataSample(data.x_train[:max_points], data.y_train[:max_points],
                      (float(lo[0]), float(hi[0]), float(lo[1]), float(hi[1])))
