"""The training worker: a separate process that owns the Trainer and streams what it records.

Why a process: for small networks most of a training step is Python holding the GIL. Measured
here, a training loop in a thread of the GUI process ran at a third of its plain speed while a
30 fps view was drawing; in a separate process it kept ~90%. So the GUI process never imports
torch: it sends commands and receives batches of rows, and draws from its own history.

The process is started once (in the background, while the window opens) and reused for every
run, so pressing Start is instant. Every message carries the ``run_id`` of the configuration it
belongs to, so the GUI can drop messages from a run it has already replaced.

This module is Qt-free and imports torch only inside the child process.
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import os
import queue
import signal
import time
import traceback
from dataclasses import dataclass, field
from typing import Any

import numpy as np

FLUSH_SECONDS = 0.008  # send what was trained at least this often (latency to the screen)
# Aim for blocks of steps this long: the probe gathers its results once per block (~0.2 ms on
# the CPU), so blocks of ~4 small steps cost ~2%, and the rows still reach the GUI in time.
BLOCK_SECONDS = 0.010
BOUNDARY_SECONDS = 0.5  # refresh the decision boundary at most this often
PARENT_CHECK_SECONDS = 0.5
GRID = 64  # decision-boundary grid points per side
MAX_POINTS = 1500  # data points sent to the GUI for the boundary view
BOUNDARY_FLOPS = 4e8  # above this a full grid costs tens of milliseconds: use fewer points


def _check_budget(config: Any) -> list[str]:
    """Warnings about a config that will be slow; raises ConfigError for one that cannot fit
    in memory (vgrad_gui.core.budget, when present)."""
    try:
        from vgrad_gui.core.budget import check_budget
    except ImportError:
        return []
    return list(check_budget(config))


# -- commands (GUI -> worker) ------------------------------------------------------------------
@dataclass
class Configure:
    run_id: int
    config: dict[str, Any]


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
    steps_per_second: float | None  # None: as fast as possible


@dataclass
class SetMaxSteps:
    steps: int


@dataclass
class SetBoundary:
    enabled: bool


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
    steps: np.ndarray
    rows: np.ndarray
    probe_steps: np.ndarray
    probe_rows: np.ndarray
    eval_steps: np.ndarray
    eval_rows: np.ndarray
    oldest_done: float  # time.monotonic() when the oldest of these rows was trained
    newest_done: float
    steps_per_second: float


@dataclass
class Boundary:
    run_id: int
    step: int
    classes: np.ndarray  # uint8 [GRID, GRID], rows follow y
    confidence: np.ndarray  # float32 [GRID, GRID]


@dataclass
class State:
    run_id: int
    state: str  # "paused", "running", "finished"
    step: int
    reason: str = ""


@dataclass
class NonFinite:
    run_id: int
    step: int
    layers: list[int] = field(default_factory=list)


@dataclass
class Failed:
    run_id: int
    message: str
    details: str
    kind: str  # "config" (bad settings) or "error" (an exception while training)


# -- the worker process ---------------------------------------------------------------------
def worker_main(commands: Any, events: Any, parent_pid: int) -> None:
    """Entry point of the worker process."""
    # Ctrl+C in a terminal reaches the whole process group; the GUI decides when we stop.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        _Worker(commands, events, parent_pid).serve()
    finally:
        # Do not block exit on a GUI that stopped reading; give the feeder thread a moment
        # to deliver the last events, then leave without the slow interpreter teardown that
        # torch makes (it can take most of a second).
        events.close()
        time.sleep(0.05)
        os._exit(0)


class _Worker:
    def __init__(self, commands: Any, events: Any, parent_pid: int) -> None:
        import torch

        from vgrad_gui.core import trainer as trainer_mod

        self.torch = torch
        self.tm = trainer_mod
        self.commands = commands
        self.events = events
        self.parent_pid = parent_pid
        self.trainer: Any = None
        self.run_id = -1
        self.running = False
        self.max_steps = 0
        self.rate: float | None = None
        self.boundary_on = True
        self.grid: tuple[np.ndarray, np.ndarray] | None = None
        self.pending: list[Any] = []
        self.pending_oldest = 0.0
        self.last_flush = 0.0
        self.next_boundary = 0.0
        self.next_parent_check = 0.0
        self.step_seconds: float | None = None  # seconds per step of this net, once known
        self.grid_side = GRID
        self.rate_window: list[tuple[float, int]] = []
        self.next_due = 0.0
        self.quit = False
        # Fault injection for the tests of the GUI's error path: raise at this step.
        fault = os.environ.get("VGRAD_FAULT_AT_STEP", "")
        self.fault_at = int(fault) if fault.isdigit() else None
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
                self._flush()
                self._maybe_boundary(force=False)
                self._wait_for_command(0.25)
                continue
            self._drain_commands()
            if not self.running or self.quit:
                continue
            if self.rate is not None:
                wait = self.next_due - time.monotonic()
                if wait > 0:
                    self._flush()
                    self._wait_for_command(wait)
                    continue
            self._train_block()

    def _wait_for_command(self, timeout: float) -> None:
        try:
            cmd = self.commands.get(timeout=max(0.0, timeout))
        except queue.Empty:
            return
        self._handle(cmd)
        self._drain_commands()

    def _drain_commands(self) -> None:
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
        elif self.trainer is None:
            return
        elif isinstance(cmd, Start):
            if self.trainer.step_count >= self.max_steps:
                self._state("finished", "reached max steps")
                return
            self.running = True
            self.next_due = time.monotonic()
            self._state("running")
        elif isinstance(cmd, Pause):
            if self.running:
                self.running = False
                self._flush()
                self._state("paused")
        elif isinstance(cmd, StepOnce):
            self.running = False
            for _ in range(max(1, cmd.steps)):
                if self.trainer.step_count >= self.max_steps:
                    break
                if not self._train(1):
                    break
            self._flush()
            self._maybe_boundary(force=True)
            self._state("finished" if self.trainer.step_count >= self.max_steps else "paused")
        elif isinstance(cmd, SetSpeed):
            self.rate = cmd.steps_per_second
            self.next_due = time.monotonic()
            self._set_stats_cadence()
        elif isinstance(cmd, SetMaxSteps):
            self.max_steps = cmd.steps
            if self.trainer.step_count >= self.max_steps:
                if self.running:
                    self.running = False
                    self._flush()
                self._state("finished", "reached max steps")
            elif not self.running:
                self._state("paused" if self.trainer.step_count else "ready")
        elif isinstance(cmd, SetBoundary):
            self.boundary_on = cmd.enabled
            if cmd.enabled:
                self._maybe_boundary(force=True)

    def _configure(self, cmd: Configure) -> None:
        from vgrad_gui.core.datasets import make_dataset
        from vgrad_gui.core.spec import Config, ConfigError

        self.running = False
        self.pending = []
        self.trainer = None
        self.run_id = cmd.run_id
        self.step_seconds = None  # unknown until this net's first step: train one alone
        try:
            config = Config.from_dict(cmd.config)
            warnings = _check_budget(config)
            self._building("Preparing the data", 0.05, warnings)
            data = make_dataset(config.dataset, config.samples, config.noise, config.seed)
            self._building("Building the network", 0.3, warnings)
            self.torch.set_num_threads(self.tm.threads_for(config))
            trainer = self.tm.Trainer(config, data=data)
        except ConfigError as exc:
            self.events.put(Failed(cmd.run_id, str(exc), "", "config"))
            return
        except Exception as exc:  # building can fail on odd hardware; report, stay alive
            self.events.put(Failed(cmd.run_id, f"could not build the network: {exc}",
                                   traceback.format_exc(), "error"))
            return
        self.trainer = trainer
        self.max_steps = config.steps
        self._size_boundary_grid(trainer)
        self._set_stats_cadence()
        data = trainer.data
        points = labels = extent = None
        self.grid = None
        if data.input_dim == 2:
            x = data.x_train[:MAX_POINTS]
            points, labels = x, data.y_train[:MAX_POINTS]
            both = np.concatenate([data.x_train, data.x_test])
            lo, hi = both.min(0) - 0.5, both.max(0) + 0.5
            extent = (float(lo[0]), float(hi[0]), float(lo[1]), float(hi[1]))
            side = self.grid_side
            self.grid = (np.linspace(lo[0], hi[0], side), np.linspace(lo[1], hi[1], side))
        self.events.put(Configured(cmd.run_id, trainer.layer_names, trainer.probe.inactive_kind,
                                   str(trainer.device), data.n_classes, data.input_dim,
                                   points, labels, extent))
        self.next_boundary = 0.0
        self._maybe_boundary(force=True)

    def _building(self, stage: str, fraction: float, warnings: list[str]) -> None:
        self.events.put(Building(self.run_id, stage, fraction, list(warnings)))

    def _size_boundary_grid(self, trainer: Any) -> None:
        """A grid whose forward pass is cheap next to a training step: 64 x 64 points for
        the usual nets, fewer for a net so large that one point costs milliseconds."""
        params = sum(p.numel() for p in trainer.model.parameters())
        side = GRID
        if 2 * params * GRID * GRID > BOUNDARY_FLOPS:
            side = int(max(8, min(GRID, (trainer.batch_size * 2) ** 0.5)))
        self.grid_side = side

    def _set_stats_cadence(self) -> None:
        if self.trainer is None:
            return
        # At full speed the heavier statistics every 100 steps; when slowed down, often
        # enough that they still refresh several times a second.
        every = self.tm.STATS_EVERY if self.rate is None else int(self.rate // 8)
        self.trainer.probe.stats_every = max(1, min(self.tm.STATS_EVERY, every))

    # -- training -------------------------------------------------------------------------
    def _train_block(self) -> None:
        remaining = self.max_steps - self.trainer.step_count
        if remaining <= 0:
            self.running = False
            self._flush()
            self._state("finished", "reached max steps")
            return
        if self.step_seconds is None:
            k = 1  # the first step of a net alone: its rows show at once, and it times a step
        else:
            # One step per block when steps are slow: commands (Pause) are read between
            # blocks, so Pause takes effect within BLOCK_SECONDS or one step.
            k = max(1, int(BLOCK_SECONDS / max(self.step_seconds, 1e-6)))
        if self.rate is not None:
            k = max(1, min(k, int(self.rate * BLOCK_SECONDS)))
            self.next_due = max(self.next_due, time.monotonic() - 0.25) + k / self.rate
        k = max(1, min(k, remaining, 64))
        if not self._train(k):
            return
        now = time.monotonic()
        if now - self.last_flush >= FLUSH_SECONDS:
            self._flush()
        self._maybe_boundary(force=False)
        if self.trainer.step_count >= self.max_steps:
            self.running = False
            self._flush()
            self._maybe_boundary(force=True)
            self._state("finished", "reached max steps")

    def _train(self, k: int) -> bool:
        """Train k steps; on NaN/Inf pause; on an exception report it. True if all went on."""
        started = time.monotonic()
        try:
            if self.fault_at is not None and self.trainer.step_count + k >= self.fault_at:
                raise RuntimeError("injected fault (VGRAD_FAULT_AT_STEP)")
            block = self.trainer.run_block(k)
        except Exception as exc:
            self.running = False
            self._flush()
            self.events.put(Failed(self.run_id, f"training failed at step "
                                   f"{self.trainer.step_count + 1}: {exc}",
                                   traceback.format_exc(), "error"))
            self._state("paused", "error")
            return False
        done = time.monotonic()
        took = (done - started) / len(block)
        self.step_seconds = took if self.step_seconds is None else \
            0.8 * self.step_seconds + 0.2 * took
        if not self.pending:
            self.pending_oldest = done
        self.pending.append(block)
        self.rate_window.append((done, int(block.steps[-1])))
        bad = block.first_nonfinite(self.trainer.n_layers)
        if bad is not None:
            self.running = False
            self._flush()
            row = block.rows[int(np.flatnonzero(block.steps == bad)[0])]
            n = self.trainer.n_layers
            layers = [i for i in range(n) if not np.isfinite(row[i])]
            self.events.put(NonFinite(self.run_id, bad, layers))
            self._maybe_boundary(force=True)
            self._state("paused", "nonfinite")
            return False
        return True

    def _flush(self) -> None:
        if not self.pending:
            return
        blocks, self.pending = self.pending, []
        now = time.monotonic()
        self.last_flush = now
        window = [(t, s) for t, s in self.rate_window if now - t <= 1.0]
        self.rate_window = window
        rate = 0.0
        if len(window) >= 2 and window[-1][0] > window[0][0]:
            rate = (window[-1][1] - window[0][1]) / (window[-1][0] - window[0][0])
        self.events.put(Rows(
            self.run_id,
            np.concatenate([b.steps for b in blocks]),
            np.concatenate([b.rows for b in blocks]).astype(np.float32),
            np.concatenate([b.probe_steps for b in blocks]),
            np.concatenate([b.probe_rows for b in blocks]).astype(np.float32),
            np.concatenate([b.eval_steps for b in blocks]),
            np.concatenate([b.eval_rows for b in blocks]).astype(np.float32),
            self.pending_oldest, now, rate,
        ))

    def _maybe_boundary(self, force: bool) -> None:
        if self.trainer is None or self.grid is None or not self.boundary_on:
            return
        now = time.monotonic()
        if not force and now < self.next_boundary:
            return
        try:
            classes, conf = self.trainer.predict_grid(*self.grid)
        except Exception:
            return
        # At most a tenth of the time on the boundary, however large the net.
        took = time.monotonic() - now
        self.next_boundary = now + max(BOUNDARY_SECONDS, 10 * took)
        if not np.isfinite(conf).all():
            return  # NaN weights predict nothing: keep the last boundary drawn
        self.events.put(Boundary(self.run_id, self.trainer.step_count,
                                 classes.astype(np.uint8), conf.astype(np.float32)))

    def _state(self, state: str, reason: str = "") -> None:
        step = self.trainer.step_count if self.trainer is not None else 0
        self.events.put(State(self.run_id, state, step, reason))


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
