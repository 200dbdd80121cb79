"""The training worker: a separate process that owns the Trainers and streams what they record.

Why a process: for small networks most of a training step is Python holding the GIL. Measured
here, a training loop in a thread of the GUI process ran at a third of its plain speed while a
30 fps view was drawing; in a separate process it kept ~90%. So the GUI process never imports
torch: it sends commands and receives batches of rows, and draws from its own history.

Why one process for every run: compare mode trains two to four networks at once. A process
each would fight the GUI for the cores (two on the machines this is built for), and each costs
a torch import (seconds) and its memory. So this one process hosts 1 to 4 Trainers in a
``core.lockstep.Lockstep`` and steps them in turn, ``k`` steps each per turn, with ``align``:
a run added or replaced mid-way trains while the runs ahead of it wait, until all are at one
step again, so the views compare like with like and each run gets the same number of steps
whatever its cost per step. Interleaving changes no run's records (each Trainer owns its data,
weights, optimizer and batch order): a compared run's rows are bit-identical to the same
config trained alone (tested).

Per turn ``k`` is chosen so that one turn over all runs lasts ~BLOCK_SECONDS: from the SUM of
the runs' seconds per step, each timed on that run's first step (trained alone, one step, so
its rows show at once) and then averaged; but at least MIN_TURN steps while the turn stays
within TURN_LIMIT, since every block pays a fixed cost (2 runs of 10 x 32 trained in 1-step
turns ran at 0.64x of the same two recorded one after the other; with 4-step turns, 0.91x).
Commands are read between turns, so a Pause lands within TURN_LIMIT; steps of
ABORT_STEP_SECONDS or more (a big net's) also read them after their forward and after their
backward pass, and a Pause undoes the step under way (Trainer.run_block's ``abort``), so it
lands within the longer half of a step. A speed limit
(SetSpeed) holds for each run: every run trains that many steps per second. Each run has its
own rows to flush, rate, decision-boundary grid and refresh time, step limit and state; a run
that finishes, hits NaN/Inf or raises stops and says so, and the others go on. When no run can
train the worker stops running and waits for commands (no busy loop).

The process is started once (in the background, while the window opens) and reused, so
pressing Start is instant. Every message carries the ``run_id`` it belongs to, so the GUI can
drop messages from a run it has removed or replaced. Events of one run arrive in the order they
happened: Building (twice), Configured, a first Boundary (2-D data), State "ready" (or "running"
when added while training runs), then Rows; a run's rows up to a step always come before the
State, NonFinite or Failed that reports that step. After a Remove (or a Configure that drops
the run) is handled, nothing more comes for that id.

This module is Qt-free and imports torch only inside the child process.
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import os
import queue
import signal
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from vgrad_gui.core import memory

FLUSH_SECONDS = 0.008  # send what was trained at least this often (latency to the screen)
# Aim for turns (a block of steps of every run) this long: the trainer gathers its results once
# per block (0.3-0.5 ms on the CPU, a sixth of a 10 x 32 step), so blocks of a few small
# steps, and the rows still reach the GUI in time.
BLOCK_SECONDS = 0.010
MIN_TURN = 4  # steps of one run per turn at least, while a turn stays within TURN_LIMIT
TURN_LIMIT = 0.050
MAX_TURN = 64  # steps of one run per turn at most (the trainer's own block limit)
BOUNDARY_SECONDS = 0.5  # refresh each run's decision boundary at most this often
PARENT_CHECK_SECONDS = 0.5
# Steps at least this long (or not yet timed: a new net's first step) read the commands after
# their forward and after their backward pass, and a Pause undoes the step under way: on a big
# net (200 x 1024: 2.4 s a step) Pause then lands within the longer half of a step.
ABORT_STEP_SECONDS = 0.05
GRID = 64  # decision-boundary grid points per side
MAX_POINTS = 1500  # data points sent to the GUI for the boundary view
BOUNDARY_FLOPS = 4e8  # above this a full grid costs tens of milliseconds: use fewer points
# Runs hosted at once (lockstep.MAX_RUNS; written here because lockstep imports torch).
MAX_RUNS = 4


def _check_budget(config: Any) -> list[str]:
    """Warnings about a config that will be slow; raises ConfigError for one that cannot fit
    in memory (vgrad_gui.core.budget, when present). The memory available is read now, so the
    runs already hosted here count against it."""
    try:
        from vgrad_gui.core.budget import check_budget
    except ImportError:
        return []
    return list(check_budget(config))


# -- commands (GUI -> worker) ------------------------------------------------------------------
@dataclass
class Configure:
    """Build ``config`` as run ``run_id``. ``solo`` (the default): every hosted run is dropped
    first and training stops. Otherwise ``run_id`` is added next to the hosted runs (at most
    MAX_RUNS), or, with ``replaces``, built in that run's place (which is dropped whether or
    not the new one builds; an id not hosted is ignored and ``run_id`` is added). A run added
    while training is running starts running at once, the runs ahead waiting for it."""

    run_id: int
    config: dict[str, Any]
    replaces: int | None = None
    solo: bool = True


@dataclass
class Remove:
    """Drop run ``run_id`` at once; the others go on. An id not hosted is ignored."""

    run_id: int


@dataclass
class Start:
    pass


@dataclass
class Pause:
    pass


@dataclass
class StepOnce:
    steps: int = 1


@dataclass
class SetSpeed:
    steps_per_second: float | None  # None: as fast as possible; else for each run


@dataclass
class SetMaxSteps:
    steps: int
    run_id: int | None = None  # None: every run


@dataclass
class SetBoundary:
    enabled: bool


@dataclass
class ChangeCourse:
    """Go on training run ``run_id`` with another learning rate and/or optimizer."""

    run_id: int
    lr: float | None = None
    optimizer: str | None = None


@dataclass
class Quit:
    pass


# -- events (worker -> GUI) ------------------------------------------------------------------
@dataclass
class Ready:
    torch_version: str
    devices: list[str]
    started_at: float


@dataclass
class Building:
    """Progress while a network is built (a large one takes many seconds)."""

    run_id: int
    stage: str  # what is being done, as the GUI shows it: "Building the network"
    fraction: float  # 0..1, roughly
    warnings: list[str] = field(default_factory=list)  # e.g. "each step will take ~3 s"


@dataclass
class Configured:
    run_id: int
    layer_names: list[str]
    inactive_kind: str
    device: str
    n_classes: int
    input_dim: int
    points: np.ndarray | None  # [n, 2] training inputs for 2-D data sets (a sample)
    labels: np.ndarray | None
    extent: tuple[float, float, float, float] | None  # x0, x1, y0, y1 of the boundary grid


@dataclass
class Rows:
    run_id: int
    # May be empty: step 1's statistics and evaluation follow its row (Trainer.defer_first),
    # and may come alone.
    steps: np.ndarray
    rows: np.ndarray
    probe_steps: np.ndarray
    probe_rows: np.ndarray
    eval_steps: np.ndarray
    eval_rows: np.ndarray
    oldest_done: float  # time.monotonic() when the oldest of these rows was trained
    newest_done: float
    steps_per_second: float  # this run's, over the last second


@dataclass
class Boundary:
    run_id: int
    step: int
    classes: np.ndarray  # uint8 [side, side], rows follow y (side GRID, less for a big net)
    confidence: np.ndarray  # float32 [side, side]


@dataclass
class State:
    run_id: int
    state: str  # "ready", "running", "paused", "finished"
    step: int
    reason: str = ""  # "nonfinite" or "error" (paused), "reached max steps" (finished)


@dataclass
class NonFinite:
    run_id: int
    step: int
    layers: list[int] = field(default_factory=list)


@dataclass
class Changed:
    """A course change took effect after ``step`` (the rows up to it were sent first)."""

    run_id: int
    step: int
    config: dict[str, Any]


@dataclass
class Failed:
    run_id: int
    message: str
    details: str
    kind: str  # "config" (bad settings, refused) or "error" (an exception building/training)


# -- the worker process ---------------------------------------------------------------------
def worker_main(commands: Any, events: Any, parent_pid: int) -> None:
    """Entry point of the worker process."""
    # Ctrl+C in a terminal reaches the whole process group; the GUI decides when we stop.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    memory.keep_freed_memory()  # before torch allocates anything
    try:
        _Worker(commands, events, parent_pid).serve()
    finally:
        # Do not block exit on a GUI that stopped reading; give the feeder thread a moment
        # to deliver the last events, then leave without the slow interpreter teardown that
        # torch makes (it can take most of a second).
        events.close()
        time.sleep(0.05)
        os._exit(0)


def _worker_trainer_class(fault_at: int | None) -> Any:
    """The Trainer the worker builds: it times its own steps (the turn size needs each run's
    seconds per step) and, for the tests of the error path, raises at step ``fault_at``."""
    from vgrad_gui.core.records import RecordBlock
    from vgrad_gui.core.trainer import Trainer

    class WorkerTrainer(Trainer):
        step_seconds: float | None = None  # unknown until its first step

        def run_block(self, k: int, abort: Callable[[], bool] | None = None) -> RecordBlock:
            if fault_at is not None and self.step_count + k >= fault_at:
                raise RuntimeError("injected fault (VGRAD_FAULT_AT_STEP)")
            started = time.monotonic()
            block = super().run_block(k, abort)
            if self.aborted:
                return block  # a step cut short says nothing about a step's time
            took = (time.monotonic() - started) / len(block)
            last = self.step_seconds
            self.step_seconds = took if last is None else 0.8 * last + 0.2 * took
            return block

    return WorkerTrainer


@dataclass
class _Run:
    """One hosted run: its trainer and what is still to be sent for it."""

    run_id: int
    trainer: Any
    grid_side: int = GRID
    grid: tuple[np.ndarray, np.ndarray] | None = None
    state: str = "ready"  # the last State sent
    pending: list[Any] = field(default_factory=list)
    pending_oldest: float = 0.0
    last_flush: float = 0.0
    rate_window: list[tuple[float, int]] = field(default_factory=list)
    next_boundary: float = 0.0
    boundary_step: int = -1  # step of the last boundary sent


class _Worker:
    def __init__(self, commands: Any, events: Any, parent_pid: int) -> None:
        import torch

        from vgrad_gui.core import lockstep
        from vgrad_gui.core import trainer as trainer_mod

        self.torch = torch
        self.tm = trainer_mod
        self.lsm = lockstep
        self.commands = commands
        self.events = events
        self.parent_pid = parent_pid
        # The window drawing these runs takes a core while they train quickly (lockstep).
        self.lockstep = lockstep.Lockstep(self._make_trainer, max_runs=MAX_RUNS, gui_cores=1)
        self.runs: dict[int, _Run] = {}
        self.running = False
        self.rate: float | None = None
        self.boundary_on = True
        self.next_parent_check = 0.0
        self.next_due = 0.0
        self.quit = False
        # Fault injection for the tests of the GUI's error path: raise at this step.
        fault = os.environ.get("VGRAD_FAULT_AT_STEP", "")
        self._trainer_class = _worker_trainer_class(int(fault) if fault.isdigit() else None)
        self._building_id = -1
        self._building_warnings: list[str] = []
        self._deferred: list[Any] = []  # commands read during a step, handled after it
        # str(): torch.__version__ is a torch class, and unpickling it would import torch
        # into the GUI process (a 3-second freeze).
        events.put(Ready(str(torch.__version__), trainer_mod.available_devices(),
                         time.monotonic()))

    # -- main loop ----------------------------------------------------------------------------
    def serve(self) -> None:
        while not self.quit:
            now = time.monotonic()
            if now >= self.next_parent_check:
                self.next_parent_check = now + PARENT_CHECK_SECONDS
                if os.getppid() != self.parent_pid:
                    return  # the GUI is gone: never linger as an orphan
            if not self.running:
                for run in list(self.runs.values()):
                    self._flush(run)
                    self._maybe_boundary(run, force=False)
                self._wait_for_command(0.25)
                continue
            self._drain_commands()
            if not self.running or self.quit:
                continue
            if self.rate is not None:
                wait = self.next_due - time.monotonic()
                if wait > 0:
                    for run in self.runs.values():
                        self._flush(run)
                    self._wait_for_command(wait)
                    continue
            self._turn()

    def _wait_for_command(self, timeout: float) -> None:
        if self._deferred:
            self._drain_commands()
            return
        try:
            cmd = self.commands.get(timeout=max(0.0, timeout))
        except queue.Empty:
            return
        self._handle(cmd)
        self._drain_commands()

    def _drain_commands(self) -> None:
        while self._deferred:
            self._handle(self._deferred.pop(0))
        while True:
            try:
                cmd = self.commands.get_nowait()
            except queue.Empty:
                return
            self._handle(cmd)

    # -- commands -------------------------------------------------------------------------
    def _handle(self, cmd: Any) -> None:
        if isinstance(cmd, Quit):
            self.quit = True
            self.running = False
        elif isinstance(cmd, Configure):
            self._configure(cmd)
        elif isinstance(cmd, Remove):
            self._remove(cmd.run_id)
        elif isinstance(cmd, SetSpeed):
            self.rate = cmd.steps_per_second
            self.next_due = time.monotonic()
            for run in self.runs.values():
                self._set_stats_cadence(run)
        elif isinstance(cmd, SetBoundary):
            self.boundary_on = cmd.enabled
            if cmd.enabled:
                for run in self.runs.values():
                    self._maybe_boundary(run, force=True)
        elif not self.runs:
            return
        elif isinstance(cmd, Start):
            self._start()
        elif isinstance(cmd, Pause):
            if self.running:
                self.running = False
                paused = [run for run in self.runs.values() if run.state == "running"]
                for run in paused:
                    self._flush(run)
                    self._state(run, "paused")
                # Then the boundary each paused at: at 200 x 1024 one costs over a second,
                # which the word "paused" must not wait for.
                for run in paused:
                    self._maybe_boundary(run, force=True)
        elif isinstance(cmd, StepOnce):
            self._step_once(max(1, cmd.steps))
        elif isinstance(cmd, SetMaxSteps):
            self._set_max_steps(cmd)
        elif isinstance(cmd, ChangeCourse):
            self._change_course(cmd)

    def _change_course(self, cmd: ChangeCourse) -> None:
        from vgrad_gui.core.spec import ConfigError

        run = self.runs.get(cmd.run_id)
        if run is None:
            return
        self._flush(run)  # the rows before the change reach the GUI before it
        try:
            config = run.trainer.change(lr=cmd.lr, optimizer=cmd.optimizer)
        except ConfigError as exc:
            self.events.put(Failed(cmd.run_id, str(exc), "", "config"))
            return
        self.events.put(Changed(cmd.run_id, int(run.trainer.step_count), config.to_dict()))

    def _start(self) -> None:
        for run in self.runs.values():
            if self.lockstep.status(run.run_id) == self.lsm.RUNNING:
                self._state(run, "running")
            else:
                self._settle(run)  # finished, NaN or failed: say so again
        if self.lockstep.active_ids():
            self.running = True
            self.next_due = time.monotonic()

    def _step_once(self, steps: int) -> None:
        self.running = False
        stopped: set[int] = set()
        trained: set[int] = set()
        for _ in range(steps):
            if self.lockstep.done:
                break
            blocks, ended = self._step(1)
            trained.update(blocks)
            stopped.update(ended)
        for run in self.runs.values():
            self._flush(run)
            if run.run_id in trained:
                self._maybe_boundary(run, force=True)
            if run.run_id not in stopped:  # those have said why they stopped
                self._settle(run)

    def _set_max_steps(self, cmd: SetMaxSteps) -> None:
        ids = list(self.runs) if cmd.run_id is None else [cmd.run_id]
        for run_id in ids:
            run = self.runs.get(run_id)
            if run is None:
                continue
            self.lockstep.set_max_steps(run_id, cmd.steps)
            status = self.lockstep.status(run_id)
            if status == self.lsm.FINISHED:
                self._flush(run)
                self._state(run, "finished", "reached max steps")
            elif not self.running:
                self._settle(run)
            elif status == self.lsm.RUNNING and run.state != "running":
                self._state(run, "running")  # a finished run given more steps goes on
        if self.running and not self.lockstep.active_ids():
            self.running = False

    def _remove(self, run_id: int) -> None:
        if run_id not in self.runs:
            return
        self.lockstep.remove(run_id)
        del self.runs[run_id]  # with its unsent rows: nothing more is sent for it
        memory.release_freed_memory()
        if not self.lockstep.active_ids():
            self.running = False

    def _configure(self, cmd: Configure) -> None:
        from vgrad_gui.core.spec import Config, ConfigError

        if cmd.solo:
            self.running = False
            self.lockstep.clear()
            self.runs.clear()
            memory.release_freed_memory()
        old = cmd.replaces if not cmd.solo and cmd.replaces in self.runs else None
        self._building_id = cmd.run_id
        self._building_warnings = []
        try:
            config = Config.from_dict(cmd.config)
            self._building_warnings = _check_budget(config)
            if old is None:
                trainer = self.lockstep.add(cmd.run_id, config)
            else:
                trainer = self.lockstep.replace(old, config, new_id=cmd.run_id)
        except (ConfigError, self.lsm.LockstepError) as exc:
            self._fail_configure(cmd.run_id, old, str(exc), "", "config")
            return
        except Exception as exc:  # building can fail on odd hardware; report, stay alive
            self._fail_configure(cmd.run_id, old, f"could not build the network: {exc}",
                                 traceback.format_exc(), "error")
            return
        if old is not None:
            del self.runs[old]
            memory.release_freed_memory()
        run = _Run(cmd.run_id, trainer)
        self._size_boundary_grid(run)
        self._set_stats_cadence(run)
        sample = self.lsm.data_sample(trainer, MAX_POINTS)
        points = labels = extent = None
        if sample is not None:
            points, labels, extent = sample.points, sample.labels, sample.extent
            x0, x1, y0, y1 = extent
            run.grid = (np.linspace(x0, x1, run.grid_side), np.linspace(y0, y1, run.grid_side))
        data = trainer.data
        self.events.put(Configured(cmd.run_id, trainer.layer_names, trainer.probe.inactive_kind,
                                   str(trainer.device), data.n_classes, data.input_dim,
                                   points, labels, extent))
        self.runs[cmd.run_id] = run
        self._maybe_boundary(run, force=True)
        if self.running and self.lockstep.status(cmd.run_id) == self.lsm.RUNNING:
            self._state(run, "running")
        else:
            self._settle(run)

    def _fail_configure(self, run_id: int, old: int | None, message: str, details: str,
                        kind: str) -> None:
        if old is not None:  # a replaced run goes, whether or not the new one builds
            self._remove(old)
        self.events.put(Failed(run_id, message, details, kind))

    def _make_trainer(self, config: Any) -> Any:
        """The Lockstep's factory: data, then the network, with progress for the GUI."""
        from vgrad_gui.core.datasets import make_dataset

        self._building("Preparing the data", 0.05)
        data = make_dataset(config.dataset, config.samples, config.noise, config.seed)
        self._building("Building the network", 0.3)
        trainer = self._trainer_class(config, data=data)
        trainer.defer_first = True  # step 1's row first, its statistics right after
        if trainer.probe.separate:  # a wide net: autograd allocates its gradients each step
            self._building("Preparing memory", 0.9)
            memory.prefault_like(trainer.model.parameters())
        return trainer

    def _building(self, stage: str, fraction: float) -> None:
        self.events.put(Building(self._building_id, stage, fraction,
                                 list(self._building_warnings)))

    def _size_boundary_grid(self, run: _Run) -> None:
        """A grid whose forward pass is cheap next to a training step: 64 x 64 points for
        the usual nets, fewer for a net so large that one point costs milliseconds."""
        trainer = run.trainer
        params = sum(p.numel() for p in trainer.model.parameters())
        side = GRID
        if 2 * params * GRID * GRID > BOUNDARY_FLOPS:
            side = int(max(8, min(GRID, (trainer.batch_size * 2) ** 0.5)))
        run.grid_side = side

    def _set_stats_cadence(self, run: _Run) -> None:
        # At full speed the heavier statistics every 100 steps; when slowed down, often
        # enough that they still refresh several times a second.
        every = self.tm.STATS_EVERY if self.rate is None else int(self.rate // 8)
        run.trainer.probe.stats_every = max(1, min(self.tm.STATS_EVERY, every))

    # -- training -------------------------------------------------------------------------
    def _turn(self) -> None:
        """One turn: a block of k steps of every run that can train, then what is due."""
        active = self.lockstep.active_ids()
        if not active:
            self.running = False
            return
        k = self._turn_size(active)
        if self.rate is not None:
            k = max(1, min(k, int(self.rate * BLOCK_SECONDS)))
            self.next_due = max(self.next_due, time.monotonic() - 0.25) + k / self.rate
        self._step(k)
        now = time.monotonic()
        pausing = self._pausing()  # "paused" first: a boundary can take a second
        for run in self.runs.values():
            if now - run.last_flush >= FLUSH_SECONDS:
                self._flush(run)
            if not pausing:
                self._maybe_boundary(run, force=False)
        if self.lockstep.done:
            self.running = False

    def _turn_size(self, active: list[int]) -> int:
        times = [self.runs[i].trainer.step_seconds for i in active]
        if any(t is None for t in times):
            return 1  # a new net's first step alone: its rows show at once, and it is timed
        # One step per turn when steps are slow: commands (Pause) are read between turns, so
        # Pause takes effect within TURN_LIMIT, or (steps of ABORT_STEP_SECONDS or more, which
        # also read them mid-step) within the longer half of a step.
        total = max(sum(t for t in times if t is not None), 1e-6)
        k = int(BLOCK_SECONDS / total)
        if k < MIN_TURN:
            # Every block pays a fixed cost (gathering its rows: ~0.5 ms on a small net, a
            # sixth of its step): a few steps per block while the turn stays short.
            k = max(k, min(MIN_TURN, int(TURN_LIMIT / total)))
        return max(1, min(MAX_TURN, k))

    def _pause_asked(self) -> bool:
        """A slow step's question between its passes (Trainer.run_block's ``abort``): the
        commands that came meanwhile are read; Pause or Quit among them ends the step there.
        The others wait, in order, for the end of the turn."""
        while True:
            try:
                self._deferred.append(self.commands.get_nowait())
            except queue.Empty:
                break
        return self._pausing()

    def _pausing(self) -> bool:
        return any(isinstance(cmd, (Pause, Quit)) for cmd in self._deferred)

    def _step(self, k: int) -> tuple[dict[int, Any], list[int]]:
        """k steps of every run that can train (aligned); reports the runs that stopped.
        Returns the blocks by run id and the ids of the runs that stopped."""
        before = self.lockstep.active_ids()
        times = [self.runs[i].trainer.step_seconds for i in before]
        slow = any(t is None or t >= ABORT_STEP_SECONDS for t in times)
        blocks = self.lockstep.step_all(k, align=True,
                                        abort=self._pause_asked if slow else None)
        done = time.monotonic()
        for run_id, block in blocks.items():
            run = self.runs[run_id]
            if not run.pending:
                run.pending_oldest = done
            run.pending.append(block)
            run.rate_window.append((done, int(block.steps[-1])))
            if run.trainer.first_held:
                # Step 1's row goes out now; its statistics and evaluation follow.
                self._flush(run)
                rest = self.lockstep.finish_first(run_id)
                if rest is not None:
                    run.pending_oldest = done
                    run.pending.append(rest)
        stopped = [i for i in before if self.lockstep.status(i) != self.lsm.RUNNING]
        for run_id in stopped:
            self._report_stop(self.runs[run_id], blocks.get(run_id))
        return blocks, stopped

    def _report_stop(self, run: _Run, block: Any) -> None:
        self._flush(run)
        status = self.lockstep.status(run.run_id)
        if status == self.lsm.NONFINITE:
            bad = int(run.trainer.nonfinite_step)
            layers: list[int] = []
            if block is not None and bad in block.steps:
                row = block.rows[int(np.flatnonzero(block.steps == bad)[0])]
                layers = [i for i in range(run.trainer.n_layers) if not np.isfinite(row[i])]
            self.events.put(NonFinite(run.run_id, bad, layers))
            self._maybe_boundary(run, force=True)
            self._state(run, "paused", "nonfinite")
        elif status == self.lsm.FAILED:
            failure = self.lockstep.failure(run.run_id)
            assert failure is not None
            self.events.put(Failed(run.run_id, failure.message, failure.details, "error"))
            self._state(run, "paused", "error")
        else:
            self._maybe_boundary(run, force=True)
            self._state(run, "finished", "reached max steps")

    def _flush(self, run: _Run) -> None:
        if not run.pending:
            return
        blocks, run.pending = run.pending, []
        now = time.monotonic()
        run.last_flush = now
        window = [(t, s) for t, s in run.rate_window if now - t <= 1.0]
        run.rate_window = window
        rate = 0.0
        if len(window) >= 2 and window[-1][0] > window[0][0]:
            rate = (window[-1][1] - window[0][1]) / (window[-1][0] - window[0][0])
        self.events.put(Rows(
            run.run_id,
            np.concatenate([b.steps for b in blocks]),
            np.concatenate([b.rows for b in blocks]).astype(np.float32),
            np.concatenate([b.probe_steps for b in blocks]),
            np.concatenate([b.probe_rows for b in blocks]).astype(np.float32),
            np.concatenate([b.eval_steps for b in blocks]),
            np.concatenate([b.eval_rows for b in blocks]).astype(np.float32),
            run.pending_oldest, now, rate,
        ))

    def _maybe_boundary(self, run: _Run, force: bool) -> None:
        if run.grid is None or not self.boundary_on:
            return
        now = time.monotonic()
        step = run.trainer.step_count
        if not force and (now < run.next_boundary or step == run.boundary_step):
            return  # not due, or nothing trained since the last one
        try:
            classes, conf = run.trainer.predict_grid(*run.grid)
        except Exception:
            return
        # At most a twentieth of the time on boundaries, however large and many the nets (at
        # 200 x 1024 one costs over a second: a fresh one every ~30 s).
        took = time.monotonic() - now
        run.next_boundary = now + max(BOUNDARY_SECONDS, 20 * took * len(self.runs))
        if not np.isfinite(conf).all():
            return  # NaN weights predict nothing: keep the last boundary drawn
        run.boundary_step = step
        self.events.put(Boundary(run.run_id, step, classes.astype(np.uint8),
                                 conf.astype(np.float32)))

    def _settle(self, run: _Run) -> None:
        """Send the state of a run that is not training."""
        status = self.lockstep.status(run.run_id)
        if status == self.lsm.FINISHED:
            self._state(run, "finished", "reached max steps")
        elif status == self.lsm.NONFINITE:
            self._state(run, "paused", "nonfinite")
        elif status == self.lsm.FAILED:
            self._state(run, "paused", "error")
        else:
            self._state(run, "paused" if run.trainer.step_count else "ready")

    def _state(self, run: _Run, state: str, reason: str = "") -> None:
        run.state = state
        self.events.put(State(run.run_id, state, run.trainer.step_count, reason))


# -- the GUI's handle on the worker ----------------------------------------------------------
class WorkerClient:
    """Starts the worker process and talks to it. Never blocks the caller for long."""

    def __init__(self) -> None:
        self._ctx = mp.get_context("spawn")
        self.process: Any = None
        # The queues exist before the process, so commands sent while it starts are kept.
        self._commands: Any = self._ctx.Queue()
        self._events: Any = self._ctx.Queue()
        self.started_at = 0.0

    def start(self) -> None:
        if self.process is not None or self._commands is None:
            return
        self.process = self._ctx.Process(
            target=worker_main, args=(self._commands, self._events, os.getpid()),
            name="vgrad-trainer", daemon=True)
        self.started_at = time.monotonic()
        self.process.start()

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.is_alive()

    def events_fd(self) -> int | None:
        """A file descriptor that becomes readable when events wait, for the GUI's event
        loop to watch (None where a pipe cannot be watched so: Windows)."""
        if self._events is None or sys.platform == "win32":
            return None
        return int(self._events._reader.fileno())

    def send(self, command: Any) -> None:
        if self._commands is not None:
            self._commands.put(command)

    def poll(self, limit: int = 10_000) -> list[Any]:
        """Every event that has arrived, without waiting."""
        out: list[Any] = []
        if self._events is None:
            return out
        while len(out) < limit:
            try:
                out.append(self._events.get_nowait())
            except queue.Empty:
                break
            except (EOFError, OSError):
                break
        return out

    def shutdown(self, timeout: float = 1.0) -> None:
        """Ask the worker to quit; terminate it if it has not within ``timeout`` seconds."""
        if self.process is not None:
            with contextlib.suppress(OSError, ValueError):
                self.send(Quit())
            self.process.join(timeout)
            if self.process.is_alive():
                self.process.terminate()
                self.process.join(0.5)
            if self.process.is_alive():
                self.process.kill()
                self.process.join(0.5)
        for q in (self._commands, self._events):
            if q is not None:
                q.cancel_join_thread()
                q.close()
        self.process = None
        self._commands = self._events = None
