"""The worker hosting several runs: the real process (spawned, driven through WorkerClient),
then the turn rules in-process. One worker process serves the process tests (starting one
costs seconds); each test begins with a solo Configure, which drops every earlier run, and uses
run ids of its own so that nothing late from an earlier test is mistaken for its own."""

from __future__ import annotations

import itertools
import queue
import time
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest

from vgrad_gui.core import worker as w
from vgrad_gui.core.spec import Config

SMALL = {"depth": 3, "width": 8, "samples": 200, "batch_size": 32, "device": "cpu"}
SIGMOID = Config(activation="sigmoid", steps=150, **SMALL)
RELU = Config(activation="relu", init="he_normal", steps=150, seed=3, **SMALL)
TANH = Config(activation="tanh", steps=150, seed=5, **SMALL)
# The exploding preset's network: NaN within a few dozen steps.
EXPLODING = Config(depth=10, width=32, activation="relu", init="large_normal", lr=0.01,
                   device="cpu", steps=2000)
LONG = 10**6
_ids = itertools.count(100)


class Log:
    """Every event the worker sent during one test, in the order it sent them."""

    def __init__(self, client: w.WorkerClient) -> None:
        self.client = client
        self.events: list[Any] = []

    def wait(self, pred: Callable[[Any], bool], what: str, timeout: float = 30) -> int:
        """The index of the first event (of this test) that matches ``pred``, polling until
        one has come."""
        start, deadline = 0, time.monotonic() + timeout
        while time.monotonic() < deadline:
            for i in range(start, len(self.events)):
                if pred(self.events[i]):
                    return i
            start = len(self.events)
            self.events.extend(self.client.poll())
            time.sleep(0.005)
        tail = [type(e).__name__ + str(getattr(e, "run_id", "")) for e in self.events[-12:]]
        raise AssertionError(f"no {what} within {timeout} s; last events: {tail}")

    def settle(self, seconds: float = 0.3) -> None:
        """Collect whatever else comes within ``seconds``."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            self.events.extend(self.client.poll())
            time.sleep(0.01)

    def state(self, run_id: int, state: str) -> int:
        return self.wait(lambda e: isinstance(e, w.State) and e.run_id == run_id
                         and e.state == state, f"State({run_id}, {state!r})")

    def rows_past(self, run_id: int, step: int) -> int:
        # A Rows may hold only step 1's statistics (no steps): see worker.Rows.
        return self.wait(lambda e: isinstance(e, w.Rows) and e.run_id == run_id
                         and len(e.steps) > 0 and int(e.steps[-1]) >= step,
                         f"Rows of run {run_id} to step {step}")

    def of(self, kind: type, run_id: int, since: int = 0) -> list[Any]:
        return [e for e in self.events[since:] if isinstance(e, kind) and e.run_id == run_id]

    def steps(self, run_id: int) -> np.ndarray:
        rows = self.of(w.Rows, run_id)
        return np.concatenate([r.steps for r in rows]) if rows else np.zeros(0, np.int64)

    def last_step(self, run_id: int) -> int:
        steps = self.steps(run_id)
        return int(steps[-1]) if len(steps) else 0


@pytest.fixture(scope="module")
def client() -> Iterator[w.WorkerClient]:
    c = w.WorkerClient()
    c.start()
    yield c
    c.shutdown()


@pytest.fixture
def log(client: w.WorkerClient) -> Log:
    client.poll()  # anything late from an earlier test
    return Log(client)


def configure(client: w.WorkerClient, *configs: Config) -> list[int]:
    """Host ``configs`` (the first one solo: every earlier run is dropped); their run ids."""
    ids = [next(_ids) for _ in configs]
    for i, (run_id, config) in enumerate(zip(ids, configs, strict=True)):
        client.send(w.Configure(run_id, config.to_dict(), solo=i == 0))
    return ids


def alone(config: Config, steps: int) -> dict[str, np.ndarray]:
    """The records of ``config`` trained on its own, in this process, as Rows carries them."""
    from vgrad_gui.core.lockstep import concat_blocks
    from vgrad_gui.core.trainer import Trainer

    tr = Trainer(config)
    block = concat_blocks([tr.run_block(16) for _ in range(-(-steps // 16))])
    return {"steps": block.steps[:steps], "rows": block.rows[:steps].astype(np.float32),
            "probe_steps": block.probe_steps, "probe_rows": block.probe_rows.astype(np.float32),
            "eval_steps": block.eval_steps, "eval_rows": block.eval_rows.astype(np.float32)}


def received(log: Log, run_id: int) -> dict[str, np.ndarray]:
    rows = log.of(w.Rows, run_id)
    return {name: np.concatenate([getattr(r, name) for r in rows]) for name in
            ("steps", "rows", "probe_steps", "probe_rows", "eval_steps", "eval_rows")}


# -- the real process ---------------------------------------------------------------------------
def test_two_runs_train_together_and_each_is_bit_identical_to_its_run_alone(client, log):
    a, b = configure(client, SIGMOID, RELU)
    client.send(w.Start())
    for run_id in (a, b):
        log.state(run_id, "finished")
    for run_id, config in ((a, SIGMOID), (b, RELU)):
        got, want = received(log, run_id), alone(config, 150)
        assert list(got["steps"]) == list(range(1, 151))
        for name in want:
            assert got[name].tobytes() == want[name].tobytes(), f"run {run_id}: {name} differ"
        assert [e.state for e in log.of(w.State, run_id)] == ["ready", "running", "finished"]
        assert log.of(w.State, run_id)[-1].step == 150


def test_pause_with_two_runs_lands_with_both_at_one_step(client, log):
    a, b = configure(client, SIGMOID.replace(steps=LONG), RELU.replace(steps=LONG))
    client.send(w.Start())
    log.rows_past(a, 30)
    log.rows_past(b, 30)
    client.send(w.Pause())
    for run_id in (a, b):
        log.state(run_id, "paused")
    log.settle()
    paused = [log.of(w.State, i)[-1] for i in (a, b)]
    assert [s.state for s in paused] == ["paused", "paused"]
    # In lockstep: every turn trains both runs the same number of steps.
    assert paused[0].step == paused[1].step == log.last_step(a) == log.last_step(b)
    # Nothing trained after the pause; the last boundary is the one at the step it paused at
    # (sent after the state, so that "paused" never waits for a big net's boundary).
    for run_id, state in zip((a, b), paused, strict=True):
        after = log.events[log.events.index(state):]
        assert not [e for e in after if isinstance(e, w.Rows) and e.run_id == run_id]
        log.wait(lambda e, r=run_id, s=state.step: isinstance(e, w.Boundary)
                 and e.run_id == r and e.step == s, f"the boundary of run {run_id} at its pause")


def test_remove_drops_a_run_at_once_and_the_other_goes_on(client, log):
    a, b = configure(client, SIGMOID.replace(steps=LONG), RELU.replace(steps=LONG))
    client.send(w.Start())
    log.rows_past(b, 20)
    client.send(w.Remove(b))
    client.send(w.Remove(9999))  # not hosted: ignored
    # Start while running says "running" again for each hosted run: a marker that the
    # worker has handled the Remove.
    client.send(w.Start())
    marker = log.wait(lambda e: isinstance(e, w.State) and e.run_id == a
                      and e.state == "running" and e.step > 0, "the marker State")
    at = log.last_step(a)
    log.rows_past(a, at + 100)  # the other run trains on
    client.send(w.Pause())
    log.state(a, "paused")
    log.settle()
    after = [e for e in log.events[marker:] if getattr(e, "run_id", None) == b]
    assert after == [], f"events of the removed run after its Remove: {after}"
    assert not any(isinstance(e, w.State) and e.run_id == b for e in log.events[marker:])
    steps = log.steps(a)
    assert list(steps) == list(range(1, len(steps) + 1))


def test_a_replaced_run_restarts_and_the_other_keeps_its_steps(client, log):
    a, b = configure(client, SIGMOID.replace(steps=LONG), RELU.replace(steps=LONG))
    client.send(w.Start())
    log.rows_past(a, 40)
    c = next(_ids)
    client.send(w.Configure(c, TANH.replace(steps=LONG).to_dict(), replaces=b, solo=False))
    configured = log.wait(lambda e: isinstance(e, w.Configured) and e.run_id == c,
                          "Configured of the new run")
    running = log.state(c, "running")  # added while running: it runs at once
    assert running > configured
    first = log.of(w.Rows, c)
    assert not first or int(first[0].steps[0]) == 1
    # Run a may have trained a turn or two more than its rows seen so far (at most 2 x 64
    # steps unsent); the new run catches up (a waits) and then both go on at one step.
    reached = log.last_step(a)
    log.rows_past(c, reached + 2 * w.MAX_TURN + 30)
    client.send(w.Pause())
    log.state(a, "paused")
    log.state(c, "paused")
    log.settle()
    assert log.of(w.State, a)[-1].step == log.of(w.State, c)[-1].step
    # The other run was never restarted: one unbroken run of steps.
    steps = log.steps(a)
    assert list(steps) == list(range(1, len(steps) + 1))
    assert list(log.steps(c)) == list(range(1, log.last_step(c) + 1))
    assert not [e for e in log.events[configured:] if getattr(e, "run_id", None) == b]


def test_a_nan_run_stops_and_the_other_goes_on(client, log):
    bad, good = configure(client, EXPLODING, RELU.replace(steps=300))
    client.send(w.Start())
    log.state(good, "finished")
    nonfinite = log.of(w.NonFinite, bad)
    assert len(nonfinite) == 1 and 1 < nonfinite[0].step < 300 and nonfinite[0].layers
    stopped = log.of(w.State, bad)[-1]
    assert (stopped.state, stopped.reason, stopped.step) == ("paused", "nonfinite",
                                                             nonfinite[0].step)
    assert log.last_step(bad) == nonfinite[0].step
    assert log.of(w.State, good)[-1].step == log.last_step(good) == 300
    # Start again: the NaN run only says why it cannot train; nothing trains.
    client.send(w.Start())
    log.wait(lambda e: isinstance(e, w.State) and e.run_id == bad and e.reason == "nonfinite"
             and e is not stopped, "the NaN run's state again")
    log.settle()
    assert log.last_step(bad) == nonfinite[0].step


def test_a_fifth_run_is_refused_and_the_four_train_on(client, log):
    configs = [c.replace(steps=20) for c in (SIGMOID, RELU, TANH, SIGMOID.replace(seed=9))]
    ids = configure(client, *configs)
    fifth = next(_ids)
    client.send(w.Configure(fifth, RELU.to_dict(), solo=False))
    log.wait(lambda e: isinstance(e, w.Failed) and e.run_id == fifth, "Failed of run 5")
    failed = log.of(w.Failed, fifth)[0]
    assert failed.kind == "config" and "\n" not in failed.message
    assert "at most 4 runs" in failed.message
    assert not log.of(w.Building, fifth) and not log.of(w.Configured, fifth)
    client.send(w.Start())
    for run_id in ids:
        log.state(run_id, "finished")
        assert log.last_step(run_id) == 20


# -- the turn rules, in-process -----------------------------------------------------------------
class Sink:
    def __init__(self) -> None:
        self.items: list[Any] = []

    def put(self, item: Any) -> None:
        self.items.append(item)

    def of(self, kind: type, run_id: int | None = None) -> list[Any]:
        return [e for e in self.items if isinstance(e, kind)
                and (run_id is None or e.run_id == run_id)]


def in_process(monkeypatch: pytest.MonkeyPatch | None = None,
               fault: str = "") -> tuple[w._Worker, Sink]:
    if monkeypatch is not None:
        monkeypatch.setenv("VGRAD_FAULT_AT_STEP", fault)
    sink = Sink()
    return w._Worker(queue.Queue(), sink, parent_pid=0), sink


def run_until_stopped(worker: w._Worker, turns: int = 10_000) -> None:
    worker._handle(w.Start())
    for _ in range(turns):
        if not worker.running:
            return
        worker._turn()
    raise AssertionError("the worker still runs")


def test_the_turn_size_comes_from_the_sum_of_the_runs_step_times():
    worker, _ = in_process()
    worker._handle(w.Configure(1, SIGMOID.to_dict()))
    worker._handle(w.Configure(2, RELU.to_dict(), solo=False))
    one, two = worker.runs[1].trainer, worker.runs[2].trainer
    assert worker._turn_size([1, 2]) == 1  # untimed: a first step alone
    one.step_seconds = two.step_seconds = 0.0005
    assert worker._turn_size([1]) == 20 and worker._turn_size([1, 2]) == 10
    one.step_seconds = 0.5  # one slow run: one step per turn
    assert worker._turn_size([1, 2]) == 1
    # Small steps that fill BLOCK_SECONDS in fewer than MIN_TURN steps still get MIN_TURN, as
    # long as a turn stays within TURN_LIMIT: each block pays a fixed cost.
    one.step_seconds = two.step_seconds = 0.003
    assert worker._turn_size([1, 2]) == w.MIN_TURN == 4
    one.step_seconds = two.step_seconds = 0.010
    assert worker._turn_size([1, 2]) == int(w.TURN_LIMIT / 0.020) == 2
    one.step_seconds = two.step_seconds = 1e-7
    assert worker._turn_size([1, 2]) == w.MAX_TURN
    # A speed limit holds for each run: a turn of k steps of every run is due k / rate later.
    worker._handle(w.SetSpeed(400.0))
    worker.running = True
    due = worker.next_due
    worker._turn()
    k = int(400.0 * w.BLOCK_SECONDS)
    assert one.step_count == two.step_count == k
    assert worker.next_due == pytest.approx(due + k / 400.0)


def test_a_raising_run_fails_alone_and_the_fault_reaches_every_run(monkeypatch):
    worker, sink = in_process(monkeypatch)
    worker._handle(w.Configure(1, SIGMOID.to_dict()))
    worker._handle(w.Configure(2, RELU.to_dict(), solo=False))
    broken = worker.runs[1].trainer
    real = broken.run_block

    def run_block(k: int, abort: Any = None) -> Any:
        if broken.step_count + k > 40:
            raise RuntimeError("out of memory")
        return real(k, abort)

    broken.run_block = run_block
    run_until_stopped(worker)
    failed = sink.of(w.Failed, 1)
    assert len(failed) == 1 and failed[0].kind == "error"
    assert "out of memory" in failed[0].message and "Traceback" in failed[0].details
    assert (sink.of(w.State, 1)[-1].state, sink.of(w.State, 1)[-1].reason) == ("paused",
                                                                                 "error")
    assert sink.of(w.State, 2)[-1].state == "finished" and worker.runs[2].trainer.step_count \
        == 150
    # VGRAD_FAULT_AT_STEP: every run raises at that step.
    worker, sink = in_process(monkeypatch, fault="30")
    worker._handle(w.Configure(1, SIGMOID.to_dict()))
    worker._handle(w.Configure(2, RELU.to_dict(), solo=False))
    run_until_stopped(worker)
    for run_id in (1, 2):
        assert "injected fault" in sink.of(w.Failed, run_id)[0].message
        assert sink.of(w.State, run_id)[-1].reason == "error"
        assert worker.runs[run_id].trainer.step_count < 30
    assert not worker.running


def test_max_steps_per_run_and_for_all():
    worker, sink = in_process()
    worker._handle(w.Configure(1, SIGMOID.to_dict()))
    worker._handle(w.Configure(2, RELU.to_dict(), solo=False))
    worker._handle(w.SetMaxSteps(10, run_id=2))
    assert sink.of(w.State, 2)[-1].state == "ready"
    run_until_stopped(worker)
    assert worker.runs[1].trainer.step_count == 150
    assert worker.runs[2].trainer.step_count == 10
    assert sink.of(w.State, 2)[-1].state == "finished"
    worker._handle(w.SetMaxSteps(20))  # positional, every run: 1 is past it, 2 is not
    assert sink.of(w.State, 1)[-1].state == "finished"
    assert (sink.of(w.State, 2)[-1].state, sink.of(w.State, 2)[-1].step) == ("paused", 10)
    run_until_stopped(worker)
    assert worker.runs[2].trainer.step_count == 20
    worker._handle(w.SetMaxSteps(5, run_id=77))  # not hosted: ignored
    assert worker.runs[2].trainer.step_count == 20


def test_configure_solo_replace_and_a_bad_config_leave_the_right_runs():
    worker, sink = in_process()
    worker._handle(w.Configure(1, SIGMOID.to_dict()))
    worker._handle(w.Configure(2, RELU.to_dict(), solo=False))
    worker._handle(w.Configure(3, {"depth": -1}, solo=False))
    failed = sink.of(w.Failed, 3)
    assert len(failed) == 1 and failed[0].kind == "config" and "depth" in failed[0].message
    assert list(worker.runs) == [1, 2]
    # A replace whose new config is bad: the replaced run goes, the other stays.
    worker._handle(w.Configure(4, {"width": 0}, replaces=2, solo=False))
    assert sink.of(w.Failed, 4) and list(worker.runs) == [1] and worker.lockstep.ids == [1]
    worker._handle(w.Configure(5, RELU.to_dict(), replaces=1, solo=False))
    assert list(worker.runs) == [5] and worker.lockstep.ids == [5]
    worker._handle(w.Configure(6, TANH.to_dict(), replaces=42, solo=False))  # not hosted: added
    assert worker.lockstep.ids == [5, 6]
    worker._handle(w.Configure(7, TANH.to_dict()))  # solo: only this one
    assert list(worker.runs) == [7] and worker.lockstep.ids == [7]
    kinds = [type(e).__name__ for e in sink.items if getattr(e, "run_id", None) == 7]
    assert kinds == ["Building", "Building", "Configured", "Boundary", "State"]


def test_a_pause_during_a_slow_step_undoes_it_and_says_paused_before_any_boundary():
    """A big net's step reads the commands between its passes: Pause undoes the step under
    way, "paused" comes before any boundary that was due, the other commands read meanwhile
    are handled in order, and training on gives the records of a run never paused."""
    worker, sink = in_process()
    worker._handle(w.Configure(1, SIGMOID.to_dict()))
    worker._handle(w.Configure(2, RELU.to_dict(), solo=False))
    worker._handle(w.Start())
    for _ in range(3):
        worker._turn()
    one, two = worker.runs[1].trainer, worker.runs[2].trainer
    one.step_seconds = two.step_seconds = 1.0  # slow steps: commands are read mid-step
    at = (one.step_count, two.step_count)
    assert at[0] == at[1] > 1
    for run in worker.runs.values():
        run.next_boundary = 0.0  # due
    boundaries = len(sink.of(w.Boundary))
    worker.commands.put(w.SetSpeed(123.0))
    worker.commands.put(w.Pause())
    worker._turn()
    assert (one.step_count, two.step_count) == at and one.aborted
    assert len(sink.of(w.Boundary)) == boundaries
    worker._drain_commands()
    assert not worker.running and worker.rate == 123.0
    states = sink.of(w.State)[-2:]
    assert {(s.run_id, s.state, s.step) for s in states} == {(1, "paused", at[0]),
                                                             (2, "paused", at[1])}
    worker._handle(w.SetSpeed(None))
    run_until_stopped(worker)

    reference, ref_sink = in_process()
    reference._handle(w.Configure(1, SIGMOID.to_dict()))
    reference._handle(w.Configure(2, RELU.to_dict(), solo=False))
    run_until_stopped(reference)
    for run_id in (1, 2):
        for name in ("steps", "rows", "probe_steps", "probe_rows", "eval_steps", "eval_rows"):
            got = np.concatenate([getattr(r, name) for r in sink.of(w.Rows, run_id)])
            want = np.concatenate([getattr(r, name) for r in ref_sink.of(w.Rows, run_id)])
            assert got.tobytes() == want.tobytes(), (run_id, name)
