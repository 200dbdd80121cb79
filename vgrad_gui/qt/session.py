"""TrainingSession: where the GUI meets training, and the only place they meet.

The trainers live in one worker process (see vgrad_gui.core.worker for why), which steps one
to four of them in lockstep. On every frame of the app's clock the session drains whatever
the worker sent, without waiting, and puts it into the runs of its Workspace; the views draw
from the workspace (runs and a cursor), never from the session or the trainers.

A *lane* is one place in a comparison (A, B, C, D): the configuration the user asked for, the
id of the run last requested for it, and the run on screen. A changed setting or a reset gives
the lane a new run id at once; the run on screen is replaced only when the worker says the new
one is built, and anything still arriving for an id no lane asked for last is dropped.
"""

from __future__ import annotations

import contextlib
import itertools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QSocketNotifier, Signal

from vgrad_gui.core import worker as w
from vgrad_gui.core.diagnose import diagnose
from vgrad_gui.core.history import RunHistory
from vgrad_gui.core.records import RecordBlock
from vgrad_gui.core.run import DataSample, Run
from vgrad_gui.core.spec import Config
from vgrad_gui.core.workspace import MAX_RUNS, Workspace, WorkspaceError
from vgrad_gui.qt.clock import FrameClock

ALIVE_CHECK_FRAMES = 60  # look at the worker process about once a second
DIAGNOSIS_FRAMES = 30  # note a change of a live run's diagnosis (for the timeline) at 2 Hz

# The session's state is the most pressing of its lanes' states, in this order.
STATE_ORDER = ("invalid", "starting", "building", "running", "stopped", "paused", "ready",
               "finished", "viewing", "idle")


@dataclass
class Lane:
    config: Config | None
    run_id: int
    shown: Run | None = None
    state: str = "starting"
    warnings: list[str] = field(default_factory=list)
    rate: float = 0.0


class TrainingSession(QObject):
    ready = Signal(object)  # worker.Ready
    runChanged = Signal(object)  # Run: a lane's new run is on screen (built, or opened)
    lanesChanged = Signal()  # a lane was added or removed
    stateChanged = Signal(str)  # the session's state (the most pressing lane's)
    failed = Signal(int, str, str, str)  # run id, message, details, kind ("config"/"error")
    nonfinite = Signal(int, int, list)  # run id, step, layer indices
    workerDied = Signal(object)  # exit code (None if unknown); the runs shown are kept
    building = Signal(int, str, float, list)  # run id, stage, fraction done, warnings
    # A run trained here leaves the screen (replaced by a reset or a changed setting, removed,
    # or cleared by opening files) or reached its last step: the moment to keep it.
    runRetired = Signal(object)  # Run
    runFinished = Signal(object)  # Run

    def __init__(self, clock: FrameClock, workspace: Workspace | None = None,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.clock = clock
        self.workspace = workspace if workspace is not None else Workspace()
        self.worker = w.WorkerClient()
        self.worker_info: w.Ready | None = None
        self.lanes: list[Lane] = []
        self.state = "starting"
        self._ids = itertools.count(1)
        self._closing = False
        self._boundary_on = True
        self._notifier: QSocketNotifier | None = None
        self._watch_events()
        clock.frame.connect(self._tick)

    # -- reading --------------------------------------------------------------------------
    @property
    def config(self) -> Config | None:
        """Run A's configuration."""
        return self.lanes[0].config if self.lanes else None

    @property
    def run(self) -> Run | None:
        """Run A as shown."""
        return self.lanes[0].shown if self.lanes else None

    @property
    def run_id(self) -> int:
        """The id last requested for run A (it changes on every rebuild)."""
        return self.lanes[0].run_id if self.lanes else 0

    @property
    def rate(self) -> float:
        return self.lanes[0].rate if self.lanes else 0.0

    @property
    def comparing(self) -> bool:
        return len(self.lanes) > 1

    def lane_of(self, run_id: int) -> int | None:
        """The index of the lane that shows or is building run ``run_id``."""
        for i, lane in enumerate(self.lanes):
            if lane.run_id == run_id or (lane.shown is not None and lane.shown.run_id == run_id):
                return i
        return None

    # -- worker lifecycle -------------------------------------------------------------------
    def start_worker(self) -> None:
        """Start the training process (in the background: returns at once)."""
        if not self.worker.alive:
            self.worker.start()
        if not self.clock.active:
            self.clock.start()

    def shutdown(self, timeout: float = 1.0) -> None:
        self._closing = True
        self.clock.frame.disconnect(self._tick)
        self._unwatch_events()
        self.worker.shutdown(timeout)

    def _watch_events(self) -> None:
        """Wake the clock the moment the worker sends something: while nothing happens the
        clock ticks slowly (clock.IDLE_MS), and rows must not wait for its next tick."""
        self._unwatch_events()
        fd = self.worker.events_fd()
        if fd is None:
            return  # the slow ticks still drain the worker
        self._notifier = QSocketNotifier(fd, QSocketNotifier.Type.Read, self)
        self._notifier.activated.connect(self._events_waiting)

    def _events_waiting(self) -> None:
        # Readable until drained (level-triggered): quiet until the next tick has drained it.
        if self._notifier is not None:
            self._notifier.setEnabled(False)
        self.clock.wake()

    def _unwatch_events(self) -> None:
        if self._notifier is not None:
            self._notifier.setEnabled(False)
            self._notifier.deleteLater()
            self._notifier = None

    # -- lanes ----------------------------------------------------------------------------
    def configure(self, config: Config) -> None:
        """Run A becomes ``config`` (the only run outside compare mode)."""
        if not self.lanes:
            self.lanes.append(Lane(config, 0))
            self._build(0, solo=True)
            self.lanesChanged.emit()
            return
        self.configure_lane(0, config)

    def configure_lane(self, index: int, config: Config) -> None:
        """Lane ``index`` trains ``config`` from now on; the other lanes go on."""
        lane = self.lanes[index]
        old = lane.config
        shown = lane.shown
        if config == old and lane.state in ("starting", "building"):
            return  # being built as asked already (a builder's late echo of the same config)
        if (old is not None and shown is not None and shown.live and lane.state != "invalid"
                and config.replace(steps=old.steps) == old):
            # Only the step limit changed: keep the run, move its end.
            lane.config = config
            shown.config = config
            shown.history.config = config
            self.worker.send(w.SetMaxSteps(config.steps, lane.run_id))
            return
        if (old is not None and shown is not None and shown.live and shown.step > 0
                and lane.state in ("running", "paused")
                and config.replace(lr=old.lr, optimizer=old.optimizer, steps=old.steps) == old):
            # Only the learning rate or the optimizer: the run goes on from its weights.
            lane.config = config
            if config.steps != old.steps:
                self.worker.send(w.SetMaxSteps(config.steps, lane.run_id))
            self.worker.send(w.ChangeCourse(
                lane.run_id, config.lr if config.lr != old.lr else None,
                config.optimizer if config.optimizer != old.optimizer else None))
            return
        lane.config = config
        self._build(index, solo=not self.comparing)

    def add_lane(self, config: Config) -> int:
        """A new lane training ``config`` next to the others; returns its index."""
        if len(self.lanes) >= MAX_RUNS:
            raise WorkspaceError(f"a comparison holds at most {MAX_RUNS} runs; remove one "
                                 "first")
        self.lanes.append(Lane(config, 0))
        index = len(self.lanes) - 1
        if self._any_unbuildable():
            self._rebuild_all()  # opened files: the comparison trains afresh from step 0
        else:
            self._build(index, solo=False)
        self.lanesChanged.emit()
        return index

    def remove_lane(self, index: int) -> None:
        """Stop and drop lane ``index``; the others go on. Lane A stays if it is the last."""
        if len(self.lanes) <= 1:
            return
        lane = self.lanes.pop(index)
        self.worker.send(w.Remove(lane.run_id))
        if lane.shown is not None and lane.shown.run_id in self.workspace:
            self.workspace.remove(lane.shown.run_id)
            self._retire(lane.shown)
        self.workspace.relabel()
        self.lanesChanged.emit()
        self._update_state()

    def _build(self, index: int, solo: bool) -> None:
        lane = self.lanes[index]
        assert lane.config is not None
        old = lane.run_id
        lane.run_id = next(self._ids)
        lane.warnings = []
        lane.rate = 0.0
        lane.state = "building" if self.worker_info else "starting"
        replaces = None if solo or lane.shown is None else old
        if not solo and lane.shown is None and old:
            self.worker.send(w.Remove(old))  # a lane whose first build is still pending
        self.worker.send(w.Configure(lane.run_id, lane.config.to_dict(), replaces=replaces,
                                     solo=solo))
        self._update_state()

    def _rebuild_all(self) -> None:
        for i in range(len(self.lanes)):
            self._build(i, solo=i == 0)

    def _any_unbuildable(self) -> bool:
        return any(lane.shown is not None and not lane.shown.live for lane in self.lanes)

    # -- commands ---------------------------------------------------------------------------
    def _needs_fresh_run(self) -> bool:
        """A run shown cannot go on: finished, opened from a file, or its trainer died. The
        comparison then starts afresh together, so its runs stay at one step."""
        if not self.lanes or any(lane.config is None for lane in self.lanes):
            return False
        return self._any_unbuildable() or all(lane.state == "finished" for lane in self.lanes)

    def start(self) -> None:
        if self._needs_fresh_run():
            self._rebuild_all()
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
            self._rebuild_all()
        self.worker.send(w.StepOnce(n))

    def reset(self) -> None:
        """Fresh weights for every lane (the seed makes them the same fresh weights)."""
        if self.lanes and all(lane.config is not None for lane in self.lanes):
            self._rebuild_all()

    def reset_lane(self, index: int) -> None:
        if self.lanes[index].config is not None:
            self._build(index, solo=not self.comparing)

    def set_speed(self, steps_per_second: float | None) -> None:
        self.worker.send(w.SetSpeed(steps_per_second))

    def set_boundary(self, enabled: bool) -> None:
        if enabled != self._boundary_on:
            self._boundary_on = enabled
            self.worker.send(w.SetBoundary(enabled))

    def view_runs(self, runs: list[Run], path: str) -> None:
        """Show saved runs (one, or a saved comparison). Training stops; Start trains their
        configs afresh."""
        self.pause()
        for lane in self.lanes:
            self.worker.send(w.Remove(lane.run_id))
        old = list(self.workspace.runs)
        self.workspace.clear()
        for run in old:
            self._retire(run)
        self.lanes = []
        for run in runs[:MAX_RUNS]:
            run.run_id = next(self._ids)
            run.source = run.source if run.source not in ("live", "stream") else path
            run.saved_to = path
            run.set_state("viewing")
            lane = Lane(run.config, run.run_id, run, "viewing")
            self.lanes.append(lane)
            self.workspace.add(run)
        self.workspace.relabel()
        self.lanesChanged.emit()
        for run in runs[:MAX_RUNS]:
            self.runChanged.emit(run)
        self._update_state()

    def view_history(self, history: RunHistory, path: str) -> None:
        """Show one saved run (a file of an older format: its shape from its config)."""
        self.view_runs([Run.from_history(history, source=path)], path)

    # -- the frame loop ---------------------------------------------------------------------
    def _tick(self, index: int) -> None:
        events = self.worker.poll()
        for ev in events:
            self._handle(ev)
        if events:
            self.clock.work()
        if self._notifier is not None and not self._notifier.isEnabled():
            self._notifier.setEnabled(True)
        if index % DIAGNOSIS_FRAMES == 0:
            self._note_diagnoses()
        if index % ALIVE_CHECK_FRAMES == 0 and not self._closing \
                and self.worker.process is not None and not self.worker.alive:
            self._worker_died()

    def _note_diagnoses(self) -> None:
        """Mark where a training run's diagnosis changed (vanishing -> healthy ...): the
        timeline shows these. Only for runs training now, at their last step."""
        for lane in self.lanes:
            run = lane.shown
            if run is None or lane.state != "running" or not run.step:
                continue
            findings = diagnose(run.history)
            if findings:
                top = findings[0]
                run.note_diagnosis(run.step, top.kind, top.message)

    def _handle(self, ev: Any) -> None:
        if isinstance(ev, w.Ready):
            self.worker_info = ev
            for lane in self.lanes:
                if lane.state == "starting":
                    lane.state = "building"
            self._update_state()
            self.ready.emit(ev)
            return
        index = self.lane_of(getattr(ev, "run_id", -1))
        if index is None:
            return  # from a run that has been replaced or removed
        lane = self.lanes[index]
        if isinstance(ev, w.Configured):
            if ev.run_id == lane.run_id:
                self._configured(lane, ev)
            return
        if ev.run_id != lane.run_id:
            return  # the old run of a lane being rebuilt
        if isinstance(ev, w.Rows):
            run = lane.shown
            if run is None or run.run_id != ev.run_id:
                return
            run.append(RecordBlock(ev.steps, ev.rows, ev.probe_steps, ev.probe_rows,
                                   ev.eval_steps, ev.eval_rows))
            lane.rate = ev.steps_per_second
            self.clock.data_arrived(ev.oldest_done)
        elif isinstance(ev, w.Building):
            lane.warnings = list(ev.warnings)
            self.building.emit(ev.run_id, ev.stage, ev.fraction, lane.warnings)
        elif isinstance(ev, w.State):
            self._set_lane_state(lane, ev.state)
            if ev.state == "finished" and lane.shown is not None:
                self.runFinished.emit(lane.shown)
        elif isinstance(ev, w.Boundary):
            run = lane.shown
            if run is not None and run.run_id == ev.run_id and run.is_2d:
                # An older snapshot after a newer one (ValueError) has nothing new to draw.
                with contextlib.suppress(ValueError):
                    run.add_boundary(ev.step, ev.classes, ev.confidence)
        elif isinstance(ev, w.Changed):
            self._changed_course(lane, ev)
        elif isinstance(ev, w.NonFinite):
            self.nonfinite.emit(ev.run_id, ev.step, ev.layers)
        elif isinstance(ev, w.Failed):
            if ev.kind == "config":
                self._set_lane_state(lane, "invalid")
            self.failed.emit(ev.run_id, ev.message, ev.details, ev.kind)

    def _changed_course(self, lane: Lane, ev: w.Changed) -> None:
        """Record a change of learning rate or optimizer in the run (the timeline marks
        it; a saved run keeps it)."""
        run = lane.shown
        if run is None or run.config is None:
            return
        new = Config.from_dict(ev.config)
        for key in ("lr", "optimizer"):
            before, after = getattr(run.config, key), getattr(new, key)
            if before != after:
                run.note_setting(ev.step, key, before, after)
        run.config = new.replace(steps=run.config.steps)
        run.history.config = run.config

    def _configured(self, lane: Lane, ev: w.Configured) -> None:
        assert lane.config is not None
        run = Run.from_config(lane.config, ev.layer_names, ev.inactive_kind,
                              run_id=ev.run_id, input_dim=ev.input_dim,
                              n_classes=ev.n_classes, device=ev.device,
                              warnings=list(lane.warnings))
        if ev.points is not None and ev.labels is not None and ev.extent is not None:
            run.set_data(DataSample(ev.points, ev.labels, ev.extent))
        old = lane.shown
        lane.shown = run
        lane.rate = 0.0
        if old is not None and old.run_id in self.workspace:
            self.workspace.replace(old.run_id, run)
            self._retire(old)
        else:
            self.workspace.add(run)
        self.workspace.relabel()
        self._set_lane_state(lane, "ready")
        self.runChanged.emit(run)

    def _retire(self, run: Run) -> None:
        if run.recorded_here and run.step > 0:
            self.runRetired.emit(run)

    def _set_lane_state(self, lane: Lane, state: str) -> None:
        lane.state = state
        if lane.shown is not None and lane.shown.run_id == lane.run_id:
            lane.shown.set_state(state)
        self._update_state()

    def _update_state(self) -> None:
        states = {lane.state for lane in self.lanes} or {"idle" if self.worker_info
                                                          else "starting"}
        state = next((s for s in STATE_ORDER if s in states), next(iter(states)))
        if state != self.state:
            self.state = state
            self.stateChanged.emit(state)

    def _worker_died(self) -> None:
        """The training process is gone (killed, out of memory). Start a fresh one, but keep
        the runs on screen and train nothing until the user asks: a net that kills the
        process as it builds would otherwise kill it again and again."""
        code = self.worker.process.exitcode if self.worker.process is not None else None
        self._unwatch_events()
        self.worker.shutdown(0.1)
        self.worker = w.WorkerClient()
        self._watch_events()
        self.worker_info = None
        self.worker.start()
        for lane in self.lanes:
            lane.run_id = next(self._ids)  # nothing more comes from the dead runs
            if lane.shown is not None:
                lane.shown.ended = True
            self._set_lane_state(lane, "stopped")
        self.workerDied.emit(code)

    # -- files ------------------------------------------------------------------------------
    def mark_saved(self, path: str | Path, runs: list[Run] | None = None) -> None:
        for run in runs if runs is not None else self.workspace.runs:
            run.saved_to = str(path)
