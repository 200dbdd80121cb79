"""The worker process, without Qt: it trains what it is told, streams rows, pauses on NaN,
and nothing it sends makes the receiving process import torch."""

import subprocess
import sys

import numpy as np
import pytest

CHECK = """
import sys, time
from vgrad_gui.core import worker as w
from vgrad_gui.core.spec import Config
client = w.WorkerClient()
client.start()
client.send(w.Configure(1, Config(depth=3, width=8, steps=60).to_dict()))
client.send(w.Start())
seen, rows, deadline = set(), 0, time.monotonic() + 60
while time.monotonic() < deadline:
    for ev in client.poll():
        seen.add(type(ev).__name__)
        if isinstance(ev, w.Rows):
            rows += len(ev.steps)
        if isinstance(ev, w.State) and ev.state == "finished":
            deadline = 0
    time.sleep(0.01)
client.send(w.Configure(2, Config(depth=10, width=32, activation="relu", init="large_normal",
                                  lr=0.01).to_dict()))
client.send(w.Start())
nonfinite, deadline = None, time.monotonic() + 30
while time.monotonic() < deadline and nonfinite is None:
    for ev in client.poll():
        if isinstance(ev, w.NonFinite) and ev.run_id == 2:
            nonfinite = ev
    time.sleep(0.01)
client.shutdown()
print("SEEN", sorted(seen))
print("ROWS", rows)
print("NONFINITE", nonfinite.step if nonfinite else None, len(nonfinite.layers) if nonfinite else 0)
print("TORCH", "torch" in sys.modules)
"""


def test_worker_streams_a_run_pauses_on_nan_and_keeps_torch_out_of_the_gui():
    done = subprocess.run([sys.executable, "-c", CHECK], capture_output=True, text=True,
                          timeout=180)
    out = done.stdout
    assert done.returncode == 0, done.stderr
    assert "ROWS 60" in out
    for kind in ("Ready", "Configured", "Rows", "State", "Boundary"):
        assert kind in out
    step = out.split("NONFINITE ")[1].split()[0]
    assert step != "None" and int(step) > 1
    assert "TORCH False" in out


def test_no_boundary_is_sent_from_nan_weights():
    from vgrad_gui.core import worker as w

    class Sink:
        def __init__(self) -> None:
            self.items: list[object] = []

        def put(self, item: object) -> None:
            self.items.append(item)

    import queue as q

    events = Sink()
    worker = w._Worker(q.Queue(), events, parent_pid=0)
    worker._configure(w.Configure(1, {"depth": 10, "width": 32, "activation": "relu",
                                      "init": "large_normal", "lr": 0.01}))
    boundaries = [e for e in events.items if isinstance(e, w.Boundary)]
    assert len(boundaries) == 1 and np.isfinite(boundaries[0].confidence).all()
    run = worker.runs[1]
    run.trainer.run_block(10)  # the exploding preset: NaN weights by now
    worker._maybe_boundary(run, force=True)
    assert len([e for e in events.items if isinstance(e, w.Boundary)]) == 1


class Sink:
    def __init__(self) -> None:
        self.items: list[object] = []

    def put(self, item: object) -> None:
        self.items.append(item)

    def of(self, kind: type) -> list:
        return [e for e in self.items if isinstance(e, kind)]


def make_worker():
    import queue as q

    from vgrad_gui.core import worker as w

    events = Sink()
    return w, w._Worker(q.Queue(), events, parent_pid=0), events


def test_building_reports_progress_then_the_first_step_comes_alone():
    w, worker, events = make_worker()
    worker._configure(w.Configure(1, {"depth": 3, "width": 8}))
    building = events.of(w.Building)
    assert [b.stage for b in building] == ["Preparing the data", "Building the network"]
    assert all(b.run_id == 1 for b in building)
    # A wide net (gradients autograd allocates at each step) also prepares their memory.
    _, wide, wide_events = make_worker()
    wide._configure(w.Configure(1, {"depth": 2, "width": 160}))
    assert wide.runs[1].trainer.probe.separate
    assert [b.stage for b in wide_events.of(w.Building)] == [
        "Preparing the data", "Building the network", "Preparing memory"]
    assert [b.fraction for b in building] == sorted(b.fraction for b in building)
    kinds = [type(e).__name__ for e in events.items]
    assert kinds.index("Building") < kinds.index("Configured")
    # The first block of a new net is one step, sent at once: a large net shows its first
    # step as soon as it is trained, and a step is timed before blocks grow.
    worker.running = True
    worker._turn()
    rows = events.of(w.Rows)
    trainer = worker.runs[1].trainer
    assert list(rows[0].steps) == [1] and not len(rows[0].probe_steps)
    # Its statistics and evaluation follow, in the same message only if nothing was sent
    # between (Trainer.defer_first): never another step.
    assert all(len(r.steps) == 0 for r in rows[1:])
    assert [list(r.probe_steps) for r in rows[1:]] in ([], [[1]])
    assert trainer.step_seconds is not None
    # Slow steps: one step per block, so a Pause is read after each step, at any speed.
    for rate in (None, 500.0):
        worker.rate = rate
        before = trainer.step_count
        trainer.step_seconds = 0.5
        worker._turn()
        assert trainer.step_count == before + 1
    # Fast steps at full speed: several per block.
    worker.rate, trainer.step_seconds = None, 0.001
    before = trainer.step_count
    worker._turn()
    assert trainer.step_count >= before + 5


def test_the_budget_refuses_a_net_that_cannot_fit_and_warns_of_a_slow_one(monkeypatch):
    budget = pytest.importorskip("vgrad_gui.core.budget")
    w, worker, events = make_worker()
    monkeypatch.setattr(budget, "available_memory", lambda: 10 * 2**20)
    worker._configure(w.Configure(1, {"depth": 3, "width": 8}))
    failed = events.of(w.Failed)
    assert len(failed) == 1 and failed[0].kind == "config"
    assert "\n" not in failed[0].message
    assert not worker.runs and not events.of(w.Configured)
    monkeypatch.setattr(budget, "check_budget", lambda config: ["each step will take ~9 s"])
    worker._configure(w.Configure(2, {"depth": 3, "width": 8}))
    assert events.of(w.Building)[-1].warnings == ["each step will take ~9 s"]
    assert events.of(w.Configured)[-1].run_id == 2


def test_a_large_net_gets_a_coarser_boundary_grid():
    w, worker, events = make_worker()
    worker._configure(w.Configure(1, {"depth": 3, "width": 8}))
    assert events.of(w.Boundary)[-1].classes.shape == (w.GRID, w.GRID)
    worker._configure(w.Configure(2, {"depth": 12, "width": 512}))
    side = events.of(w.Boundary)[-1].classes.shape[0]
    assert 8 <= side < w.GRID and worker.runs[2].grid_side == side
