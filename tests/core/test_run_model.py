import subprocess
import sys

import numpy as np
import pytest

from vgrad_gui.core.datasets import make_dataset
from vgrad_gui.core.records import RecordBlock, row_width
from vgrad_gui.core.run import (
    DATASET_SHAPES,
    MAX_EVENTS,
    MAX_POINTS,
    MAX_SNAPSHOTS,
    NONFINITE,
    SETTING,
    DataSample,
    Event,
    Run,
    RunError,
)
from vgrad_gui.core.spec import DATASETS, Config


def names(depth: int) -> list[str]:
    return [f"hidden {i + 1}" for i in range(depth)] + ["output"]


def block(first: int, k: int, n_layers: int, value: float = 0.5,
          bad_at: int | None = None) -> RecordBlock:
    steps = np.arange(first, first + k, dtype=np.int64)
    rows = np.full((k, row_width("steps", n_layers)), value)
    if bad_at is not None:
        rows[bad_at - first, 0] = np.nan
    return RecordBlock(steps, rows, np.empty(0, np.int64),
                       np.empty((0, row_width("probes", n_layers))), np.empty(0, np.int64),
                       np.empty((0, 2)))


def small_run(**kw) -> Run:
    return Run.from_config(Config(depth=2, width=4), names(2), "saturated", **kw)


def test_dataset_shapes_match_the_generated_data():
    for name in DATASETS:
        d = make_dataset(name, samples=40)
        assert DATASET_SHAPES[name] == (d.input_dim, d.n_classes), name


def test_a_digits_run_keeps_its_true_shape():
    run = Run.from_config(Config(dataset="digits", depth=2, width=4), names(2))
    assert (run.input_dim, run.n_classes, run.is_2d) == (64, 10, False)
    again = Run.from_arrays(run.history, run.to_arrays(), run_id=7, source="a.npz")
    assert (again.input_dim, again.n_classes, again.run_id, again.source) == (64, 10, 7, "a.npz")
    assert again.config is not None and again.config.dataset == "digits"


def test_shape_comes_from_history_and_append_tracks_steps_and_version():
    run = small_run(run_id=3, label="A")
    assert run.layer_names == names(2) and run.n_layers == 3
    assert run.inactive_kind == "saturated"
    assert run.step == 0 and run.first_step == 0
    v = run.version
    run.append(block(1, 10, 3))
    assert run.step == 10 and run.first_step == 1 and run.version > v
    assert run.events == []


def test_first_nonfinite_step_becomes_one_event():
    run = small_run()
    run.append(block(1, 5, 3))
    run.append(block(6, 5, 3, bad_at=8))
    run.append(block(11, 2, 3, bad_at=11))
    ev = run.events_between(0, 100, NONFINITE)
    assert [e.step for e in ev] == [8]


def test_events_sorted_filtered_and_bounded():
    run = small_run()
    run.note_setting(50, "lr", 0.1, 0.01)
    run.add_event(Event(20, SETTING, "optimizer sgd -> adam", "optimizer"))
    assert [e.step for e in run.events] == [20, 50]
    assert run.events_between(21, 50)[0].text == "lr 0.1 -> 0.01"
    assert run.events_between(0, 19) == []
    # A diagnosis is recorded only when its kind changes.
    assert run.note_diagnosis(60, "vanishing", "hidden 1 gets 10^-7")
    assert not run.note_diagnosis(70, "vanishing", "hidden 1 gets 10^-8")
    assert run.note_diagnosis(80, "healthy", "healthy")
    for i in range(MAX_EVENTS + 10):
        run.note_diagnosis(100 + i, "a" if i % 2 else "b", "flip")
    assert len(run.events) == MAX_EVENTS
    # Setting changes outlive the flood of diagnosis changes.
    assert len(run.events_between(0, 10**9, SETTING)) == 2
    with pytest.raises(RunError, match="event kind"):
        run.add_event(Event(1, "bogus", "x"))


def snap(side: int = 4, cls: int = 0) -> tuple[np.ndarray, np.ndarray]:
    return np.full((side, side), cls, np.uint8), np.full((side, side), 0.5, np.float32)


def test_boundary_at_gives_the_nearest_snapshot_at_or_before_a_step():
    run = small_run()
    assert run.boundary_at(10) is None
    for s in (1, 5, 40):
        run.add_boundary(s, *snap(cls=s % 3))
    assert run.boundary_at(0) is None
    assert run.boundary_at(1).step == 1
    assert run.boundary_at(39).step == 5
    assert run.boundary_at(10**6).step == 40
    with pytest.raises(RunError, match="older than the latest"):
        run.add_boundary(3, *snap())


def test_boundary_snapshots_are_log_spaced_bounded_and_keep_the_last():
    run = small_run()
    for s in range(1, 200_001, 50):
        run.add_boundary(s, *snap())
    run.add_boundary(200_007, *snap())
    kept = [s.step for s in run.boundaries.all()]
    assert len(kept) <= MAX_SNAPSHOTS
    assert kept[0] == 1 and kept[-1] == 200_007
    # Log-spaced: as many snapshots in the first 1% of the run as in the last half, roughly.
    early = sum(1 for s in kept if s <= 2_000)
    late = sum(1 for s in kept if s > 100_000)
    assert early >= late >= 2
    # Far beyond a real run's length it stays bounded.
    for s in (2**e for e in range(18, 60)):
        run.add_boundary(s, *snap())
    assert len(run.boundaries.all()) <= MAX_SNAPSHOTS


def test_bad_boundary_and_data_are_refused_with_the_name():
    run = small_run()
    with pytest.raises(RunError, match="run_boundary_confidence"):
        run.add_boundary(1, np.zeros((4, 4), np.uint8), np.zeros((4, 5)))
    with pytest.raises(RunError, match="run_boundary_classes"):
        run.add_boundary(1, np.zeros((400, 400), np.uint8), np.zeros((400, 400)))
    with pytest.raises(RunError, match="run_labels"):
        DataSample(np.zeros((5, 2)), np.zeros(4), (0, 1, 0, 1))
    with pytest.raises(RunError, match="extent"):
        DataSample(np.zeros((5, 2)), np.zeros(5), (0, 0, 0, 1))
    digits = Run.from_config(Config(dataset="digits", depth=2, width=4), names(2))
    with pytest.raises(RunError, match="2-D"):
        digits.set_data(DataSample(np.zeros((5, 2)), np.zeros(5), (0, 1, 0, 1)))


def test_data_sample_is_bounded():
    d = DataSample(np.zeros((MAX_POINTS + 50, 2)), np.zeros(MAX_POINTS + 50), (0, 1, 0, 1))
    assert len(d.points) == MAX_POINTS == len(d.labels)


def full_run() -> Run:
    run = small_run(label="ReLU + He init", note="seen in lecture 3")
    rng = np.random.default_rng(0)
    run.set_data(DataSample(rng.normal(size=(30, 2)), rng.integers(0, 2, 30), (-2, 2, -3, 3)))
    run.append(block(1, 30, 3))
    for s in (1, 10, 30):
        run.add_boundary(s, rng.integers(0, 2, (8, 8)).astype(np.uint8),
                         rng.random((8, 8)).astype(np.float32))
    run.note_setting(12, "lr", 0.1, 0.05)
    run.note_diagnosis(20, "healthy", "healthy: every layer ...")
    return run


def test_arrays_round_trip():
    run = full_run()
    arrays = run.to_arrays()
    assert all(k.startswith("run_") for k in arrays)
    again = Run.from_arrays(run.history, arrays, run_id=2, source="x.npz")
    assert again.label == run.label and again.note == run.note
    assert again.events == run.events
    assert np.array_equal(again.data.points, run.data.points)
    assert again.data.extent == run.data.extent
    a, b = run.boundaries.all(), again.boundaries.all()
    assert [s.step for s in a] == [s.step for s in b]
    assert all(np.array_equal(x.classes, y.classes) and np.array_equal(x.confidence,
                                                                        y.confidence)
               for x, y in zip(a, b, strict=True))
    assert again.version == 0


def test_arrays_survive_an_npz_file_without_pickle(tmp_path):
    run = full_run()
    path = tmp_path / "r.npz"
    np.savez(path, **run.to_arrays())
    with np.load(path, allow_pickle=False) as f:
        again = Run.from_arrays(run.history, dict(f))
    assert again.events == run.events


def test_from_arrays_refuses_a_shape_that_contradicts_the_config():
    run = Run.from_config(Config(dataset="digits", depth=2, width=4), names(2))
    arrays = small_run().to_arrays()  # a moons run's 2 inputs, 2 classes
    with pytest.raises(RunError, match="do not match the config's data set digits"):
        Run.from_arrays(run.history, arrays)


def test_runs_compare_by_identity():
    a, b = small_run(), small_run()
    assert a != b and a == a and [a, b].index(b) == 1


def test_older_files_without_run_arrays_take_the_shape_from_the_config():
    run = Run.from_config(Config(dataset="blobs", depth=2, width=4), names(2))
    again = Run.from_arrays(run.history, {}, source="old.npz")
    assert (again.input_dim, again.n_classes, again.data) == (2, 3, None)


@pytest.mark.parametrize("key, value, words", [
    ("run_meta", np.array("{not json"), "run_meta: not valid JSON"),
    ("run_meta", np.array(3.0), "run_meta: must be a 0-d text"),
    ("run_points", np.zeros((5, 3), np.float32), "run_points"),
    ("run_points", np.full((30, 2), np.nan, np.float32), "run_points"),
    ("run_labels", np.zeros(3, np.int64), "run_labels"),
    ("run_labels", np.zeros(30, np.float32), "run_labels"),
    ("run_boundary_step", np.array([1, 1, 2]), "run_boundary_step"),
    ("run_boundary_step", np.array([1, 2]), "run_boundary_classes"),
    ("run_boundary_classes", np.zeros((3, 8, 8), np.float32), "run_boundary_classes"),
    ("run_boundary_confidence", np.zeros((3, 8, 9), np.float32), "run_boundary_confidence"),
    ("run_boundary_step", np.arange(MAX_SNAPSHOTS + 1), "at most"),
])
def test_from_arrays_names_the_bad_array(key, value, words):
    run = full_run()
    arrays = run.to_arrays()
    arrays[key] = value
    with pytest.raises(RunError, match=words):
        Run.from_arrays(run.history, arrays)


@pytest.mark.parametrize("meta, words", [
    ('{"run_format_version": 9}', "run_format_version"),
    ('{"run_format_version": 1, "input_dim": 0, "n_classes": 2}', "input_dim"),
    ('{"run_format_version": 1, "input_dim": 2, "n_classes": true}', "n_classes"),
    ('{"run_format_version": 1, "input_dim": 2, "n_classes": 2, "events": [[1, "x", "", ""]]}',
     r"events\[0\]"),
    ('[1]', "JSON object"),
])
def test_from_arrays_names_the_bad_meta_field(meta, words):
    run = small_run()
    with pytest.raises(RunError, match=words):
        Run.from_arrays(run.history, {"run_meta": np.array(meta)})


def test_run_module_imports_neither_torch_nor_qt():
    code = ("import sys, vgrad_gui.core.run, vgrad_gui.core.workspace, vgrad_gui.core.compare; "
            "bad = [m for m in sys.modules if m.split('.')[0] in "
            "('torch', 'PySide6', 'pyqtgraph')]; print(bad); assert not bad")
    subprocess.run([sys.executable, "-c", code], check=True)
