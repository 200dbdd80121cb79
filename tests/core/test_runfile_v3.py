"""Run files, format version 3: a Run's shape, data sample, boundary snapshots, events, note
and label come back; a comparison of up to four runs lives in one file; older files open as one
run; hostile comparison files are refused, before any run's data is read, with one line naming
the member."""

from __future__ import annotations

import json
import os
import tracemalloc
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.core.runfile_kit import (
    check_semantics,
    entries_of,
    members,
    npy_bytes,
    patch_member,
    synthetic_history,
    write_members,
    zip_bytes,
)
from vgrad_gui.core import runfile
from vgrad_gui.core.run import DIAGNOSIS, NONFINITE, SETTING, DataSample, Event, Run
from vgrad_gui.core.runfile import (
    FORMAT_VERSION,
    MAX_MEMBERS,
    MAX_RUNS,
    RunFileError,
    load_run,
    load_runs,
    runs_arrays,
    save_run,
    save_runs,
)
from vgrad_gui.core.spec import Config

DATA = Path(__file__).resolve().parents[1] / "data"
# Written by the format-version-2 code (commit 743d185): a digits run, depth 3, 500 steps,
# the first layer's norm NaN from step 480.
V2_DIGITS = DATA / "run_v2_digits.npz"


def two_d_run(depth: int = 2, n_steps: int = 300, label: str = "A", seed: int = 0) -> Run:
    """A moons run with everything a Run can carry beyond its history."""
    run = Run.from_history(synthetic_history(depth=depth, n_steps=n_steps, seed=seed),
                           label=label, note=f"note of {label}\nsecond line")
    rng = np.random.default_rng(seed)
    run.set_data(DataSample(rng.normal(size=(50, 2)), rng.integers(0, 2, 50),
                            (-2.0, 2.5, -1.5, 1.0)))
    for step in sorted({s for s in (1, 3, 10, 100, n_steps) if s <= n_steps}):
        classes = rng.integers(0, 2, (8, 8))
        run.add_boundary(step, classes, rng.uniform(0.5, 1.0, (8, 8)))
    run.note_setting(50, "lr", 0.1, 0.01)
    run.note_diagnosis(120, "vanishing", "vanishing: hidden layer 1 gets 1e-6 of the output's")
    return run


def digits_history(n_steps: int = 30) -> Run:
    history = synthetic_history(depth=2, n_steps=n_steps)
    history.config = Config(depth=2, width=4, dataset="digits", steps=n_steps)
    return Run.from_history(history, label="digits")


def refused(path: Path, *fragments: str, loader=load_runs) -> str:
    with pytest.raises(RunFileError) as err:
        loader(path)
    message = str(err.value)
    assert "\n" not in message and message.startswith(str(path)), message
    for fragment in fragments:
        assert fragment in message, message
    return message


def assert_same_history(a, b) -> None:
    assert a.config == b.config and a.layer_names == b.layer_names
    assert a.first_nonfinite_step == b.first_nonfinite_step
    for table in ("steps", "probes", "evals"):
        ra, rb = a.table(table).records(), b.table(table).records()
        for key in ra:
            np.testing.assert_array_equal(ra[key].astype(np.float32),
                                          rb[key].astype(np.float32), err_msg=f"{table}.{key}")


def assert_same_run(a: Run, b: Run) -> None:
    assert_same_history(a.history, b.history)
    assert (a.label, a.note, a.input_dim, a.n_classes) == (b.label, b.note, b.input_dim,
                                                          b.n_classes)
    assert a.events == b.events
    assert (a.data is None) == (b.data is None)
    if a.data is not None and b.data is not None:
        np.testing.assert_array_equal(a.data.points, b.data.points)
        np.testing.assert_array_equal(a.data.labels, b.data.labels)
        assert a.data.extent == b.data.extent
    sa, sb = a.boundaries.all(), b.boundaries.all()
    assert [s.step for s in sa] == [s.step for s in sb]
    for x, y in zip(sa, sb, strict=True):
        np.testing.assert_array_equal(x.classes, y.classes)
        np.testing.assert_array_equal(x.confidence, y.confidence)


@pytest.fixture(scope="module")
def trio() -> list[Run]:
    return [two_d_run(depth=2, label="A", seed=1), two_d_run(depth=3, label="B", seed=2),
            two_d_run(depth=1, n_steps=120, label="C", seed=3)]


@pytest.fixture()
def trio_file(trio, tmp_path) -> Path:
    return save_runs(trio, tmp_path / "trio.npz", compress=False)


# -- one run --------------------------------------------------------------------------------

def test_a_digits_run_reopens_with_its_true_shape(tmp_path):
    path = save_runs([digits_history()], tmp_path / "digits.npz")
    (back,) = load_runs(path)
    assert (back.input_dim, back.n_classes, back.label) == (64, 10, "digits")
    assert (back.run_id, back.source, back.is_2d) == (0, str(path), False)
    arrays = members(path)
    meta = json.loads(str(arrays["meta"]))
    assert meta["format_version"] == FORMAT_VERSION == 3 and meta["runs"] == 1
    assert json.loads(str(arrays["run_meta"]))["input_dim"] == 64
    assert load_run(path).config.dataset == "digits"


def test_a_2d_run_round_trips_everything_it_carries(tmp_path):
    run = two_d_run()
    path = save_runs([run], tmp_path / "one.npz")
    (back,) = load_runs(path)
    assert_same_run(run, back)
    assert back.note == "note of A\nsecond line" and back.version == 0
    assert [e.kind for e in back.events] == [SETTING, DIAGNOSIS]
    assert [s.step for s in back.boundaries.all()] == [1, 3, 10, 100, 300]
    assert back.boundary_at(50) is not None and back.boundary_at(50).step == 10
    # The top-level layout stays what plain numpy and older tools read.
    arrays = members(path)
    assert arrays["grad_norm"].shape == (300, 3) and arrays["run_points"].shape == (50, 2)


def test_save_run_writes_a_version_3_file_that_load_runs_opens(tmp_path):
    history = synthetic_history(depth=2, n_steps=40)
    path = save_run(history, tmp_path / "h.npz")
    (back,) = load_runs(path)
    assert_same_history(history, back.history)
    assert (back.input_dim, back.n_classes, back.label, back.events) == (2, 2, "", [])


def test_a_diverged_run_keeps_its_nonfinite_event(tmp_path):
    run = Run.from_history(synthetic_history(depth=2, n_steps=0), label="nan")
    block_rows = np.ones((20, run.history.steps.width), np.float32)
    block_rows[12, 0] = np.inf
    run.history.extend("steps", np.arange(1, 21), block_rows)
    run.add_event(Event(13, NONFINITE, "gradients or loss became NaN/Inf at step 13"))
    (back,) = load_runs(save_runs([run], tmp_path / "nan.npz"))
    assert back.history.first_nonfinite_step == 13
    assert back.events_between(13, 13, NONFINITE)


# -- several runs ---------------------------------------------------------------------------

def test_a_comparison_of_three_runs_round_trips(trio, trio_file):
    back = load_runs(trio_file)
    assert [r.label for r in back] == ["A", "B", "C"]
    assert [r.run_id for r in back] == [0, 1, 2]
    assert {r.source for r in back} == {str(trio_file)}
    for a, b in zip(trio, back, strict=True):
        assert_same_run(a, b)
    arrays = members(trio_file)
    top = json.loads(str(arrays["meta"]))
    assert (top["runs"], top["labels"], top["format_version"]) == (3, ["A", "B", "C"], 3)
    assert "config" not in top and "step" not in arrays
    assert arrays["r1/grad_norm"].shape == (300, 4) and arrays["r2/step"][-1] == 120
    assert "runs" not in json.loads(str(arrays["r0/meta"]))


def test_load_run_refuses_a_comparison_and_names_load_runs(trio_file):
    refused(trio_file, "holds 3 runs", "use load_runs", loader=load_run)


def test_a_full_comparison_fits_the_member_limit(tmp_path):
    # Four decimated runs with every optional member: the most members a run file has.
    run = two_d_run(depth=2, n_steps=13_000)
    run.history = synthetic_history(depth=2, n_steps=13_000, stats_every=10)
    assert all(run.history.table(t).decimated for t in ("steps", "probes", "evals"))
    arrays = runs_arrays([run] * MAX_RUNS)
    assert len(arrays) <= MAX_MEMBERS
    back = load_runs(runfile.write_arrays(arrays, tmp_path / "full.npz", compress=False))
    assert len(back) == MAX_RUNS
    assert_same_run(run, back[3])


@pytest.mark.parametrize("n", [0, MAX_RUNS + 1])
def test_save_runs_takes_one_to_four_runs(tmp_path, n):
    with pytest.raises(ValueError, match="1 to 4 runs"):
        save_runs([two_d_run()] * n, tmp_path / "x.npz")
    assert not list(tmp_path.iterdir())


def test_a_failed_write_keeps_the_old_file(trio, tmp_path, monkeypatch):
    path = save_runs(trio[:1], tmp_path / "keep.npz")
    before = path.read_bytes()

    def full_disk(fh, **arrays):
        fh.write(b"PK\x03\x04 half a file")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(runfile.np, "savez_compressed", full_disk)
    with pytest.raises(OSError):
        save_runs(trio, path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["keep.npz"]


# -- older files ----------------------------------------------------------------------------

@pytest.mark.parametrize(("name", "shape"), [("run_v1.npz", (2, 2)),
                                             ("run_v1_depth1_decimated.npz", (2, 2)),
                                             ("run_v2_digits.npz", (64, 10))])
def test_version_1_and_2_files_open_as_one_run_shaped_by_their_config(name, shape):
    path = DATA / name
    (run,) = load_runs(path)
    assert (run.input_dim, run.n_classes) == shape
    assert (run.run_id, run.source, run.label, run.data) == (0, str(path), "", None)
    assert_same_history(run.history, load_run(path))
    nonfinite = run.history.first_nonfinite_step
    assert [e.step for e in run.events if e.kind == NONFINITE] == (
        [nonfinite] if nonfinite is not None else [])


def test_the_version_2_fixture_is_what_it_claims():
    meta = json.loads(str(members(V2_DIGITS)["meta"]))
    assert meta["format_version"] == 2 and "runs" not in meta
    history = load_run(V2_DIGITS)
    assert history.config.dataset == "digits" and history.first_nonfinite_step == 480
    assert not np.isnan(history.steps.records()["mean"][:, 4]).any()  # signal channels exist


def test_run_members_in_an_older_file_are_never_read(tmp_path):
    # Version 2 had no run_* arrays: any there are ignored, as every unknown member is, even
    # one whose declared size no run could hold.
    arrays = {**members(V2_DIGITS), "run_meta": np.array("{not json")}
    path = write_members(tmp_path / "v2.npz", arrays)
    path.write_bytes(patch_member(path.read_bytes(), "run_meta.npy", file_size=0xFFFF_FFF0))
    (run,) = load_runs(path)
    assert run.input_dim == 64


# -- hostile comparison files ---------------------------------------------------------------

def _edit(src: Path, out: Path, drop=(), **replace: np.ndarray | bytes) -> Path:
    """``src``'s members with some dropped or replaced (keys as in the archive, no .npy)."""
    entries = {name[:-4]: data for name, data in entries_of(src)}
    for key in drop:
        del entries[key]
    for key, value in replace.items():
        entries[key.replace("__", "/")] = value if isinstance(value, bytes) else npy_bytes(value)
    out.write_bytes(zip_bytes([(f"{k}.npy", v) for k, v in entries.items()]))
    return out


def _top(path: Path, **changes) -> np.ndarray:
    return np.array(json.dumps({**json.loads(str(members(path)["meta"])), **changes}))


def test_five_runs_are_refused(trio_file, tmp_path):
    entries = {name[:-4]: data for name, data in entries_of(trio_file)}
    for i in (3, 4):  # runs 3 and 4 copy run 0
        entries.update({f"r{i}/{k[3:]}": v for k, v in entries.items() if k.startswith("r0/")})
    labels = ["A", "B", "C", "A", "A"]
    entries["meta"] = npy_bytes(_top(trio_file, runs=5, labels=labels))
    path = tmp_path / "five.npz"
    path.write_bytes(zip_bytes([(f"{k}.npy", v) for k, v in entries.items()]))
    refused(path, "meta.runs is 5; a run file holds 1 to 4 runs")


@pytest.mark.parametrize(("changes", "fragment"), [
    ({"runs": 0}, "meta.runs is 0"),
    ({"runs": True}, "meta.runs is True"),
    ({"runs": "3"}, "meta.runs is '3'"),
    ({"runs": None}, "meta.runs is null"),
    ({"runs": 10**20}, "meta.runs is 100000000000000000000"),
    ({"labels": ["A", "B"]}, "meta.labels must list 3 labels"),
    ({"labels": "ABC"}, "meta.labels must list 3 labels"),
    ({"labels": ["A", "B\n", "C"]}, "meta.labels must list 3 labels"),
    ({"labels": ["A", "X", "C"]}, "meta.labels[1] is 'X', but run r1/ is labelled 'B'"),
    ({"runs": 2, "labels": ["A", "B"]}, "member 'r2/"),
    ({"runs": 4, "labels": ["A", "B", "C", "D"]}, "missing array 'r3/meta'"),
])
def test_a_top_meta_that_does_not_match_the_runs(trio_file, tmp_path, changes, fragment):
    refused(_edit(trio_file, tmp_path / "top.npz", meta=_top(trio_file, **changes)), fragment)


def test_a_run_prefix_missing_its_meta(trio_file, tmp_path):
    refused(_edit(trio_file, tmp_path / "nometa.npz", drop=["r1/meta"]),
            "missing array 'r1/meta'")


def test_run_members_no_run_declares(trio_file, tmp_path):
    stray = npy_bytes(np.zeros(3))
    refused(_edit(trio_file, tmp_path / "r7.npz", r7__step=stray), "member 'r7/step.npy' "
            "belongs to no run: meta.runs declares 3 runs, r0/ to r2/")
    refused(_edit(trio_file, tmp_path / "r01.npz", r01__meta=stray), "member 'r01/meta.npy'")
    one = save_runs([two_d_run()], tmp_path / "one.npz")
    refused(_edit(one, tmp_path / "one_r0.npz", r0__step=stray),
            "member 'r0/step.npy' belongs to no run", "one run, stored without a prefix")


def test_huge_declared_sizes_are_refused_before_any_run_is_read(trio_file, tmp_path):
    data = trio_file.read_bytes()
    # Run 0's loss is damaged too: the refusal names run 1's size, so run 0 was never read.
    at = data.find(b"r0/loss.npy")
    data = data[: at + 200] + bytes([data[at + 200] ^ 0xFF]) + data[at + 201 :]
    path = tmp_path / "huge.npz"
    path.write_bytes(patch_member(data, "r1/grad_norm.npy", file_size=0xFFFF_FFF0))
    tracemalloc.start()
    try:
        refused(path, "array 'r1/grad_norm' declares 4294967280 bytes")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 8 << 20
    crc = tmp_path / "crc.npz"
    crc.write_bytes(data)
    refused(crc, "array 'r0/loss'", "CRC")


def test_the_budget_covers_every_run_before_reading(trio_file):
    with zipfile.ZipFile(trio_file) as zf:
        sizes = {info.filename: info.file_size for info in zf.infolist()}
    metas = sum(size for name, size in sizes.items() if name.endswith("meta.npy"))
    budget = sum(sizes.values()) // 2
    assert metas < budget
    message = refused(trio_file, "memory budget", loader=lambda p: load_runs(p, max_bytes=budget))
    assert "its arrays declare" in message


def _r(key: str) -> str:
    return key.replace("/", "__")


def _runs_problems(trio_file: Path) -> list[tuple[dict, str]]:
    arrays = members(trio_file)
    loss = arrays["r2/loss"].copy()
    loss[3] = -0.5
    r1_meta = json.loads(str(arrays["r1/meta"]))
    labels = arrays["r2/run_labels"].copy()
    labels[0] = 5
    classes = arrays["r0/run_boundary_classes"].copy()
    classes[1, 0, 0] = 3
    conf = arrays["r1/run_boundary_confidence"].copy()
    conf[0, 0, 0] = 1.5
    meta = lambda **c: np.array(json.dumps({**r1_meta, **c}))  # noqa: E731
    return [
        ({_r("r2/loss"): loss}, "array 'r2/loss' holds -0.5"),
        ({_r("r1/meta"): meta(format_version=2)},
         "r1/meta.format_version is 2; every run of a version-3 file is version 3"),
        ({_r("r1/meta"): meta(runs=1)}, "r1/meta.runs must be absent"),
        ({_r("r1/meta"): meta(decimated_records={"steps": -1})},
         "r1/meta.decimated_records.steps is -1"),
        ({_r("r1/meta"): meta(layer_names=["x"])}, "r1/meta.layer_names"),
        ({_r("r1/meta"): meta(config={"depth": 999})}, "r1/meta.config is invalid"),
        ({_r("r1/meta"): meta(first_nonfinite_step=5)}, "r1/meta.first_nonfinite_step is 5"),
        ({_r("r1/meta"): np.array("{oops")}, "'r1/meta' is not valid JSON"),
        ({_r("r1/run_meta"): np.array("{oops")}, "r1/run_meta: not valid JSON"),
        ({_r("r1/run_meta"): np.array("[" * 100 + "]" * 100)}, "array 'r1/run_meta' nests"),
        ({_r("r2/run_labels"): labels}, "array 'r2/run_labels' holds class 5"),
        ({_r("r0/run_boundary_classes"): classes}, "array 'r0/run_boundary_classes' holds "
                                                   "class 3"),
        ({_r("r1/run_boundary_confidence"): conf}, "array 'r1/run_boundary_confidence' holds "
                                                   "values outside 0 to 1"),
        ({_r("r1/run_points"): np.full((50, 2), 1e300)},
         "array 'r1/run_points' holds values that are not finite"),
        ({_r("r1/run_points"): np.zeros((51, 2))}, "array 'r1/run_points' has shape (51, 2)"),
        ({_r("r0/run_boundary_classes"): np.zeros((5, 200, 200), np.uint8)},
         "array 'r0/run_boundary_classes' has shape (5, 200, 200)"),
        ({_r("r0/run_boundary_classes"): np.zeros((4, 8, 8), np.uint8)},
         "array 'r0/run_boundary_classes' has shape (4, 8, 8), expected one grid per step"),
        ({_r("r2/run_boundary_step"): np.array([1, 3, 10, 100, -1])},
         "array 'r2/run_boundary_step' holds -1"),
        ({_r("r2/run_boundary_step"): np.array([1, 3, 3, 100, 120])},
         "r2/run_boundary_step: steps must increase"),
        ({_r("r1/probe_step"): arrays["r1/probe_step"] + 1000}, "array 'r1/probe_step' holds "
                                                                "step 1300"),
    ]


def test_every_problem_of_one_run_names_its_member(trio_file, tmp_path):
    for i, (changes, fragment) in enumerate(_runs_problems(trio_file)):
        path = _edit(trio_file, tmp_path / f"p{i}.npz", **changes)
        try:
            refused(path, fragment)
        except (AssertionError, pytest.fail.Exception) as exc:
            raise AssertionError(f"{fragment}: {exc}") from None
    refused(_edit(trio_file, tmp_path / "norunmeta.npz", drop=["r2/run_meta"]),
            "missing array 'r2/run_meta'")
    refused(_edit(trio_file, tmp_path / "nolabels.npz", drop=["r0/run_labels"]),
            "missing array 'r0/run_labels'")


# -- fuzz -----------------------------------------------------------------------------------

_FUZZ = settings(max_examples=40, deadline=None,
                 suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


_PAIR: dict[str, object] = {}


def _pair(folder: Path) -> tuple[bytes, list[tuple[str, bytes]]]:
    """A small two-run file (made once per session) and its entries."""
    if not _PAIR:
        path = save_runs([two_d_run(depth=1, n_steps=30, label="A"),
                          two_d_run(depth=2, n_steps=20, label="B", seed=5)],
                         folder / "pair.npz", compress=False)
        _PAIR["bytes"], _PAIR["entries"] = path.read_bytes(), entries_of(path)
    return _PAIR["bytes"], _PAIR["entries"]  # type: ignore[return-value]


def _load_checked(path: Path, data: bytes) -> None:
    path.write_bytes(data)
    tracemalloc.start()
    try:
        try:
            runs = load_runs(path)
        except RunFileError as exc:
            assert str(exc).startswith(str(path)) and "\n" not in str(exc), str(exc)
        else:
            assert 1 <= len(runs) <= MAX_RUNS
            for run in runs:
                check_semantics(run.history)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 32 << 20


MEMBER = st.one_of(
    st.binary(max_size=200),
    st.builds(lambda shape, code: npy_bytes(np.zeros(shape, np.dtype(code))),
              st.lists(st.integers(0, 70), max_size=3).map(tuple),
              st.sampled_from(["u1", "<i8", "<f4", "<f8", "<U5", "?"])),
    st.none())


@pytest.mark.timeout(120)
@_FUZZ
@given(data=st.data())
def test_a_damaged_comparison_loads_or_is_refused_in_one_line(tmp_path_factory, data):
    folder = tmp_path_factory.getbasetemp()
    good, entries = _pair(folder)
    names = [name for name, _ in entries]
    target = folder / "damaged.npz"
    if data.draw(st.booleans()):
        edited = dict(entries)
        for name, member in data.draw(st.lists(st.tuples(st.sampled_from(
                [*names, "r2/meta.npy", "r9/step.npy"]), MEMBER), min_size=1, max_size=3)):
            if member is None:
                edited.pop(name, None)
            else:
                edited[name] = member
        _load_checked(target, zip_bytes(list(edited.items()), zipfile.ZIP_DEFLATED))
    else:
        name = data.draw(st.sampled_from(names))
        size = data.draw(st.one_of(st.none(), st.integers(0, 2**32 - 1)))
        flags = data.draw(st.one_of(st.none(), st.sampled_from([1, 8, 0x40, 0x800])))
        _load_checked(target, patch_member(good, name, file_size=size, flags=flags))


def test_nothing_is_left_behind_by_a_save(trio, tmp_path):
    save_runs(trio, tmp_path / "t.npz")
    assert os.listdir(tmp_path) == ["t.npz"]
