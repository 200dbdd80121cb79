import numpy as np
import pytest
import torch

from vgrad_gui.core import trainer as trainer_mod
from vgrad_gui.core.lockstep import (
    FAILED,
    FINISHED,
    NONFINITE,
    RUNNING,
    Lockstep,
    LockstepError,
    concat_blocks,
    data_sample,
)
from vgrad_gui.core.presets import get_preset
from vgrad_gui.core.records import RecordBlock
from vgrad_gui.core.spec import Config
from vgrad_gui.core.trainer import Trainer

STEPS = 200
SMALL = {"width": 8, "samples": 200, "device": "cpu", "steps": STEPS, "batch_size": 32}
CONFIGS = {
    1: Config(depth=8, activation="sigmoid", **SMALL),
    2: Config(depth=6, activation="relu", init="he_normal", **SMALL),
    3: Config(depth=6, activation="sigmoid", norm="batch", **SMALL),
    4: Config(depth=6, activation="sigmoid", residual=True, seed=3, **SMALL),
}
BLOCK = 16


def as_bytes(blocks: list[RecordBlock]) -> tuple[bytes, ...]:
    b = concat_blocks(blocks)
    return tuple(np.ascontiguousarray(getattr(b, name)).tobytes() for name in
                 ("steps", "rows", "probe_steps", "probe_rows", "eval_steps", "eval_rows"))


_alone: dict[Config, tuple[bytes, ...]] = {}


def alone(config: Config, steps: int = STEPS) -> tuple[bytes, ...]:
    """The records of ``config`` trained on its own, in the same blocks."""
    key = config.replace(steps=steps)
    if key not in _alone:
        tr = Trainer(config)
        blocks = []
        while tr.step_count < steps:
            blocks.append(tr.run_block(min(BLOCK, steps - tr.step_count)))
        _alone[key] = as_bytes(blocks)
    return _alone[key]


def train_together(ls: Lockstep, until: int | None = None) -> dict[int, list[RecordBlock]]:
    got: dict[int, list[RecordBlock]] = {i: [] for i in ls.ids}
    while not ls.done and (until is None or min(ls.steps.values()) < until):
        for run_id, block in ls.step_all(BLOCK).items():
            got[run_id].append(block)
    return got


@pytest.mark.parametrize("ids", [(1, 2), (1, 2, 3, 4)])
def test_compared_runs_are_bit_identical_to_each_trained_alone(ids):
    ls = Lockstep()
    for i in ids:
        ls.add(i, CONFIGS[i])
    got = train_together(ls)
    assert ls.steps == {i: STEPS for i in ids}
    assert all(ls.status(i) == FINISHED for i in ids)
    for i in ids:
        assert as_bytes(got[i]) == alone(CONFIGS[i]), f"run {i} differs from its run alone"


def test_removing_a_run_midway_leaves_the_others_bit_identical():
    ls = Lockstep()
    for i in (1, 2, 3):
        ls.add(i, CONFIGS[i])
    first = train_together(ls, until=96)
    ls.remove(2)
    assert ls.ids == [1, 3] and 2 not in ls
    rest = train_together(ls)
    for i in (1, 3):
        assert as_bytes(first[i] + rest[i]) == alone(CONFIGS[i])


def test_a_replaced_run_restarts_while_the_others_go_on():
    ls = Lockstep()
    ls.add(1, CONFIGS[1])
    ls.add(2, CONFIGS[2])
    train_together(ls, until=64)
    ls.replace(2, CONFIGS[3], new_id=5)
    assert ls.ids == [1, 5] and ls.steps == {1: 64, 5: 0}
    blocks = ls.step_all(BLOCK)
    assert ls.steps == {1: 80, 5: 16} and set(blocks) == {1, 5}
    # With align, the run ahead waits until the new one has caught up.
    for _ in range(10):
        ls.step_all(BLOCK, align=True)
    # 4 turns for run 5 to reach 80 alone, then 6 turns together.
    assert ls.steps == {1: 80 + 6 * BLOCK, 5: 80 + 6 * BLOCK}
    got = train_together(ls)
    assert ls.steps == {1: STEPS, 5: STEPS} and got[5]
    with pytest.raises(LockstepError, match="already training"):
        ls.replace(1, CONFIGS[1], new_id=5)


def test_align_lets_a_late_run_catch_up_and_then_keeps_them_together():
    ls = Lockstep()
    ls.add(1, CONFIGS[2])
    ls.step_all(BLOCK)
    ls.step_all(BLOCK)
    ls.add(2, CONFIGS[2])
    ls.step_all(BLOCK, align=True)
    assert ls.steps == {1: 32, 2: 16}  # run 1 waited
    ls.step_all(BLOCK, align=True)
    assert ls.steps == {1: 32, 2: 32}
    ls.step_all(BLOCK, align=True)
    assert ls.steps == {1: 48, 2: 48}


def test_a_nonfinite_run_stops_and_the_others_go_on():
    ls = Lockstep()
    bad = get_preset("exploding").config.replace(device="cpu", steps=STEPS)
    ls.add(1, bad)
    ls.add(2, CONFIGS[2])
    got = train_together(ls)
    assert ls.status(1) == NONFINITE and ls.status(2) == FINISHED
    last = got[1][-1]
    assert last.first_nonfinite(ls.trainer(1).n_layers) == ls.steps[1] < STEPS
    assert ls.steps[2] == STEPS


def test_a_run_that_raises_is_marked_failed_and_the_others_go_on():
    class Broken(Trainer):
        def run_block(self, k, abort=None):
            if self.step_count >= 32:
                raise RuntimeError("out of memory")
            return super().run_block(k, abort)

    ls = Lockstep(make_trainer=lambda c: (Broken if c.seed == 7 else Trainer)(c))
    ls.add(1, CONFIGS[2].replace(seed=7))
    ls.add(2, CONFIGS[2])
    train_together(ls)
    assert ls.status(1) == FAILED and ls.status(2) == FINISHED
    assert "step 33: out of memory" in ls.failure(1).message
    assert "RuntimeError" in ls.failure(1).details


def test_max_steps_blocks_larger_than_a_trainer_block_and_errors():
    ls = Lockstep(max_runs=2)
    ls.add(1, CONFIGS[2])
    ls.set_max_steps(1, 150)
    block = ls.step_all(100)[1]  # more than the trainer's own block limit
    assert list(block.steps) == list(range(1, 101))
    ls.step_all(100)
    assert ls.steps == {1: 150} and ls.status(1) == FINISHED and ls.step_all(10) == {}
    with pytest.raises(LockstepError, match="already training"):
        ls.add(1, CONFIGS[1])
    ls.add(2, CONFIGS[1])
    with pytest.raises(LockstepError, match="at most 2"):
        ls.add(3, CONFIGS[1])
    with pytest.raises(LockstepError, match="no run 9"):
        ls.remove(9)
    assert ls.status(2) == RUNNING


def test_threads_follow_the_widest_run_and_each_run_trains_with_its_own():
    seen: dict[int, int] = {}

    class Counting(Trainer):
        def run_block(self, k, abort=None):
            seen[self.config.seed] = torch.get_num_threads()
            return super().run_block(k, abort)

    before = torch.get_num_threads()
    try:
        # Built narrow (cheap); the lockstep reads the config it was asked for.
        ls = Lockstep(make_trainer=lambda c: Counting(c.replace(width=8)))
        narrow = Config(width=16, depth=2, device="cpu", seed=1)
        wide = Config(width=512, depth=2, device="cpu", seed=2)
        ls.add(1, narrow)
        assert torch.get_num_threads() == trainer_mod.threads_for(narrow) == 1
        ls.add(2, wide)
        assert torch.get_num_threads() == trainer_mod.threads_for(wide)
        ls.step_all(4)
        assert seen == {1: 1, 2: trainer_mod.threads_for(wide)}
        assert torch.get_num_threads() == trainer_mod.threads_for(wide)
        ls.remove(2)
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)


def test_data_sample_is_for_2d_sets_only():
    tr = Trainer(CONFIGS[2])
    sample = data_sample(tr, max_points=50)
    assert sample is not None and sample.points.shape == (50, 2)
    x0, x1, y0, y1 = sample.extent
    assert x0 < tr.data.x_train[:, 0].min() and x1 > tr.data.x_train[:, 0].max()
    assert y0 < tr.data.x_train[:, 1].min() and y1 > tr.data.x_train[:, 1].max()
    digits = Trainer(Config(dataset="digits", depth=1, width=4, device="cpu"))
    assert data_sample(digits) is None


def test_quick_runs_leave_a_core_to_the_window_slow_ones_keep_every_thread(monkeypatch):
    """Next to a window drawing at full rate, torch's second thread stalls the first: a
    10 x 256 net trained at 6 steps/s on 2 threads, 67 on 1. The records do not change."""
    import torch

    from vgrad_gui.core import lockstep as lockstep_mod
    from vgrad_gui.core import trainer as trainer_mod

    monkeypatch.setattr(trainer_mod, "_DEFAULT_THREADS", 2)
    threads: list[int] = []
    original = Lockstep._train

    def counting(tr, n, abort=None):
        threads.append(torch.get_num_threads())
        return original(tr, n, abort)

    monkeypatch.setattr(Lockstep, "_train", staticmethod(counting))
    wide = Config(depth=2, width=256, steps=1000)
    for gui_cores, step_s, expected in ((1, 0.001, [2, 1, 1]), (0, 0.001, [2, 2, 2]),
                                        (1, 0.2, [2, 2, 2])):
        threads.clear()
        ls = Lockstep(gui_cores=gui_cores, cpus=2)
        ls.add(1, wide)
        for _ in range(3):
            ls.step_all(2)
            ls._slots[1].step_s = step_s  # as if its steps took this long
        assert threads == expected, (gui_cores, step_s)
    assert lockstep_mod.BUSY_STEP_S < 0.2
