"""Run files: the documented layout, exact round trips, version-1 files, and every class of
damaged or impossible file, each refused with one line naming the file and the array."""

import json
import os
import stat
import threading
import tracemalloc
import zipfile
from pathlib import Path

import numpy as np
import pytest

from tests.core.runfile_kit import (
    entries_of,
    members,
    meta_of,
    npy_bytes,
    npy_raw,
    patch_member,
    synthetic_history,
    with_meta,
    write_members,
    zip_bytes,
)
from vgrad_gui.core import history as history_module
from vgrad_gui.core.history import RunHistory, Series
from vgrad_gui.core.records import TABLES
from vgrad_gui.core.runfile import (
    ADDED_IN,
    FORMAT_VERSION,
    RunFileError,
    load_run,
    save_run,
)
from vgrad_gui.core.spec import Config

DATA = Path(__file__).resolve().parents[1] / "data"
# Written by the format-version-1 code (commit 4fb1883): a short depth-3 trained run, and a
# long synthetic depth-1 run with decimated steps and width-1 hidden channels stored as vectors.
V1_SHORT = DATA / "run_v1.npz"
V1_DECIMATED = DATA / "run_v1_depth1_decimated.npz"


@pytest.fixture(scope="module")
def run() -> RunHistory:
    return synthetic_history(depth=4, n_steps=300)


@pytest.fixture()
def good(run, tmp_path) -> Path:
    return save_run(run, tmp_path / "good.npz")


def refused(path, *fragments):
    with pytest.raises(RunFileError) as err:
        load_run(path)
    message = str(err.value)
    assert "\n" not in message and message.startswith(str(path)), message
    for fragment in fragments:
        assert fragment in message, message
    return message


def assert_same_records(a: RunHistory, b: RunHistory, rtol=0.0):
    for table in ("steps", "probes", "evals"):
        ra, rb = a.table(table).records(), b.table(table).records()
        for key in ra:
            np.testing.assert_allclose(ra[key].astype(np.float32), rb[key].astype(np.float32),
                                       rtol=rtol, err_msg=f"{table}.{key}")


# -- layout and round trips -------------------------------------------------------------------

def test_plain_numpy_reads_the_documented_layout(good):
    arrays = members(good)
    assert arrays["grad_norm"].shape == (300, 5)
    assert np.array_equal(arrays["step"], np.arange(1, 301))
    assert arrays["probe_step"].tolist() == [1, 100, 200, 300]
    sizes = {"layers": 5, "hidden": 4}
    prefix = {"steps": 300, "probes": 4, "evals": 4}
    for table, channels in TABLES.items():
        for name, kind in channels:
            # Width kind "one" is a vector; every other channel a matrix, even of width 1.
            expect = (prefix[table],) if kind == "one" else (prefix[table], sizes[kind])
            assert arrays[name].shape == expect, name
            assert arrays[f"{name}_min"].shape == (0, *expect[1:])
    meta = meta_of(arrays)
    assert meta["format_version"] == FORMAT_VERSION == 3 and meta["runs"] == 1
    assert meta["layer_names"][-1] == "output" and len(meta["layer_names"]) == 5


def test_depth_one_stores_per_layer_channels_as_matrices(tmp_path):
    arrays = members(save_run(synthetic_history(depth=1, n_steps=5), tmp_path / "d1.npz"))
    assert arrays["act_mean"].shape == (1, 1) and arrays["loss"].shape == (5,)


def test_round_trip_is_exact(run, good):
    back = load_run(good)
    assert back.config == run.config and back.layer_names == run.layer_names
    assert back.extra == run.extra and back.inactive_kind == run.inactive_kind
    assert_same_records(run, back)


def test_round_trip_of_a_decimated_run(tmp_path):
    history = RunHistory(Config(depth=2, width=4), ["hidden 1", "hidden 2", "output"])
    rows = np.random.default_rng(1).random((30_000, history.steps.width)).astype(np.float32)
    rows[777, 0] = 1e9
    history.extend("steps", np.arange(1, 30_001), rows)
    assert history.steps.decimated
    back = load_run(save_run(history, tmp_path / "long.npz"))
    assert_same_records(history, back, rtol=1e-6)
    assert back.steps.records()["max"][:, 0].max() == pytest.approx(1e9)
    assert back.steps.total_rows == 30_000


def _fill_until_full_with_pending(series: Series) -> int:
    step = series.last_step or 0
    while not (series._n_coarse == series.coarse_capacity and series._pending is not None):
        rows = np.full((4, series.width), step % 7 / 10, np.float32)
        series.extend(np.arange(step + 1, step + 5), rows)
        step += 4
    return step


def test_a_full_history_with_a_partly_filled_bucket_loads_back():
    # records() then holds coarse_capacity + 1 decimated records; the last one is pending.
    small = {"raw_keep": 8, "raw_chunk": 4, "coarse_capacity": 4}
    a = Series(2, **small)
    _fill_until_full_with_pending(a)
    rec = a.records()
    b = Series(2, **small)
    b.load_records(rec["first"], rec["last"], rec["count"], rec["mean"], rec["min"],
                   rec["max"], len(rec["count"]) - a.n_raw)
    for key, value in b.records().items():
        np.testing.assert_array_equal(value, rec[key], err_msg=key)
    more = np.full((40, 2), 7, np.float32)
    a.extend(np.arange(10_001, 10_041), more)
    b.extend(np.arange(10_001, 10_041), more)
    for key, value in b.records().items():
        np.testing.assert_array_equal(value, a.records()[key], err_msg=key)


def test_the_same_through_a_run_file(monkeypatch, tmp_path):
    monkeypatch.setattr(history_module, "SPARSE",
                        {"raw_keep": 8, "raw_chunk": 4, "coarse_capacity": 4})
    history = synthetic_history(depth=2, n_steps=400, stats_every=1)
    _fill_until_full_with_pending(history.probes)
    history.evals = Series(history.evals.width, **history_module.SPARSE)
    history.steps.extend(np.arange(401, history.probes.last_step + 1),
                         np.ones((history.probes.last_step - 400, history.steps.width),
                                 np.float32))
    back = load_run(save_run(history, tmp_path / "full.npz"))
    assert_same_records(history, back)


@pytest.mark.parametrize("preset", ["relu_he", "exploding"])
def test_round_trip_of_real_training(preset, tmp_path):
    # What the probe really records (including NaN and Inf when the run explodes) passes the
    # checks of the reader.
    from vgrad_gui.core.presets import get_preset
    from vgrad_gui.core.trainer import Trainer

    cfg = get_preset(preset).config.replace(steps=101, samples=200)
    if preset != "exploding":
        cfg = cfg.replace(depth=3, width=8)
    trainer = Trainer(cfg)
    history = RunHistory(cfg, trainer.layer_names, trainer.probe.inactive_kind)
    while history.step < cfg.steps and history.first_nonfinite_step is None:
        history.append(trainer.run_block(cfg.steps - history.step))
    back = load_run(save_run(history, tmp_path / "real.npz"))
    assert_same_records(history, back)
    assert back.first_nonfinite_step == history.first_nonfinite_step
    assert (back.first_nonfinite_step is not None) == (preset == "exploding")


def test_save_is_atomic_and_leaves_no_temporary_files(good, tmp_path):
    assert [p.name for p in tmp_path.iterdir()] == ["good.npz"]
    assert zipfile.is_zipfile(good)


@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002])
def test_written_files_honour_the_umask(run, tmp_path, umask):
    old = os.umask(umask)
    try:
        path = save_run(run, tmp_path / "run.npz")
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask


def test_loads_in_parallel_threads(good, run):
    results: list[object] = []

    def load():
        try:
            results.append(load_run(good))
        except Exception as exc:  # collected and asserted below
            results.append(exc)

    threads = [threading.Thread(target=load) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 4
    for back in results:
        assert isinstance(back, RunHistory)
        assert_same_records(run, back)


# -- format version 1 -------------------------------------------------------------------------

def test_every_channel_added_after_version_1_is_listed():
    with np.load(V1_SHORT) as npz:
        in_v1 = set(npz.files)
    for channels in TABLES.values():
        for name, _ in channels:
            assert name in in_v1 or name in ADDED_IN, name
    assert max(ADDED_IN.values(), default=1) <= FORMAT_VERSION


@pytest.mark.parametrize("path", [V1_SHORT, V1_DECIMATED])
def test_version_1_files_open_with_later_channels_as_nan(path):
    assert path.stat().st_size < 50_000
    history = load_run(path)
    arrays = members(path)
    assert meta_of(arrays)["format_version"] == 1
    for table in ("steps", "probes", "evals"):
        rec = history.table(table).records()
        for name, _ in history.layouts[table]:
            mean = rec["mean"][:, history.cols(table, name)]
            if name in ADDED_IN:
                assert np.isnan(mean).all(), name
            else:
                stored = arrays[name].reshape(len(mean), -1)
                np.testing.assert_array_equal(mean.astype(np.float32), stored, err_msg=name)


def test_the_long_version_1_run_keeps_its_spike_and_its_nonfinite_step():
    history = load_run(V1_DECIMATED)
    assert history.config.depth == 1 and history.steps.decimated
    assert history.steps.total_rows == 13_000 and history.step == 13_000
    assert np.nanmax(history.steps.records()["max"][:, 0]) == 64.0
    assert history.first_nonfinite_step == 9001


def test_version_1_vector_storage_is_refused_in_version_2(tmp_path):
    arrays = members(V1_DECIMATED)
    path = write_members(tmp_path / "v2.npz", with_meta(arrays, format_version=2))
    refused(path, "array 'act_mean' has shape (131,), expected (131, 1)")


# -- files that are not run files, or are damaged as a whole -----------------------------------

def test_foreign_and_broken_files(good, tmp_path):
    data = good.read_bytes()
    truncated = tmp_path / "truncated.npz"
    truncated.write_bytes(data[: len(data) // 2])
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"PK\x03\x04" + b"\x00" * 100)
    text = tmp_path / "notes.npz"
    text.write_text("hello")
    empty = tmp_path / "empty.npz"
    empty.write_bytes(b"")
    no_meta = write_members(tmp_path / "nometa.npz", {"step": np.arange(3)})
    cases = {
        truncated: "damaged or truncated",
        junk: "damaged or truncated",
        text: "not a run file",
        empty: "not a run file",
        no_meta: "no 'meta' entry",
        tmp_path / "absent.npz": "no such file",
        tmp_path: "is a directory",
    }
    for path, fragment in cases.items():
        refused(path, fragment)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_special_files_are_refused_without_reading(tmp_path):
    fifo = tmp_path / "fifo.npz"
    os.mkfifo(fifo)
    refused(fifo, "not a regular file")
    if Path("/dev/zero").exists():
        refused(Path("/dev/zero"), "not a regular file")


def test_a_newline_in_the_file_name_stays_on_one_line(good, tmp_path):
    odd = tmp_path / "two\nlines.npz"
    odd.write_bytes(b"not a zip")
    with pytest.raises(RunFileError) as err:
        load_run(odd)
    assert "\n" not in str(err.value) and "two\\nlines.npz" in str(err.value)


# -- the archive: directory, member entries, .npy headers ------------------------------------

def _replace(good: Path, out: Path, name: str, data: bytes | None) -> Path:
    entries = [(n, data if n == name else d) for n, d in entries_of(good)]
    if data is not None and name not in dict(entries):
        entries.append((name, data))
    out.write_bytes(zip_bytes(entries))
    return out


@pytest.mark.parametrize(("flags", "method", "fragment"), [
    (0x0001, None, "is encrypted"),
    (0x0040, None, "zip features a run file never has"),
    (0x0020, None, "zip features a run file never has"),
    (None, 12, "compression method 12"),  # bzip2: zipfile could read it, run files never use it
    (None, 14, "compression method 14"),
    (None, 99, "compression method 99"),  # AES
])
def test_member_entries_with_foreign_zip_features(good, tmp_path, flags, method, fragment):
    path = tmp_path / "odd.npz"
    path.write_bytes(patch_member(good.read_bytes(), "loss.npy", flags=flags, method=method))
    refused(path, "array 'loss'", fragment)


def test_a_huge_declared_size_is_refused_before_reading(good, tmp_path):
    path = tmp_path / "big.npz"
    path.write_bytes(patch_member(good.read_bytes(), "grad_norm.npy", file_size=0xFFFF_FFF0))
    tracemalloc.start()
    try:
        refused(path, "array 'grad_norm' declares 4294967280 bytes")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 8 << 20


def test_unknown_members_are_never_read(good, tmp_path, run):
    # An unused member whose header declares 74.5 GiB, and one that is pure garbage.
    huge = npy_raw("{'descr': '<f8', 'fortran_order': False, 'shape': (10000000000,), }")
    path = _replace(good, tmp_path / "extra.npz", "unused.npy", huge)
    path = _replace(path, tmp_path / "extra2.npz", "garbage.bin", os.urandom(1000))
    tracemalloc.start()
    try:
        back = load_run(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert_same_records(run, back)
    assert peak < 16 << 20


@pytest.mark.parametrize(("member", "fragment"), [
    (npy_raw("{'descr': '<f8', 'fortran_order': False, 'shape': (10000000000,), }"),
     "has shape (10000000000,), expected (300,)"),
    (npy_raw("{'descr': '|O', 'fortran_order': False, 'shape': (300,), }"), "pickled objects"),
    (npy_raw("{'descr': '<c16', 'fortran_order': False, 'shape': (300,), }"), "expected numbers"),
    (npy_raw("{'descr': '|b1', 'fortran_order': False, 'shape': (300,), }"), "expected numbers"),
    (npy_raw("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (300,), }"),
     "expected numbers"),
    (npy_raw("{'descr': '<f4', 'fortran_order': False, 'shape': (300,), }", b"\0" * 100),
     "but its header describes"),
    (npy_raw("((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((("),
     "garbage .npy header"),
    (npy_raw("{'descr': '<f4', 'fortran_order': False, 'shape': (-300,), }"),
     "has shape (-300,)"),
    (npy_raw("{'descr': '<U99999999999999', 'fortran_order': False, 'shape': (300,), }"),
     "garbage .npy header"),
    (npy_raw("{'descr': '<f4', 'fortran_order': False, 'shape': (300,), }", version=(3, 0)),
     "format version (3, 0)"),
    (b"\x93NUMPY\x01\x00\xff\xff" + b"x" * 100, "garbage .npy header"),
    (b"not an npy file at all", "cannot be decoded"),
    (npy_bytes(np.arange(300, dtype=np.float32)), None),  # a healthy member still loads
])
def test_garbage_npy_headers(good, tmp_path, member, fragment):
    path = _replace(good, tmp_path / "npy.npz", "loss.npy", member)
    if fragment is None:
        load_run(path)
    else:
        refused(path, "array 'loss'", fragment)


def test_a_corrupted_deflate_stream(good, tmp_path):
    data = bytearray(good.read_bytes())
    at = data.find(b"grad_norm.npy") + 60  # inside the compressed data of that member
    data[at : at + 8] = b"\xff" * 8
    path = tmp_path / "zlib.npz"
    path.write_bytes(bytes(data))
    refused(path, "array 'grad_norm'")


def test_a_bad_crc(good, tmp_path):
    entries = entries_of(good)
    path = tmp_path / "crc.npz"
    path.write_bytes(zip_bytes(entries))
    data = bytearray(path.read_bytes())
    loss = data.find(b"loss.npy")
    data[loss + 8 + 200] ^= 0xFF  # a data byte of the stored member
    path.write_bytes(bytes(data))
    refused(path, "array 'loss'", "CRC")


def test_duplicate_members_and_oversized_directories(good, tmp_path):
    entries = entries_of(good)
    loss = dict(entries)["loss.npy"]
    dup = tmp_path / "dup.npz"
    with pytest.warns(UserWarning):
        dup.write_bytes(zip_bytes([*entries, ("loss.npy", loss)]))
    refused(dup, "array 'loss' is stored twice")
    crowded = tmp_path / "crowded.npz"
    crowded.write_bytes(zip_bytes(entries + [(f"x{i}.npy", b"") for i in range(300)]))
    refused(crowded, "entries", "at most 256")


def test_the_end_record_is_found_as_zipfile_finds_it(good, tmp_path, run):
    commented = tmp_path / "comment.npz"
    with zipfile.ZipFile(commented, "w") as zf:
        for name, data in entries_of(good):
            zf.writestr(name, data)
        zf.comment = b"a comment after the end record " * 100
    assert_same_records(run, load_run(commented))
    data = good.read_bytes()
    end = data.rfind(b"PK\x05\x06")
    zip64 = tmp_path / "zip64.npz"
    zip64.write_bytes(data[:end] + b"PK\x06\x07" + bytes(16) + data[end:])
    refused(zip64, "ZIP64 directory")


def test_a_deflate_bomb_in_a_used_member_is_bounded(good, tmp_path):
    # 300 float32 declared, ~100 MB of zeros behind them: the declared size gives it away.
    bomb = npy_raw("{'descr': '<f4', 'fortran_order': False, 'shape': (300,), }",
                   b"\0" * (100 << 20))
    entries = [(n, bomb if n == "loss.npy" else d) for n, d in entries_of(good)]
    path = tmp_path / "bomb.npz"
    path.write_bytes(zip_bytes(entries, zipfile.ZIP_DEFLATED))
    assert path.stat().st_size < 2 << 20
    tracemalloc.start()
    try:
        refused(path, "array 'loss' declares")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 8 << 20


def test_the_load_budget(good):
    with pytest.raises(RunFileError, match="memory budget"):
        load_run(good, max_bytes=2_000)


# -- meta -------------------------------------------------------------------------------------

@pytest.mark.parametrize(("meta_text", "fragment"), [
    ("{oops", "'meta' is not valid JSON"),
    ("[" * 5000 + "]" * 5000, "nests deeper than 32"),
    ('{"a": ' * 100 + "1" + "}" * 100, "nests deeper than 32"),
    ('{"format": "vgrad-gui run", "n": ' + "9" * 5000 + "}", "a number with 5000 digits"),
    ('{"format": "vgrad-gui run", "n": -' + "9" * 400 + "}", "a number with 400 digits"),
    ('{"format": "vgrad-gui run", "x": "\\ud800"}', "not valid Unicode"),
    ("[1, 2]", "meta.format is not"),
    ('"just text"', "meta.format is not"),
    ("", "'meta' is not valid JSON"),
])
def test_damaged_meta_text(good, tmp_path, meta_text, fragment):
    arrays = members(good)
    path = write_members(tmp_path / "meta.npz", {**arrays, "meta": np.array(meta_text)})
    refused(path, fragment)


def test_meta_that_is_not_text_or_too_long(good, tmp_path):
    arrays = members(good)
    numeric = write_members(tmp_path / "num.npz", {**arrays, "meta": np.arange(3)})
    refused(numeric, "array 'meta'", "expected text")
    big = write_members(tmp_path / "big.npz", {**arrays, "meta": np.array("x" * 300_000)})
    refused(big, "array 'meta'")
    bad_utf32 = _replace(good, tmp_path / "u.npz", "meta.npy", npy_raw(
        "{'descr': '<U1', 'fortran_order': False, 'shape': (), }", b"\xff\xff\xff\xff"))
    refused(bad_utf32, "array 'meta' holds characters that are not valid Unicode")


@pytest.mark.parametrize(("changes", "fragment"), [
    ({"format_version": 99}, "format version 99 is not supported"),
    ({"format_version": True}, "format version True is not supported"),
    ({"format_version": 0}, "format version 0 is not supported"),
    ({"config": {"depth": 999}}, "config is invalid"),
    ({"config": {"lr": 1e400}}, "config is invalid"),
    ({"config": "deep"}, "config is invalid"),
    ({"layer_names": ["a"]}, "meta.layer_names must list depth + 1"),
    ({"layer_names": ["h1", "h2", "h3", "h4", "out\nput"]}, "meta.layer_names"),
    ({"inactive_kind": 5}, "meta.inactive_kind"),
    ({"decimated_records": []}, "meta.decimated_records must be an object"),
    ({"decimated_records": {"steps": -1}}, "meta.decimated_records.steps is -1"),
    ({"decimated_records": {"steps": 10**20}}, "meta.decimated_records.steps"),
    ({"decimated_records": {"steps": True}}, "meta.decimated_records.steps"),
    ({"extra": [1]}, "meta.extra must be an object"),
])
def test_impossible_meta_fields(good, tmp_path, changes, fragment):
    arrays = members(good)
    if "config" in changes and isinstance(changes["config"], dict):
        changes = {"config": {**meta_of(arrays)["config"], **changes["config"]}}
    path = write_members(tmp_path / "m.npz", with_meta(arrays, **changes))
    refused(path, fragment)


# -- semantics: runs that cannot have happened -----------------------------------------------

def _impossible(arrays):
    """(what is wrong, arrays to replace, what the message says) for runs that cannot be."""
    steps = arrays["step"]
    norms = arrays["grad_norm"].copy()
    norms[7, 2] = -1.0
    loss = arrays["loss"].copy()
    loss[3] = -0.5
    acc = arrays["accuracy"].copy()
    acc[0] = 2.0
    ratio = arrays["update_ratio"].copy()
    ratio[1, 0] = -3
    frac = arrays["inactive_fraction"].copy()
    frac[0, 0] = 1.5
    cases = [
        ("int8 steps", {"step": steps.astype(np.int8)},
         "array 'step' holds -128; its values start at 1"),
        ("reversed steps", {"step": steps[::-1].copy()}, "array 'step' must increase strictly"),
        ("negative steps", {"step": steps - 10}, "array 'step' holds -9"),
        ("repeated step", {"step": np.r_[steps[:5], steps[4:-1]]}, "must increase strictly"),
        ("negative norm", {"grad_norm": norms},
         "array 'grad_norm' holds -1 (record ending at step 8)"),
        ("-Inf norm", {"bias_grad_norm": np.full_like(norms, -np.inf)},
         "'bias_grad_norm' holds -inf"),
        ("negative loss", {"loss": loss}, "array 'loss' holds -0.5"),
        ("accuracy 2", {"accuracy": acc},
         "array 'accuracy' holds 2 (record ending at step 1); allowed: 0 to 1"),
        ("accuracy inf", {"accuracy": np.full_like(acc, np.inf)}, "array 'accuracy' holds inf"),
        ("probe after the run", {"probe_step": arrays["probe_step"] + 1000},
         "array 'probe_step' holds step 1300, after the run's last step (300)"),
        ("eval after the run", {"eval_step": arrays["eval_step"] * 10},
         "array 'eval_step' holds step 3000"),
        ("probe step 0", {"probe_step": arrays["probe_step"] - 1}, "array 'probe_step' holds 0"),
        ("negative update ratio", {"update_ratio": ratio}, "array 'update_ratio' holds -3"),
        ("fraction above 1", {"inactive_fraction": frac}, "'inactive_fraction' holds 1.5"),
        ("counts of full-resolution records", {"record_steps": arrays["record_steps"] + 1},
         "array 'record_steps' must be 1 for every full-resolution record"),
        ("huge uint64 steps", {"step": steps.astype(np.uint64) + np.uint64(2**63)},
         "values are at most 2**53"),
        ("loss of a wrong length", {"loss": arrays["loss"][:-1]}, "array 'loss' has shape (299,)"),
        ("missing channel", {"grad_norm": None}, "missing array 'grad_norm'"),
    ]
    meta = meta_of(arrays)
    for bad in (-5, 0, 10**9, 301, True, 2.5, "3"):
        cases.append((f"first_nonfinite_step {bad!r}",
                      {"meta": {**meta, "first_nonfinite_step": bad}},
                      "meta.first_nonfinite_step is"))
    return cases


def test_impossible_runs_are_refused(good, tmp_path):
    arrays = members(good)
    cases = _impossible(arrays)
    assert len(cases) >= 20
    for i, (label, changes, fragment) in enumerate(cases):
        new = dict(arrays)
        for key, value in changes.items():
            if value is None:
                del new[key]
            elif key == "meta":
                new[key] = np.array(json.dumps(value))
            else:
                new[key] = value
        path = write_members(tmp_path / f"case{i}.npz", new)
        try:
            refused(path, fragment)
        except (AssertionError, pytest.fail.Exception) as exc:
            raise AssertionError(f"{label}: {exc}") from None


def test_any_integer_dtype_holds_steps_when_the_values_fit(good, tmp_path, run):
    arrays = members(good)
    new = {**arrays, "step": arrays["step"].astype(np.uint16),
           "probe_step": arrays["probe_step"].astype(">i4"),
           "record_steps": arrays["record_steps"].astype(np.uint8),
           "loss": arrays["loss"].astype(np.float64)}
    assert_same_records(run, load_run(write_members(tmp_path / "ints.npz", new)))


def test_nan_and_inf_are_allowed_where_a_diverged_run_puts_them(good, tmp_path):
    arrays = members(good)
    norms = arrays["grad_norm"].copy()
    norms[100:] = np.inf
    norms[200:] = np.nan
    loss = arrays["loss"].copy()
    loss[150:] = np.nan
    acc = arrays["accuracy"].copy()
    acc[150:] = np.nan
    new = with_meta({**arrays, "grad_norm": norms, "loss": loss, "accuracy": acc},
                    first_nonfinite_step=101)
    back = load_run(write_members(tmp_path / "nan.npz", new))
    assert back.first_nonfinite_step == 101


def test_the_first_nonfinite_step_must_match_the_data(good, tmp_path):
    arrays = members(good)
    loss = arrays["loss"].copy()
    loss[100] = np.inf
    for claimed, fragment in ((None, "is null, but the first non-finite gradient norm or loss "
                                     "is at step 101"),
                              (50, "is 50, but the first non-finite gradient norm or loss is "
                                   "at step 101")):
        path = write_members(tmp_path / "nf.npz", with_meta({**arrays, "loss": loss},
                                                            first_nonfinite_step=claimed))
        refused(path, fragment)
    path = write_members(tmp_path / "nf.npz", with_meta(arrays, first_nonfinite_step=7))
    refused(path, "is 7, but the first non-finite gradient norm or loss is nowhere")


def test_the_first_nonfinite_step_inside_a_decimated_record(tmp_path):
    history = RunHistory(Config(depth=1, width=2), ["hidden 1", "output"])
    rows = np.ones((13_000, history.steps.width))
    rows[99, 0] = np.nan
    history.extend("steps", np.arange(1, 13_001), rows)
    path = save_run(history, tmp_path / "dec.npz")
    assert load_run(path).first_nonfinite_step == 100
    arrays = members(path)
    moved = write_members(tmp_path / "moved.npz", with_meta(arrays, first_nonfinite_step=3000))
    refused(moved, "is 3000, but the first non-finite gradient norm or loss is in the record "
                   "of steps 100 to 100")


def test_inconsistent_decimated_records(tmp_path):
    history = RunHistory(Config(depth=1, width=2), ["hidden 1", "output"])
    history.extend("steps", np.arange(1, 13_001), np.ones((13_000, history.steps.width)))
    path = save_run(history, tmp_path / "dec.npz")
    arrays = members(path)
    first = arrays["first_step"].copy()
    first[5] = first[4]
    cases = [
        ({"first_step": first}, "array 'first_step' is inconsistent"),
        ({"first_step": arrays["step"][:2048] + 1}, "array 'first_step' is inconsistent"),
        ({"record_steps": np.r_[arrays["record_steps"][:2048] + 5, arrays["record_steps"][2048:]]},
         "array 'record_steps' counts more steps than a decimated record spans"),
        ({"first_step": None}, "missing array 'first_step'"),
    ]
    mx = arrays["grad_norm_max"].copy()
    mx[3, 0] = -0.5
    cases.append(({"grad_norm_max": mx}, "array 'grad_norm_max' holds -0.5"))
    mn = arrays["grad_norm_min"].copy()
    mn[3, 0] = 5
    cases.append(({"grad_norm_min": mn}, "'grad_norm_min' exceeds 'grad_norm_max'"))
    for i, (changes, fragment) in enumerate(cases):
        new = {k: v for k, v in {**arrays, **changes}.items() if v is not None}
        refused(write_members(tmp_path / f"d{i}.npz", new), fragment)
