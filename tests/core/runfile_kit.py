"""Helpers for the run-file tests: small valid histories, and ways to build damaged archives
byte by byte (the damage a real file suffers, or an adversary makes)."""

from __future__ import annotations

import io
import json
import struct
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from vgrad_gui.core.history import RunHistory
from vgrad_gui.core.runfile import VALUE_RANGE
from vgrad_gui.core.spec import Config

CENTRAL = b"PK\x01\x02"
LOCAL = b"PK\x03\x04"


def _column_values(rng: np.random.Generator, name: str, shape: tuple[int, int]) -> np.ndarray:
    lo, hi = VALUE_RANGE.get(name, (-np.inf, np.inf))
    if hi <= 1:
        return rng.uniform(lo, hi, shape)
    if lo >= 0:
        return rng.lognormal(-2, 1, shape)
    return rng.normal(0, 1, shape)


def _rows(history: RunHistory, table: str, n: int, rng: np.random.Generator) -> np.ndarray:
    parts = [_column_values(rng, name, (n, width)) for name, width in history.layouts[table]]
    return np.concatenate(parts, axis=1).astype(np.float32)


def synthetic_history(depth: int = 2, n_steps: int = 300, stats_every: int = 100,
                      seed: int = 0) -> RunHistory:
    """A run of plausible values in every channel of every table, without training."""
    cfg = Config(depth=depth, width=4, steps=max(1, n_steps))
    names = [f"hidden {i}" for i in range(1, depth + 1)] + ["output"]
    history = RunHistory(cfg, names, "saturated", {"note": "synthetic"})
    rng = np.random.default_rng(seed)
    steps = np.arange(1, n_steps + 1)
    history.extend("steps", steps, _rows(history, "steps", n_steps, rng))
    stats = np.unique(np.r_[1, steps[steps % stats_every == 0]]) if n_steps else steps
    history.extend("probes", stats, _rows(history, "probes", len(stats), rng))
    history.extend("evals", stats, _rows(history, "evals", len(stats), rng))
    return history


def members(path: Path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as npz:
        return {key: npz[key] for key in npz.files}


def write_members(path: Path, arrays: dict[str, np.ndarray]) -> Path:
    np.savez(path, **arrays)  # type: ignore[arg-type]
    return path


def meta_of(arrays: dict[str, np.ndarray]) -> dict[str, Any]:
    return json.loads(str(arrays["meta"]))


def with_meta(arrays: dict[str, np.ndarray], **changes: Any) -> dict[str, np.ndarray]:
    return {**arrays, "meta": np.array(json.dumps({**meta_of(arrays), **changes}))}


def npy_bytes(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array(buf, arr, allow_pickle=False)
    return buf.getvalue()


def npy_raw(header: str, data: bytes = b"", version: tuple[int, int] = (1, 0)) -> bytes:
    """A .npy member with any header text (numpy would refuse to write a false one)."""
    text = header.encode("latin1") + b"\n"
    if version == (1, 0):
        return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(text)) + text + data
    return b"\x93NUMPY" + bytes(version) + struct.pack("<I", len(text)) + text + data


def zip_bytes(entries: list[tuple[str, bytes]], method: int = zipfile.ZIP_STORED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", method) as zf:
        for name, data in entries:
            zf.writestr(name, data)
    return buf.getvalue()


def entries_of(path: Path) -> list[tuple[str, bytes]]:
    with zipfile.ZipFile(path) as zf:
        return [(info.filename, zf.read(info)) for info in zf.infolist()]


def _headers(data: bytes, sig: bytes, name_at: int, lens_at: int) -> dict[str, int]:
    """Offsets of every header with this signature, by member name."""
    found: dict[str, int] = {}
    pos = data.find(sig)
    while pos >= 0:
        nlen = struct.unpack_from("<H", data, pos + lens_at)[0]
        name = data[pos + name_at : pos + name_at + nlen].decode("utf-8", "replace")
        found.setdefault(name, pos)
        pos = data.find(sig, pos + 4)
    return found


def patch_member(data: bytes, name: str, *, flags: int | None = None,
                 method: int | None = None, file_size: int | None = None) -> bytes:
    """Edit one member's entry in the central directory (and its local header for flags and
    method), the way a damaged or hostile file would carry them."""
    out = bytearray(data)
    central = _headers(data, CENTRAL, 46, 28)[name]
    local = _headers(data, LOCAL, 30, 26)[name]
    if flags is not None:
        struct.pack_into("<H", out, central + 8, flags)
        struct.pack_into("<H", out, local + 6, flags)
    if method is not None:
        struct.pack_into("<H", out, central + 10, method)
        struct.pack_into("<H", out, local + 8, method)
    if file_size is not None:
        struct.pack_into("<I", out, central + 24, file_size)
    return bytes(out)


def check_semantics(history: RunHistory) -> None:
    """What every loaded history must satisfy (the property the fuzz tests check)."""
    end = history.step
    for table in ("steps", "probes", "evals"):
        rec = history.table(table).records()
        last, first, count = rec["last"], rec["first"], rec["count"]
        assert (first >= 1).all() and (first <= last).all()
        assert (np.diff(last) > 0).all() and (first[1:] > last[:-1]).all()
        assert (count >= 1).all() and (count <= last - first + 1).all()
        assert not len(last) or last[-1] <= end
        for name, _ in history.layouts[table]:
            lo, hi = VALUE_RANGE.get(name, (-np.inf, np.inf))
            cols = history.cols(table, name)
            for key in ("mean", "min", "max"):
                values = rec[key][:, cols]
                finite_or_nan = np.isnan(values) | ((values >= lo) & (values <= hi))
                assert finite_or_nan.all(), (table, name, key)
    nonfinite = history.first_nonfinite_step
    assert nonfinite is None or (type(nonfinite) is int and 1 <= nonfinite <= end)
