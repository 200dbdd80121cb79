import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vgrad_gui.core.history import AlignedBins, RunHistory, Series
from vgrad_gui.core.spec import Config
from vgrad_gui.core.trainer import Trainer


def fill(series: Series, n: int, width: int, chunk: int = 7, start: int = 1) -> np.ndarray:
    rows = np.random.default_rng(0).lognormal(size=(n, width)).astype(np.float32)
    for i in range(0, n, chunk):
        steps = np.arange(start + i, start + min(i + chunk, n))
        series.extend(steps, rows[i : i + len(steps)])
    return rows


def test_short_runs_stay_at_full_resolution():
    s = Series(3, raw_keep=100, raw_chunk=20, coarse_capacity=8)
    rows = fill(s, 100, 3)
    steps, raw = s.raw()
    assert not s.decimated
    assert np.array_equal(steps, np.arange(1, 101))
    assert np.array_equal(raw, rows)


@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 3000), chunk=st.integers(1, 300))
def test_buckets_keep_exact_min_max_mean_and_cover_every_step(n, chunk):
    s = Series(2, raw_keep=64, raw_chunk=16, coarse_capacity=8)
    rows = fill(s, n, 2, chunk)
    rec = s.records()
    assert rec["count"].sum() == n
    assert len(s) <= 8 + 1 + 64 + 16  # bounded whatever n
    # Records tile the steps 1..n without gaps or overlaps.
    assert rec["first"][0] == 1 and rec["last"][-1] == n
    assert np.array_equal(rec["first"][1:], rec["last"][:-1] + 1)
    for first, last, mean, mn, mx in zip(rec["first"], rec["last"], rec["mean"], rec["min"],
                                         rec["max"], strict=False):
        block = rows[first - 1 : last]
        np.testing.assert_allclose(mean, block.mean(0), rtol=1e-5)
        assert np.array_equal(mn, block.min(0)) and np.array_equal(mx, block.max(0))


def test_a_one_step_spike_survives_decimation():
    s = Series(1, raw_keep=100, raw_chunk=50, coarse_capacity=16)
    rows = np.ones((100_000, 1), np.float32)
    rows[12_345] = 1e6
    s.extend(np.arange(1, 100_001), rows)
    rec = s.records()
    assert rec["max"].max() == 1e6
    holder = np.flatnonzero(rec["max"][:, 0] == 1e6)[0]
    assert rec["first"][holder] <= 12_346 <= rec["last"][holder]
    binned = AlignedBins(s, slice(0, 1)).get(50)
    assert binned.max.max() == 1e6


def test_nan_and_inf_propagate_into_buckets():
    s = Series(2, raw_keep=10, raw_chunk=10, coarse_capacity=4)
    rows = np.ones((200, 2), np.float32)
    rows[5, 0] = np.nan
    rows[7, 1] = np.inf
    s.extend(np.arange(1, 201), rows)
    rec = s.records()
    assert np.isnan(rec["mean"][0, 0]) and np.isnan(rec["max"][0, 0])
    assert np.isinf(rec["max"][0, 1])


def test_memory_at_a_million_steps_is_within_a_few_mb_of_ten_thousand():
    def after(n: int) -> int:
        s = Series(104)
        block = np.ones((5000, 104), np.float32)
        for i in range(0, n, 5000):
            s.extend(np.arange(i + 1, i + 5001), block)
        return s.nbytes()

    small, large = after(10_000), after(1_000_000)
    assert large - small < 4 * 2**20
    assert large < 10 * 2**20


def test_run_history_appends_training_blocks_and_tracks_nonfinite():
    cfg = Config(depth=10, width=32, activation="relu", init="large_normal", lr=0.01)
    trainer = Trainer(cfg)
    history = RunHistory(cfg, trainer.layer_names, "dead")
    history.append(trainer.run_block(10))
    # The block ends at the first non-finite step: nothing after NaN weights is recorded.
    assert history.first_nonfinite_step is not None
    assert history.step == history.first_nonfinite_step < 10
    assert trainer.step_count == history.step
    assert history.latest("steps", "grad_norm").shape == (11,)
    assert len(history.probes) == 1  # step 1 measures the heavier statistics
    assert len(history.evals) == 1


def test_cols_names_channels():
    history = RunHistory(Config(depth=3), ["hidden 1", "hidden 2", "hidden 3", "output"])
    assert history.cols("steps", "grad_norm") == slice(0, 4)
    assert history.cols("steps", "loss") == slice(8, 9)
    assert history.cols("probes", "update_ratio") == slice(9, 13)
    with pytest.raises(KeyError):
        history.cols("steps", "nope")


def brute_bins(rows: np.ndarray, width: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    n = len(rows)
    edges = range(0, n, width)
    mean = np.array([rows[e : e + width].mean(0) for e in edges])
    mx = np.array([rows[e : e + width].max(0) for e in edges])
    x = np.array([np.arange(e + 1, min(e + width, n) + 1).mean() for e in edges])
    return x, mean, mx


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 5000), chunks=st.lists(st.integers(1, 400), min_size=1, max_size=30),
       max_bins=st.integers(4, 300))
def test_aligned_bins_built_incrementally_equal_brute_force(n, chunks, max_bins):
    s = Series(2, raw_keep=1_000_000, raw_chunk=16, coarse_capacity=8)  # all rows stay raw
    rows = np.random.default_rng(n).lognormal(size=(n, 2)).astype(np.float32)
    bins = AlignedBins(s, slice(0, 2))
    i = 0
    while i < n:
        for c in chunks:
            if i >= n:
                break
            j = min(n, i + c)
            s.extend(np.arange(i + 1, j + 1), rows[i:j])
            i = j
            got = bins.get(max_bins)  # called as a view would, once per "frame"
    width = bins.width
    assert -(-n // width) <= max_bins and (width == 1 or -(-n // (width // 2)) > max_bins)
    x, mean, mx = brute_bins(rows, width)
    np.testing.assert_allclose(got.x, x)
    np.testing.assert_allclose(got.mean, mean, rtol=1e-5)
    assert np.array_equal(got.max, mx)


def test_aligned_bins_cost_stays_flat_and_spans_buckets():
    s = Series(3, raw_keep=2000, raw_chunk=500, coarse_capacity=64)
    bins = AlignedBins(s, slice(0, 3))
    rows = np.ones((100, 3), np.float32)
    for i in range(0, 200_000, 100):
        s.extend(np.arange(i + 1, i + 101), rows * (1 + (i // 100) % 7))
        got = bins.get(1000)
    assert len(got.x) <= 1000 and got.x[-1] > 199_000
    assert np.isclose(got.max.max(), 7)


def test_record_at_and_first_step_agree_with_the_copied_table():
    """The binary-search reads the timeline uses give what ``records`` gives, with full
    buckets, a partly filled bucket and raw rows all present."""
    import numpy as np

    from vgrad_gui.core.history import Series

    rng = np.random.default_rng(3)
    for n in (0, 5, 300, 5_000, 40_001):
        s = Series(3, raw_keep=200, raw_chunk=64)
        steps = np.arange(1, n + 1)
        if n:
            s.extend(steps, rng.random((n, 3)))
        rec = s.records()
        assert s.first_step == (int(rec["first"][0]) if n else None)
        for step in (0, 1, 2, 7, n // 3, n // 2, max(n - 150, 0), n - 1, n, n + 10):
            i = int(np.searchsorted(rec["last"], step, side="right")) - 1
            got = s.record_at(step, slice(0, 3))
            if i < 0:
                assert got is None
                continue
            assert got is not None and got[0] == int(rec["last"][i])
            np.testing.assert_array_equal(got[1], rec["mean"][i])


@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 3000), chunk=st.integers(1, 300), covering=st.integers(1, 4000))
def test_the_oldest_records_covering_n_steps_are_the_start_of_every_record(n, chunk, covering):
    """``records(covering=k)``: the banner's "first 50 steps" without copying the whole
    table, the same records as the start of ``records()``, covering k steps where the run
    has them."""
    s = Series(2, raw_keep=64, raw_chunk=16, coarse_capacity=8)
    fill(s, n, 2, chunk)
    every, head = s.records(slice(1, 2)), s.records(slice(1, 2), covering=covering)
    m = len(head["last"])
    assert m >= 1
    for key, values in head.items():
        assert np.array_equal(values, every[key][:m])
    assert head["count"].sum() >= min(covering, n)
