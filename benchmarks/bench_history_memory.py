"""Memory of a RunHistory after 10,000 and after 1,000,000 recorded steps.

Records real training rows (a depth-50 x width-16 tanh net, so 51 layers), replayed from one
trained block to reach a million steps quickly, and reports the history's array bytes and the
process's traced allocations. Target: 1M steps within a few MB of 10k steps.

    python benchmarks/bench_history_memory.py
"""

from __future__ import annotations

import time
import tracemalloc

import numpy as np

from vgrad_gui.core.history import RunHistory
from vgrad_gui.core.records import RecordBlock
from vgrad_gui.core.spec import Config
from vgrad_gui.core.trainer import Trainer


def grow(history: RunHistory, template: RecordBlock, until: int) -> float:
    """Append copies of a trained block until ``until`` steps; returns seconds taken."""
    started = time.perf_counter()
    while history.step < until:
        first = history.step + 1
        shift = first - int(template.steps[0])
        history.append(RecordBlock(template.steps + shift, template.rows,
                                   template.probe_steps + shift, template.probe_rows,
                                   template.eval_steps + shift, template.eval_rows))
    return time.perf_counter() - started


def main() -> None:
    cfg = Config(depth=50, width=16, activation="tanh", init="xavier_uniform", lr=0.01)
    trainer = Trainer(cfg)  # the default cadences, as the app and 'record' use
    trainer.run_block(64)
    template = trainer.run_block(100)
    tracemalloc.start()
    history = RunHistory(cfg, trainer.layer_names, trainer.probe.inactive_kind)
    base = tracemalloc.get_traced_memory()[0]
    t10k = grow(history, template, 10_000)
    at_10k = history.nbytes()
    traced_10k = tracemalloc.get_traced_memory()[0] - base
    t1m = grow(history, template, 1_000_000)
    at_1m = history.nbytes()
    traced_1m = tracemalloc.get_traced_memory()[0] - base
    tracemalloc.stop()
    mb = 2**20
    print(f"{cfg.depth + 1} layers; per recorded step: {t1m / 990_000 * 1e6:.2f} us")
    print(f"history arrays:  10k steps {at_10k / mb:6.2f} MB, 1M steps {at_1m / mb:6.2f} MB, "
          f"difference {(at_1m - at_10k) / mb:.2f} MB, ratio {at_1m / at_10k:.2f}")
    print(f"traced (python): 10k steps {traced_10k / mb:6.2f} MB, 1M steps "
          f"{traced_1m / mb:6.2f} MB, difference {(traced_1m - traced_10k) / mb:.2f} MB")
    rec = history.steps.records()
    print(f"records held at 1M: {len(rec['count'])} ({history.steps.n_raw} at full "
          f"resolution, buckets of {history.steps.span} steps); first 10k appended in "
          f"{t10k:.2f} s")
    assert np.isclose(rec["count"].sum(), 1_000_000)


if __name__ == "__main__":
    main()
