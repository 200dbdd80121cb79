"""Run files: a RunHistory saved as a plain ``.npz`` archive, read back without pickle.

Layout (every array readable with ``numpy.load(path, allow_pickle=False)``):

- ``step`` int64 [records]: the step each record ends at (layer 0 nearest the input)
- ``grad_norm``, ``bias_grad_norm`` float32 [records, layers]; ``loss``, ``accuracy`` [records]
- ``record_steps`` int64 [records]: how many steps each record covers (1 at full resolution;
  more for the decimated records, which come first and hold means)
- ``grad_norm_min`` / ``grad_norm_max`` (and likewise for every channel) [decimated, ...]:
  the min and max of the decimated records, so spikes survive
- ``probe_step``, ``act_mean``, ``act_std``, ``inactive_fraction`` [probes, hidden layers],
  ``update_ratio`` [probes, layers], ``probe_record_steps``: the heavier statistics
- ``eval_step``, ``test_loss``, ``test_accuracy``, ``eval_record_steps``: held-out metrics
- ``meta``: a 0-d unicode array holding JSON: format, format_version, config, layer_names,
  inactive_kind, and counts of decimated records per table.
"""

from __future__ import annotations

import json
import os
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from vgrad_gui import __version__
from vgrad_gui.core.history import RunHistory
from vgrad_gui.core.spec import Config, ConfigError

FORMAT = "vgrad-gui run"
FORMAT_VERSION = 1
_PREFIX = {"steps": "", "probes": "probe_", "evals": "eval_"}


class RunFileError(ValueError):
    """A run file cannot be read; the message names the file and what is wrong."""

    def __init__(self, path: str | Path, problem: str) -> None:
        super().__init__(f"{path}: {problem}")
        self.path = str(path)
        self.problem = problem


def save_run(history: RunHistory, path: str | Path, compress: bool = True) -> Path:
    """Write atomically (a temporary file, then rename), so a crash never leaves half a file."""
    return write_arrays(run_arrays(history), path, compress)


def run_arrays(history: RunHistory) -> dict[str, np.ndarray]:
    """Everything a run file holds, as new arrays (a snapshot: the history may go on)."""
    arrays: dict[str, np.ndarray] = {}
    decimated: dict[str, int] = {}
    for table, prefix in _PREFIX.items():
        series = history.table(table)
        rec = series.records()
        nd = len(rec["count"]) - series.n_raw
        decimated[table] = nd
        arrays[f"{prefix}step"] = rec["last"]
        arrays[f"{prefix}record_steps"] = rec["count"]
        for name, width in history.layouts[table]:
            cols = history.cols(table, name)
            mean = rec["mean"][:, cols].astype(np.float32)
            mn, mx = rec["min"][:nd, cols], rec["max"][:nd, cols]
            if width == 1 and name not in ("grad_norm", "bias_grad_norm", "update_ratio"):
                mean, mn, mx = mean[:, 0], mn[:, 0], mx[:, 0]
            arrays[name] = mean
            arrays[f"{name}_min"] = mn
            arrays[f"{name}_max"] = mx
        if nd:
            arrays[f"{prefix}first_step"] = rec["first"][:nd]
    meta = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "app_version": __version__,
        "config": history.config.to_dict(),
        "layer_names": history.layer_names,
        "inactive_kind": history.inactive_kind,
        "decimated_records": decimated,
        "first_nonfinite_step": history.first_nonfinite_step,
        "extra": history.extra,
    }
    arrays["meta"] = np.array(json.dumps(meta))
    return arrays


def write_arrays(arrays: dict[str, np.ndarray], path: str | Path, compress: bool = True
                 ) -> Path:
    """Write a snapshot from ``run_arrays`` (safe to call from another thread)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".vgrad-", suffix=".npz", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            if compress:
                np.savez_compressed(fh, **arrays)  # type: ignore[arg-type]
            else:
                np.savez(fh, **arrays)  # type: ignore[arg-type]
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def load_run(path: str | Path) -> RunHistory:
    """Read a run file completely and check it, or raise RunFileError; never half-loaded."""
    path = Path(path)
    if not path.exists():
        raise RunFileError(path, "no such file")
    if path.is_dir():
        raise RunFileError(path, "is a directory, not a run file")
    try:
        with path.open("rb") as fh:
            magic = fh.read(4)
    except OSError as exc:
        raise RunFileError(path, f"cannot be read ({exc.strerror})") from None
    if magic != b"PK\x03\x04":
        raise RunFileError(path, "not a run file (a run file is a .npz archive, as written by "
                           "'vgrad-gui record' or File > Save run)")
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {key: npz[key] for key in npz.files}
    except (zipfile.BadZipFile, EOFError):
        raise RunFileError(path, "not a run file (not a readable .npz archive; damaged or "
                           "truncated?)") from None
    except ValueError as exc:
        if "pickle" in str(exc):
            raise RunFileError(path, "holds pickled objects, which are never loaded") from None
        raise RunFileError(path, f"damaged archive ({exc})") from None
    except (OSError, zipfile.LargeZipFile, KeyError) as exc:
        raise RunFileError(path, f"cannot be read ({exc})") from None
    if not isinstance(arrays, dict) or "meta" not in arrays:
        raise RunFileError(path, "not a vgrad-gui run file (no 'meta' entry)")
    return _build(path, arrays)


def _build(path: Path, arrays: dict[str, np.ndarray]) -> RunHistory:
    meta_arr = arrays["meta"]
    if meta_arr.shape != () or meta_arr.dtype.kind != "U":
        raise RunFileError(path, "'meta' must be a JSON string")
    try:
        meta = json.loads(str(meta_arr))
    except json.JSONDecodeError as exc:
        raise RunFileError(path, f"'meta' is not valid JSON ({exc.msg})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise RunFileError(path, "not a vgrad-gui run file (meta.format is not "
                           f"'{FORMAT}')")
    version = meta.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION or version < 1:
        raise RunFileError(path, f"format version {version!r} is not supported (this "
                           f"vgrad-gui reads versions 1 to {FORMAT_VERSION})")
    try:
        config = Config.from_dict(meta.get("config"))
    except ConfigError as exc:
        raise RunFileError(path, f"its config is invalid: {exc}") from None
    names = meta.get("layer_names")
    if (not isinstance(names, list) or not all(isinstance(n, str) for n in names)
            or len(names) != config.depth + 1):
        raise RunFileError(path, "meta.layer_names must list depth + 1 layer names")
    kind = meta.get("inactive_kind", "")
    decimated = meta.get("decimated_records", {})
    if not isinstance(decimated, dict):
        raise RunFileError(path, "meta.decimated_records must be an object")
    extra = meta.get("extra") or {}
    history = RunHistory(config, names, kind if isinstance(kind, str) else "",
                         extra if isinstance(extra, dict) else {})
    for table, prefix in _PREFIX.items():
        _load_table(path, arrays, history, table, prefix, decimated.get(table, 0))
    nonfinite = meta.get("first_nonfinite_step")
    history.first_nonfinite_step = nonfinite if isinstance(nonfinite, int) else None
    return history


def _need(path: Path, arrays: dict[str, np.ndarray], key: str, kind: str,
          shape: tuple[int, ...]) -> np.ndarray:
    if key not in arrays:
        raise RunFileError(path, f"missing array '{key}'")
    arr = arrays[key]
    if arr.dtype.kind not in kind:
        raise RunFileError(path, f"array '{key}' has type {arr.dtype}, expected "
                           + ("integers" if kind == "iu" else "numbers"))
    if arr.shape != shape:
        raise RunFileError(path, f"array '{key}' has shape {arr.shape}, expected {shape}")
    return arr


def _load_table(path: Path, arrays: dict[str, np.ndarray], history: RunHistory, table: str,
                prefix: str, n_decimated: Any) -> None:
    steps = arrays.get(f"{prefix}step")
    if steps is None:
        raise RunFileError(path, f"missing array '{prefix}step'")
    n = len(steps) if steps.ndim == 1 else -1
    if n < 0:
        raise RunFileError(path, f"array '{prefix}step' must be one-dimensional")
    steps = _need(path, arrays, f"{prefix}step", "iu", (n,))
    if n > 1 and (np.diff(steps) <= 0).any():
        raise RunFileError(path, f"'{prefix}step' must increase")
    if not isinstance(n_decimated, int) or not 0 <= n_decimated <= n:
        raise RunFileError(path, f"meta.decimated_records.{table} is out of range")
    nd = n_decimated
    counts = _need(path, arrays, f"{prefix}record_steps", "iu", (n,))
    if (counts < 1).any() or (counts[nd:] != 1).any():
        raise RunFileError(path, f"'{prefix}record_steps' is inconsistent")
    first = _need(path, arrays, f"{prefix}first_step", "iu", (nd,)) if nd else np.empty(0, np.int64)
    width = sum(w for _, w in history.layouts[table])
    mean = np.empty((n, width), np.float64)
    mn = np.empty((nd, width), np.float32)
    mx = np.empty((nd, width), np.float32)
    for name, w in history.layouts[table]:
        cols = history.cols(table, name)
        as_vector = w == 1 and name not in ("grad_norm", "bias_grad_norm", "update_ratio")
        shape: tuple[int, ...] = (n,) if as_vector else (n, w)
        mean[:, cols] = _need(path, arrays, name, "fiu", shape).reshape(n, w)
        dshape: tuple[int, ...] = (nd,) if as_vector else (nd, w)
        mn[:, cols] = _need(path, arrays, f"{name}_min", "fiu", dshape).reshape(nd, w)
        mx[:, cols] = _need(path, arrays, f"{name}_max", "fiu", dshape).reshape(nd, w)
    first_all = np.concatenate([first, steps[nd:]])
    try:
        history.table(table).load_records(first_all, steps, counts, mean, mn, mx, nd)
    except ValueError as exc:
        raise RunFileError(path, f"table '{table}': {exc}") from None
