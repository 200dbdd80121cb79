"""Fuzzing the run-file reader: a small good run file, damaged every way hypothesis can think
of (bytes flipped, cut or inserted; members rewritten with other dtypes, shapes, declared sizes
or garbage; meta JSON damaged; zip entries given encryption flags or other compression methods
by raw header edits). Whatever comes in, ``load_run`` returns a history whose semantics hold,
or raises RunFileError with one line; never another exception, never a large allocation."""

from __future__ import annotations

import atexit
import json
import shutil
import struct
import tempfile
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
    npy_bytes,
    npy_raw,
    patch_member,
    synthetic_history,
    zip_bytes,
)
from vgrad_gui import cli
from vgrad_gui.core.runfile import RunFileError, load_run, save_run

PEAK_LIMIT = 64 << 20
FUZZ = settings(max_examples=150, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

_DIR = Path(tempfile.mkdtemp(prefix="vgrad-fuzz-"))
atexit.register(shutil.rmtree, _DIR, True)
_HISTORY = synthetic_history(depth=2, n_steps=40, stats_every=10)
GOOD = {
    "deflated": save_run(_HISTORY, _DIR / "good-deflated.npz").read_bytes(),
    "stored": save_run(_HISTORY, _DIR / "good-stored.npz", compress=False).read_bytes(),
}
ENTRIES = entries_of(_DIR / "good-stored.npz")
NAMES = [name for name, _ in ENTRIES]
META = json.loads(str(np.load(_DIR / "good-stored.npz")["meta"]))


def _load_checked(data: bytes) -> None:
    """The property: a valid history or one RunFileError line, within the memory bound."""
    path = _DIR / "damaged.npz"
    path.write_bytes(data)
    tracemalloc.start()
    try:
        try:
            history = load_run(path)
        except RunFileError as exc:
            message = str(exc)
            assert message.startswith(str(path)) and "\n" not in message, message
            assert len(message) < 600
        else:
            check_semantics(history)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < PEAK_LIMIT, f"peak {peak / 2**20:.0f} MiB"


variant = st.sampled_from(sorted(GOOD))
# Anywhere in the file, not mostly at its start (where hypothesis's small numbers would fall).
POSITION = st.integers(0, 2**20)


# -- bytes ------------------------------------------------------------------------------------

@pytest.mark.timeout(300)
@FUZZ
@given(variant, st.lists(st.tuples(POSITION, st.integers(1, 255)), min_size=1, max_size=8))
def test_flipped_bytes(which, flips):
    data = bytearray(GOOD[which])
    for where, mask in flips:
        data[where % len(data)] ^= mask
    _load_checked(bytes(data))


@pytest.mark.timeout(300)
@FUZZ
@given(variant, POSITION, st.binary(max_size=64), st.integers(0, 64))
def test_cut_and_inserted_bytes(which, where, inserted, cut):
    data = GOOD[which]
    at = where % (len(data) + 1)
    _load_checked(data[:at] + inserted + data[at + cut :])


# -- members ----------------------------------------------------------------------------------

DTYPES = ["i1", "u1", "<i2", ">i4", "<u8", "<i8", "<f2", ">f4", "<f8", "?", "<c8", "<U3",
          "S3", "V4", "<M8[s]", "<m8[s]"]
SHAPES = st.lists(st.integers(0, 50), max_size=3).map(tuple)
ARRAY_VALUES = st.sampled_from([0, 1, -1, 2, -2**31, 2**40, np.nan, np.inf, -np.inf, 0.5])


@st.composite
def member_bytes(draw) -> bytes | None:
    choice = draw(st.integers(0, 4))
    if choice == 0:  # a real array of another dtype or shape
        dtype = np.dtype(draw(st.sampled_from(DTYPES)))
        shape = draw(SHAPES)
        value = draw(ARRAY_VALUES)
        with np.errstate(all="ignore"):
            try:
                arr = np.full(shape, value).astype(dtype)
            except (ValueError, TypeError, OverflowError):
                arr = np.zeros(shape, dtype)
        return npy_bytes(arr)
    if choice == 1:  # a header that lies about its size
        descr = draw(st.sampled_from(["<f4", "<f8", "<i8", "|O", "<U99999999", "|V100"]))
        dims = draw(st.lists(st.integers(0, 10**12), max_size=3))
        shape = "(" + "".join(f"{d}, " for d in dims) + ")"
        fortran = draw(st.booleans())
        header = f"{{'descr': '{descr}', 'fortran_order': {fortran}, 'shape': {shape}, }}"
        return npy_raw(header, draw(st.binary(max_size=256)))
    if choice == 2:
        return draw(st.binary(max_size=512))
    if choice == 3:  # an .npy prefix then garbage
        return b"\x93NUMPY" + draw(st.binary(min_size=2, max_size=300))
    return None  # the member is gone


@pytest.mark.timeout(300)
@FUZZ
@given(st.lists(st.tuples(st.sampled_from([*NAMES, "extra.npy", "meta"]), member_bytes()),
                min_size=1, max_size=3),
       st.sampled_from([zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED]))
def test_rewritten_members(changes, method):
    entries = dict(ENTRIES)
    for name, data in changes:
        if data is None:
            entries.pop(name, None)
        else:
            entries[name] = data
    _load_checked(zip_bytes(list(entries.items()), method))


@pytest.mark.timeout(300)
@FUZZ
@given(st.sampled_from(NAMES),
       st.one_of(st.none(), st.integers(0, 0xFFFF)),
       st.one_of(st.none(), st.integers(0, 0xFFFF), st.sampled_from([1, 6, 9, 12, 14, 93, 99])),
       st.one_of(st.none(), st.integers(0, 2**32 - 1)),
       variant)
def test_raw_header_edits(name, flags, method, file_size, which):
    _load_checked(patch_member(GOOD[which], name, flags=flags, method=method,
                               file_size=file_size))


@pytest.mark.timeout(300)
@FUZZ
@given(variant, st.integers(0, 0xFFFF), st.integers(0, 2**32 - 1), st.integers(0, 2**32 - 1))
def test_damaged_end_of_directory(which, entries, size, offset):
    data = bytearray(GOOD[which])
    end = data.rfind(b"PK\x05\x06")
    struct.pack_into("<HHLL", data, end + 8, entries, entries, size, offset)
    _load_checked(bytes(data))


# -- meta -------------------------------------------------------------------------------------

JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-10**50, 10**50) | st.floats()
    | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                  max_size=4),
    max_leaves=20)
META_KEYS = [*META, *(f"config.{k}" for k in META["config"])]


@st.composite
def meta_text(draw) -> str:
    meta = json.loads(json.dumps(META))
    for _ in range(draw(st.integers(1, 3))):
        key = draw(st.sampled_from(META_KEYS))
        where, key = (meta.get("config"), key[7:]) if key.startswith("config.") else (meta, key)
        if not isinstance(where, dict):
            continue
        if draw(st.booleans()):
            where.pop(key, None)
        else:
            where[key] = draw(JSON)
    text = json.dumps(meta)
    style = draw(st.integers(0, 3))
    if style == 1:  # text-level damage
        at = draw(st.integers(0, len(text)))
        text = text[:at] + draw(st.text(max_size=8)) + text[at + draw(st.integers(0, 8)) :]
    elif style == 2:  # deep nesting somewhere
        depth = draw(st.integers(20, 5000))
        text = text[:-1] + ', "deep": ' + "[" * depth + "]" * depth + "}"
    elif style == 3:  # a huge number
        text = text[:-1] + ', "n": ' + "7" * draw(st.integers(20, 6000)) + "}"
    return text


@pytest.mark.timeout(300)
@FUZZ
@given(meta_text())
def test_damaged_meta(text):
    entries = dict(ENTRIES)
    entries["meta.npy"] = npy_bytes(np.array(text))
    _load_checked(zip_bytes(list(entries.items())))


# -- the summary command on damaged files ------------------------------------------------------

def _damaged_files(folder: Path) -> dict[str, Path]:
    good = GOOD["stored"]
    out = {
        "truncated": good[: len(good) // 3],
        "encrypted": patch_member(good, "loss.npy", flags=1),
        "compression": patch_member(good, "grad_norm.npy", method=14),
        "declared size": patch_member(good, "step.npy", file_size=2**32 - 1),
    }
    entries = dict(ENTRIES)
    loss = np.load(_DIR / "good-stored.npz")["loss"].copy()
    loss[0] = -1
    out["negative loss"] = zip_bytes(list({**entries, "loss.npy": npy_bytes(loss)}.items()))
    deep = npy_bytes(np.array("[" * 10_000 + "]" * 10_000))
    out["deep meta"] = zip_bytes(list({**entries, "meta.npy": deep}.items()))
    paths = {}
    for label, data in out.items():
        paths[label] = folder / f"{label.replace(' ', '_')}.npz"
        paths[label].write_bytes(data)
    return paths


def test_summary_of_damaged_files_exits_2_with_one_line(tmp_path, capsys):
    for label, path in _damaged_files(tmp_path).items():
        assert cli.main(["summary", str(path)]) == 2, label
        captured = capsys.readouterr()
        assert captured.out == "", label
        lines = captured.err.splitlines()
        assert len(lines) == 1 and str(path) in lines[0], (label, captured.err)
