"""TrainingSession: where the GUI meets training, and the only place they meet.

The trainer lives in a worker process (see vgrad_gui.core.worker for why). Once per display
frame a timer drains whatever the worker sent, without waiting, appends it to this session's
RunHistory and emits ``frame`` once; the views draw from the history, never from the trainer.
Several sessions can exist at once (each with its own worker), which compare mode will use.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QObject, Qt, QTimer, Signal

from vgrad_gui.core import worker as w
from vgrad_gui.core.history import RunHistory
from vgrad_gui.core.spec import Config

FRAME_MS = 16


@dataclass
class RunInfo:
    """What the views need to know about the run they show."""

    config: Config
    history: RunHistory
    inactive_kind: str = ""
    device: str = ""
    n_classes: int = 2
    input_dim: int = 2
    points: np.ndarray | None = None
    labels: np.ndarray | None = None
    extent: tuple[float, float, float, float] | None = None
    source: str = "live"  # "live", or the path of a run file being viewed
    saved_to: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    ended: bool = False  # recorded here, but its trainer is gone (the process died)

    @property
    def recorded_here(self) -> bool:
        """Trained in this window (not opened from a file): it may need keeping."""
        return self.source == "live"

    @property
    def live(self) -> bool:
        """Its trainer can go on."""
        return self.source == "live" and not self.ended


class TrainingSession(QObject):
    ready = Signal(object)  # worker.Ready
    runChanged = Signal(object)  # RunInfo: a new run was configured or a file opened
    frame = Signal(int)  # a display frame (60 Hz), with its index; see View
    stateChanged = Signal(str)
    boundaryChanged = Signal(object)  # worker.Boundary
    failed = Signal(str, str, str)  # message, details, kind ("config" or "error")
    nonfinite = Signal(int, list)  # step, layer indices
    workerDied = Signal(object)  # exit code (None if unknown); the run shown is kept
    building = Signal(str, float, list)  # stage, fraction done, warnings (a slow net)

    def __init__(self, parent: QObject | None = None, frame_ms: int = FRAME_MS) -> None:
        super().__init__(parent)
        self.worker = w.WorkerClient()
        self.worker_info: w.Ready | None = None
        self.info: RunInfo | None = None
        self.config: Config | None = None
        self.run_id = 0
        self.state = "starting"
        self.version = 0  # bumps whenever what the views show changed
        self.ticks = 0
        self.rate = 0.0
        self._warnings: list[str] = []  # the budget's warnings for the run being built
        self._timer = QTimer(self)
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.setInterval(frame_ms)
        self._timer.timeout.connect(self._tick)
        self._last_alive_check = 0.0
        self._closing = False
        # Step-to-pixel latency: when rows arrive, the time their oldest step was trained;
        # the first paint of a view after that records the delay.
        self._unpainted_since: float | None = None
        self.latencies: deque[float] = deque(maxlen=2000)
        self.tick_costs: deque[float] = deque(maxlen=2000)  # seconds: drain + views' refresh

    # -- worker lifecycle -------------------------------------------------------------------
    def start_worker(self) -> None:
        """Start the training process (in the background: returns at once)."""
        if not self.worker.alive:
            self.worker.start()
        self._timer.start()

    def shutdown(self, timeout: float = 1.0) -> None:
        self._closing = True
        self._timer.stop()
        self.worker.shutdown(timeout)

    # -- commands -------------------------------------------------------------------------
    def configure(self, config: Config) -> None:
        """Build the network ``config`` describes (stopping any run in progress)."""
        if (self.config is not None and self.info is not None and self.info.live
                and config.replace(steps=self.config.steps) == self.config):
            # Only the step limit changed: keep the run, move its end.
            self.config = config
            self.info.config = config
            self.info.history.config = config
            self.worker.send(w.SetMaxSteps(config.steps))
            return
        self._build(config)

    def _build(self, config: Config) -> None:
        self.config = config
        self.run_id += 1
        self.info = None
        self._warnings = []
        self._set_state("building" if self.worker_info else "starting")
        self.worker.send(w.Configure(self.run_id, config.to_dict()))

    def _needs_fresh_run(self) -> bool:
        """The run shown cannot go on: finished, opened from a file, or its trainer died."""
        return self.config is not None and (self.state in ("finished", "stopped") or (
            self.info is not None and not self.info.live))

    def start(self) -> None:
        if self._needs_fresh_run():
            assert self.config is not None
            self._build(self.config)  # run again, or train a viewed config afresh
        self.worker.send(w.Start())

    def pause(self) -> None:
        self.worker.send(w.Pause())

    def toggle(self) -> None:
        if self.state == "running":
            self.pause()
        else:
            self.start()

    def step(self, n: int = 1) -> None:
        if self._needs_fresh_run() and self.state != "finished":
            assert self.config is not None
            self._build(self.config)
        self.worker.send(w.StepOnce(n))

    def reset(self) -> None:
        """Fresh weights for the same config (the seed makes them the same fresh weights)."""
        if self.config is not None:
            self._build(self.config)

    def set_speed(self, steps_per_second: float | None) -> None:
        self.worker.send(w.SetSpeed(steps_per_second))

    def set_boundary(self, enabled: bool) -> None:
        self.worker.send(w.SetBoundary(enabled))

    def view_history(self, history: RunHistory, path: str) -> None:
        """Show a saved run. Training stops; Start trains its config afresh."""
        self.pause()
        self.run_id += 1  # anything still arriving from the old run is dropped
        self.config = history.config
        self.info = RunInfo(history.config, history, history.inactive_kind, source=path,
                            saved_to=path)
        self._set_state("viewing")
        self.version += 1
        self.runChanged.emit(self.info)

    # -- the frame loop ---------------------------------------------------------------------
    def _tick(self) -> None:
        started = time.perf_counter()
        events = self.worker.poll()
        changed = False
        for ev in events:
            changed |= self._handle(ev)
        if changed:
            self.version += 1
        self.ticks += 1
        self.frame.emit(self.ticks)
        self.tick_costs.append(time.perf_counter() - started)
        now = time.monotonic()
        if now - self._last_alive_check > 1.0 and not self._closing:
            self._last_alive_check = now
            if self.worker.process is not None and not self.worker.alive:
                self._worker_died()

    def _handle(self, ev: Any) -> bool:
        if isinstance(ev, w.Ready):
            self.worker_info = ev
            if self.state == "starting":
                self._set_state("building" if self.config is not None else "idle")
            self.ready.emit(ev)
            return False
        if getattr(ev, "run_id", None) != self.run_id:
            return False  # from a run that has been replaced
        if isinstance(ev, w.Rows):
            info = self.info
            if info is None:
                return False
            h = info.history
            h.extend("steps", ev.steps, ev.rows)
            if len(ev.probe_steps):
                h.extend("probes", ev.probe_steps, ev.probe_rows)
            if len(ev.eval_steps):
                h.extend("evals", ev.eval_steps, ev.eval_rows)
            self.rate = ev.steps_per_second
            if self._unpainted_since is None:
                self._unpainted_since = ev.oldest_done
            return True
        if isinstance(ev, w.Building):
            self._warnings = list(ev.warnings)
            self.building.emit(ev.stage, ev.fraction, self._warnings)
            return False
        if isinstance(ev, w.Configured):
            assert self.config is not None
            history = RunHistory(self.config, ev.layer_names, ev.inactive_kind)
            self.info = RunInfo(self.config, history, ev.inactive_kind, ev.device, ev.n_classes,
                                ev.input_dim, ev.points, ev.labels, ev.extent,
                                extra={"warnings": self._warnings})
            self.rate = 0.0
            self._set_state("ready")
            self.runChanged.emit(self.info)
            return True
        if isinstance(ev, w.State):
            self._set_state(ev.state)
            return True
        if isinstance(ev, w.Boundary):
            self.boundaryChanged.emit(ev)
            return False
        if isinstance(ev, w.NonFinite):
            self.nonfinite.emit(ev.step, ev.layers)
            return True
        if isinstance(ev, w.Failed):
            if ev.kind == "config":
                self._set_state("invalid")
            self.failed.emit(ev.message, ev.details, ev.kind)
            return True
        return False

    def _worker_died(self) -> None:
        """The training process is gone (killed, out of memory). Start a fresh one, but keep
        the run on screen and train nothing until the user asks: a net that kills the
        process as it builds would otherwise kill it again and again."""
        code = self.worker.process.exitcode if self.worker.process is not None else None
        self.worker.shutdown(0.1)
        self.worker = w.WorkerClient()
        self.worker_info = None
        self.worker.start()
        self.run_id += 1  # nothing more comes from the dead run
        if self.info is not None:
            self.info.ended = True
        self._set_state("stopped")
        self.workerDied.emit(code)

    def _set_state(self, state: str) -> None:
        if state != self.state:
            self.state = state
            self.version += 1
            self.stateChanged.emit(state)

    # -- measurement ------------------------------------------------------------------------
    def painted(self) -> None:
        """Called by a view after it painted: closes a step-to-pixel latency sample."""
        since = self._unpainted_since
        if since is not None:
            self.latencies.append(time.monotonic() - since)
            self._unpainted_since = None

    def mark_saved(self, path: str | Path) -> None:
        if self.info is not None:
            self.info.saved_to = str(path)
