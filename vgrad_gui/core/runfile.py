"""Run files: one run, or a comparison of up to MAX_RUNS runs, saved as a plain ``.npz``
archive and read back without pickle.

Layout, format version 3 (every array readable with ``numpy.load(path, allow_pickle=False)``;
"layers" = every Linear layer, input side first, output last; "hidden" = every hidden layer).
One run is these members:

- ``step`` int64 [records]: the step each record ends at (steps are counted from 1)
- ``record_steps`` int64 [records]: how many steps each record covers (1 at full resolution;
  more for the decimated records, which come first and hold means)
- ``first_step`` int64 [decimated]: the first step of each decimated record
- ``grad_norm``, ``bias_grad_norm`` float32 [records, layers]; ``loss``, ``accuracy`` [records]
- ``<channel>_min`` / ``<channel>_max`` for every channel [decimated, ...]: the min and max of
  each decimated record, so spikes survive
- ``probe_step``, ``probe_record_steps``, ``probe_first_step``: the same for the probe table:
  ``act_mean``, ``act_std``, ``inactive_fraction`` [probes, hidden], ``update_ratio``,
  ``signal_std``, ``backprop_grad`` [probes, layers] (the last two new in version 2)
- ``eval_step``, ``eval_record_steps``, ``eval_first_step``: ``test_loss``, ``test_accuracy``
- ``meta``: a 0-d unicode array holding JSON: format, format_version, config, layer_names,
  inactive_kind, decimated_records (per table), first_nonfinite_step, extra.
- ``run_meta`` and, when the run has them, ``run_points``, ``run_labels``,
  ``run_boundary_step``, ``run_boundary_classes``, ``run_boundary_confidence`` (new in
  version 3): what ``Run.to_arrays`` writes (shape, label, note, events, data sample,
  decision-boundary snapshots).

A file of one run holds these members at the top, and its ``meta`` says ``"runs": 1``. A file
of 2 to MAX_RUNS runs holds run i under the prefix ``r<i>/`` (``r0/step``, ``r1/meta``, ...),
each a complete run as above whose ``meta`` has no ``runs``, and a top-level ``meta`` holding
only format, format_version, app_version, runs (their number) and labels (one per run, equal to
each run's label).

Channels of width kind "one" are stored as vectors, every other channel as a matrix. The
channels come from ``records.TABLES``; a channel added after version 1 is listed in
``records.CHANNEL_ADDED_IN``, and files older than that load it as NaN. Files of versions 1
and 2 hold one run, without ``run_*`` arrays: its shape comes from its config.

Reading never trusts the file: the archive directory, every member's flags, compression and
declared size, and every ``.npy`` header's dtype and shape are checked against what the meta
and the channel layout allow before any data is read, and the values are checked against what
a run can record. A comparison is checked as a whole first: its run count, that every run
prefix in the archive is one the top-level meta declares and has a ``meta``, every run's meta,
and the declared size of every member it will read (each against what its run's layout
allows, all together against the load's memory budget). Anything else is a RunFileError
naming the file and the array (with its run prefix).
"""

from __future__ import annotations

import copy
import json
import math
import os
import re
import stat
import struct
import tempfile
import zipfile
import zlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, TypeGuard

import numpy as np
from numpy.lib import format as npy_format

from vgrad_gui import __version__
from vgrad_gui.core.history import RunHistory, Series
from vgrad_gui.core.records import CHANNEL_ADDED_IN, TABLES, first_nonfinite
from vgrad_gui.core.run import (
    MAX_GRID,
    MAX_POINTS,
    MAX_SNAPSHOTS,
    NONFINITE,
    Event,
    Run,
    RunError,
)
from vgrad_gui.core.spec import Config, ConfigError

FORMAT = "vgrad-gui run"
FORMAT_VERSION = 3
MAX_RUNS = 4  # runs in one file (a comparison)
# The format version that introduced each channel added after version 1 (kept with the
# channels in records.py, so a new channel needs a line there only).
ADDED_IN = CHANNEL_ADDED_IN
_PREFIX = {"steps": "", "probes": "probe_", "evals": "eval_"}

# What a channel can hold: (lowest, highest); NaN always passes (a run that diverged records
# NaN). Channels not listed may hold any value.
_INF = math.inf
VALUE_RANGE: dict[str, tuple[float, float]] = {
    "grad_norm": (0, _INF), "bias_grad_norm": (0, _INF), "loss": (0, _INF),
    "accuracy": (0, 1), "act_std": (0, _INF), "inactive_fraction": (0, 1),
    "update_ratio": (0, _INF), "signal_std": (0, _INF), "backprop_grad": (0, _INF),
    "test_loss": (0, _INF), "test_accuracy": (0, 1),
}

# Limits. The largest run a history holds (201 layers, every table full) is ~45 MB of arrays.
MAX_FILE_BYTES = 256 << 20
MAX_LOAD_BYTES = 256 << 20  # default budget of array bytes one load may decode
MAX_MEMBERS = 256
MAX_DIRECTORY_BYTES = 1 << 20
MAX_NPY_HEADER = 4096
MAX_META_CHARS = 1 << 18
MAX_JSON_DEPTH = 32
MAX_INT_DIGITS = 30
MAX_STEP = 2**53  # steps stay exact as float64 (views use float x)
MAX_NAME = 64
# Flag bits a run file may use: deflate options, data descriptor, UTF-8 names. Anything else
# (encryption, patched data, strong encryption, masked directory) is refused.
_ALLOWED_FLAGS = 0x0002 | 0x0004 | 0x0008 | 0x0800
_METHODS = {zipfile.ZIP_STORED: "stored", zipfile.ZIP_DEFLATED: "deflated"}
# Whatever a damaged archive or .npy header can make zipfile, zlib, numpy or json raise.
_DECODE_ERRORS = (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, OSError, EOFError,
                  ValueError, TypeError, OverflowError, RecursionError, MemoryError,
                  NotImplementedError, RuntimeError, SyntaxError, KeyError, IndexError,
                  struct.error, SystemError)


def _one_line(text: str, limit: int = 300) -> str:
    out = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
    return out if len(out) <= limit else out[: limit - 3] + "..."


class RunFileError(ValueError):
    """A run file cannot be read; the message (one line) names the file and what is wrong."""

    def __init__(self, path: str | Path, problem: str) -> None:
        super().__init__(f"{_one_line(str(path), 200)}: {_one_line(problem)}")
        self.path = str(path)
        self.problem = problem


# -- writing ----------------------------------------------------------------------------------

def save_runs(runs: Sequence[Run], path: str | Path, compress: bool = True) -> Path:
    """Write 1 to MAX_RUNS runs into one file, atomically (a temporary file, then rename), so a
    crash never leaves half a file. One run is stored at the top; several under ``r<i>/``."""
    return write_arrays(runs_arrays(runs), path, compress)


def save_run(history: RunHistory, path: str | Path, compress: bool = True) -> Path:
    """Write one history as a one-run file (its shape from its config), atomically."""
    return write_arrays(run_arrays(history), path, compress)


def _stored_as_vector(kind: str, width: int, version: int) -> bool:
    # Version 1 stored every width-1 channel as a vector except the per-layer ones.
    return kind == "one" or (version == 1 and width == 1 and kind != "layers")


def _history_arrays(history: RunHistory) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    arrays: dict[str, np.ndarray] = {}
    decimated: dict[str, int] = {}
    for table, prefix in _PREFIX.items():
        series = history.table(table)
        rec = series.records()
        nd = len(rec["count"]) - series.n_raw
        decimated[table] = nd
        arrays[f"{prefix}step"] = rec["last"]
        arrays[f"{prefix}record_steps"] = rec["count"]
        kinds = dict(TABLES[table])
        for name, width in history.layouts[table]:
            cols = history.cols(table, name)
            mean = rec["mean"][:, cols].astype(np.float32)
            mn, mx = rec["min"][:nd, cols], rec["max"][:nd, cols]
            if _stored_as_vector(kinds[name], width, FORMAT_VERSION):
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
    return arrays, meta


def _run_members(run: Run, runs: int | None) -> dict[str, np.ndarray]:
    arrays, meta = _history_arrays(run.history)
    if runs is not None:
        meta["runs"] = runs
    arrays["meta"] = np.array(json.dumps(meta))
    arrays.update(run.to_arrays())
    return arrays


def runs_arrays(runs: Sequence[Run]) -> dict[str, np.ndarray]:
    """Everything a file of these runs holds, as new arrays (a snapshot: the runs may go on),
    for ``write_arrays``. ValueError unless there are 1 to MAX_RUNS runs."""
    runs = list(runs)
    if not 1 <= len(runs) <= MAX_RUNS:
        raise ValueError(f"a run file holds 1 to {MAX_RUNS} runs; got {len(runs)}")
    if len(runs) == 1:
        return _run_members(runs[0], runs=1)
    top = {"format": FORMAT, "format_version": FORMAT_VERSION, "app_version": __version__,
           "runs": len(runs), "labels": [run.label for run in runs]}
    out: dict[str, np.ndarray] = {"meta": np.array(json.dumps(top))}
    for i, run in enumerate(runs):
        for key, arr in _run_members(run, runs=None).items():
            out[f"{run_prefix(i)}{key}"] = arr
    return out


def run_arrays(history: RunHistory) -> dict[str, np.ndarray]:
    """Everything a one-run file of this history holds, as new arrays (a snapshot)."""
    return runs_arrays([Run.from_history(history)])


def run_prefix(index: int) -> str:
    """The member prefix of run ``index`` in a file of several runs."""
    return f"r{index}/"


def _umask() -> int:
    """The process umask, read without changing it where the system allows (changing it, even
    for a moment, races with other threads creating files)."""
    try:
        with open("/proc/self/status", encoding="ascii", errors="replace") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    # The most restrictive value while it is swapped, so a racing thread errs on the safe side.
    old = os.umask(0o077)
    os.umask(old)
    return old


def write_arrays(arrays: dict[str, np.ndarray], path: str | Path, compress: bool = True
                 ) -> Path:
    """Write a snapshot from ``run_arrays`` (safe to call from another thread).

    The file gets the mode a plain ``open`` would give (0666 less the umask): ``mkstemp``
    alone makes it 0600 whatever the umask.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".vgrad-", suffix=".npz", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            if compress:
                np.savez_compressed(fh, **arrays)  # type: ignore[arg-type]
            else:
                np.savez(fh, **arrays)  # type: ignore[arg-type]
            fh.flush()
            os.fsync(fh.fileno())
            if hasattr(os, "fchmod"):
                os.fchmod(fh.fileno(), 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


# -- reading: the archive -----------------------------------------------------------------

def _open_regular(path: Path) -> IO[bytes]:
    """Open without blocking (a FIFO would block a plain open) and only a regular file."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    except FileNotFoundError:
        raise RunFileError(path, "no such file") from None
    except IsADirectoryError:
        raise RunFileError(path, "is a directory, not a run file") from None
    except OSError as exc:
        raise RunFileError(path, f"cannot be read ({exc.strerror})") from None
    try:
        st = os.fstat(fd)
        if stat.S_ISDIR(st.st_mode):
            raise RunFileError(path, "is a directory, not a run file")
        if not stat.S_ISREG(st.st_mode):
            raise RunFileError(path, "is not a regular file (a run file is a .npz archive)")
        if st.st_size > MAX_FILE_BYTES:
            raise RunFileError(path, f"is {st.st_size / 2**20:.0f} MiB; run files are at most "
                               f"{MAX_FILE_BYTES >> 20} MiB")
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


_NOT_A_RUN = ("not a run file (a run file is a .npz archive, as written by 'vgrad-gui record' "
              "or File > Save run)")
_DAMAGED = "not a run file (not a readable .npz archive; damaged or truncated?)"


def _check_directory(path: Path, fh: IO[bytes]) -> None:
    """Bound what zipfile will parse, by reading the end record the way zipfile finds it."""
    size = fh.seek(0, os.SEEK_END)
    fh.seek(0)
    if fh.read(4) != b"PK\x03\x04":
        raise RunFileError(path, _NOT_A_RUN)
    # zipfile looks at the last 22 bytes, then searches the last 64 KiB + 22 for the record;
    # 20 bytes more hold a ZIP64 locator in front of it.
    window = 22 + (1 << 16)
    tail_len = min(size, window + 20)
    fh.seek(size - tail_len)
    tail = fh.read(tail_len)
    pos = len(tail) - 22
    if pos < 0 or tail[pos : pos + 4] != b"PK\x05\x06" or tail[-2:] != b"\0\0":
        pos = tail.rfind(b"PK\x05\x06", max(0, len(tail) - window))
    if pos < 0 or len(tail) - pos < 22:
        raise RunFileError(path, _DAMAGED)
    fields = struct.unpack("<4s4H2LH", tail[pos : pos + 22])
    n_entries, dir_size = fields[4], fields[5]
    if pos >= 20 and tail[pos - 20 : pos - 16] == b"PK\x06\x07":
        raise RunFileError(path, "uses a ZIP64 directory, which run files never need")
    if n_entries > MAX_MEMBERS or dir_size > MAX_DIRECTORY_BYTES:
        raise RunFileError(path, f"has {n_entries} entries ({dir_size} bytes of directory); "
                           f"a run file has at most {MAX_MEMBERS}")
    fh.seek(0)


def _describe(exc: BaseException) -> str:
    text = str(exc)
    name = "zlib.error" if isinstance(exc, zlib.error) else type(exc).__name__
    return f"{name}: {text}" if text else name


@dataclass
class _Want:
    """What an array must be: dtype kinds, and either a shape (and an older, equivalent one),
    or a maximum length of a vector, or a maximum of each dimension (``max_shape``)."""

    kinds: str
    shape: tuple[int, ...] | None
    legacy_shape: tuple[int, ...] | None = None
    max_len: int = 0
    max_itemsize: int = 8
    max_shape: tuple[int, ...] | None = None


_KIND_WORDS = {"iu": "integers", "fiu": "numbers", "f": "floating-point numbers", "U": "text"}


class _Archive:
    """The members of one run file, each read only when asked for, every size checked first.

    ``view(prefix)`` gives the members of one run of a comparison: the same archive and load
    budget, keys relative to the prefix, messages naming the full member."""

    def __init__(self, path: Path, zf: zipfile.ZipFile, budget: int) -> None:
        self.path = path
        self.zf = zf
        self._budget = [budget]  # one list shared by every view
        self.prefix = ""
        self.members: dict[str, list[zipfile.ZipInfo]] = {}
        for info in zf.infolist():
            if info.filename.endswith(".npy"):
                self.members.setdefault(info.filename[:-4], []).append(info)

    def view(self, prefix: str) -> _Archive:
        out = copy.copy(self)
        out.prefix = prefix
        return out

    @property
    def budget(self) -> int:
        return self._budget[0]

    def fail(self, problem: str) -> RunFileError:
        """A problem of this run (its prefix in front, as in 'r1/meta.layer_names ...')."""
        return RunFileError(self.path, f"{self.prefix}{problem}")

    def error(self, key: str, problem: str) -> RunFileError:
        return RunFileError(self.path, f"array '{self.prefix}{key}' {problem}")

    def has(self, key: str) -> bool:
        return self.prefix + key in self.members

    def _info(self, key: str) -> zipfile.ZipInfo:
        infos = self.members.get(self.prefix + key)
        if not infos:
            raise RunFileError(self.path, f"missing array '{self.prefix}{key}'")
        if len(infos) > 1:
            raise self.error(key, "is stored twice in the archive")
        info = infos[0]
        if info.flag_bits & 0x1:
            raise self.error(key, "is encrypted; run files are never encrypted")
        if info.flag_bits & ~_ALLOWED_FLAGS:
            raise self.error(key, f"uses zip features a run file never has (flags "
                             f"0x{info.flag_bits:04x})")
        if info.compress_type not in _METHODS:
            raise self.error(key, f"uses compression method {info.compress_type}; run files "
                             "use only stored or deflated members")
        return info

    def array(self, key: str, want: _Want) -> np.ndarray:
        info = self._info(key)
        if want.max_shape is not None:
            n_max = math.prod(want.max_shape)
        else:
            n_max = want.max_len if want.shape is None else math.prod(want.shape)
        limit = MAX_NPY_HEADER + want.max_itemsize * n_max
        if info.file_size > limit:
            raise self.error(key, f"declares {info.file_size} bytes; at most {limit} fit its "
                             "expected shape")
        if info.file_size > self.budget:
            raise self.error(key, "would take the load past its memory budget")
        try:
            with self.zf.open(info) as fh:
                dtype, fortran, shape, header_end = self._header(key, fh, want)
                nbytes = math.prod(shape) * dtype.itemsize
                if info.file_size != header_end + nbytes:
                    raise self.error(key, f"declares {info.file_size} bytes but its header "
                                     f"describes {header_end + nbytes}")
                data = fh.read(nbytes)
                if len(data) != nbytes:
                    raise self.error(key, "is truncated")
                fh.read(1)  # reaching the end makes zipfile check the CRC
        except RunFileError:
            raise
        except _DECODE_ERRORS as exc:
            raise self.error(key, f"cannot be decoded (damaged: {_describe(exc)})") from None
        self._budget[0] -= nbytes
        if dtype.kind == "U":
            return self._text(key, data, dtype)
        arr = np.frombuffer(data, dtype)
        arr = arr.reshape(shape[::-1]).T if fortran else arr.reshape(shape)
        return arr.reshape(want.shape) if want.shape is not None else arr

    def _header(self, key: str, fh: IO[bytes], want: _Want
                ) -> tuple[np.dtype, bool, tuple[int, ...], int]:
        version = npy_format.read_magic(fh)
        if version not in ((1, 0), (2, 0)):
            raise self.error(key, f"has .npy format version {version}; run files use 1.0 "
                             "or 2.0")
        read = (npy_format.read_array_header_1_0 if version == (1, 0)
                else npy_format.read_array_header_2_0)
        try:
            shape, fortran, dtype = read(fh, max_header_size=MAX_NPY_HEADER)
        except Exception as exc:
            # numpy parses the header with tokenize and ast, whose errors vary by version;
            # whatever they raise, the header is garbage.
            raise self.error(key, f"has a garbage .npy header ({_describe(exc)})") from None
        if dtype.hasobject:
            raise self.error(key, "holds pickled objects, which are never loaded")
        if dtype.kind not in want.kinds or dtype.itemsize > want.max_itemsize:
            raise self.error(key, f"has type {dtype}, expected {_KIND_WORDS[want.kinds]}")
        if want.max_shape is not None:
            ok = len(shape) == len(want.max_shape) and all(
                d <= m for d, m in zip(shape, want.max_shape, strict=True))
            expected = f"{len(want.max_shape)} dimensions of at most {want.max_shape}"
        elif want.shape is None:
            ok = len(shape) == 1 and shape[0] <= want.max_len
            expected = f"a vector of at most {want.max_len}"
        else:
            ok = shape in (want.shape, want.legacy_shape)
            expected = str(want.shape)
        if not ok:
            raise self.error(key, f"has shape {shape}, expected {expected}")
        return dtype, bool(fortran), shape, fh.tell()

    def _text(self, key: str, data: bytes, dtype: np.dtype) -> np.ndarray:
        codec = "utf-32-be" if dtype.byteorder == ">" else "utf-32-le"
        try:
            text = data.decode(codec).rstrip("\0")
        except UnicodeDecodeError:
            raise self.error(key, "holds characters that are not valid Unicode") from None
        return np.array(text)


# -- reading: meta ----------------------------------------------------------------------------

_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)


class _TooLong(ValueError):
    pass


def _bounded_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise _TooLong(f"a number with {len(text.lstrip('-'))} digits")
    return int(text)


def _json_depth(text: str) -> int:
    skeleton = _JSON_STRING.sub('""', text).encode("ascii", "replace")
    b = np.frombuffer(skeleton, np.uint8)
    delta = (np.isin(b, (ord("["), ord("{"))).astype(np.int32)
             - np.isin(b, (ord("]"), ord("}"))))
    return int(np.cumsum(delta).max()) if len(delta) else 0


def _read_meta(arc: _Archive) -> dict[str, Any]:
    """The ``meta`` of this archive view, parsed (format checked, nothing else)."""
    if not arc.has("meta"):
        if not arc.prefix:
            raise RunFileError(arc.path, "not a vgrad-gui run file (no 'meta' entry)")
        raise arc.fail("meta is missing: every run of a comparison has its own 'meta'")
    meta_arr = arc.array("meta", _Want("U", (), max_itemsize=4 * MAX_META_CHARS))
    return _parse_meta(arc, str(meta_arr))


def _parse_meta(arc: _Archive, text: str) -> dict[str, Any]:
    key = f"{arc.prefix}meta"
    if _json_depth(text) > MAX_JSON_DEPTH:
        raise RunFileError(arc.path, f"'{key}' nests deeper than {MAX_JSON_DEPTH} levels")
    try:
        meta = json.loads(text, parse_int=_bounded_int)
    except json.JSONDecodeError as exc:
        raise RunFileError(arc.path, f"'{key}' is not valid JSON ({exc.msg})") from None
    except _TooLong as exc:
        raise RunFileError(arc.path, f"'{key}' holds {exc}") from None
    except (ValueError, RecursionError, OverflowError) as exc:
        raise RunFileError(arc.path, f"'{key}' is not valid JSON ({_describe(exc)})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise RunFileError(arc.path, f"not a vgrad-gui run file ({key}.format is not "
                           f"'{FORMAT}')")
    try:
        json.dumps(meta, ensure_ascii=False).encode("utf-8")
    except (UnicodeEncodeError, ValueError):
        raise RunFileError(arc.path, f"'{key}' holds text that is not valid Unicode") from None
    return meta


def _json(value: Any) -> str:
    return "null" if value is None else _one_line(repr(value), 40)


def _is_int(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _short_text(value: Any, limit: int) -> bool:
    return isinstance(value, str) and len(value) <= limit and value.isprintable()


@dataclass
class _Meta:
    version: int
    config: Config
    names: list[str]
    kind: str
    decimated: dict[str, Any]
    nonfinite: Any
    extra: dict[str, Any]


def _file_version(path: Path, meta: dict[str, Any]) -> int:
    version = meta.get("format_version")
    if not _is_int(version) or not 1 <= version <= FORMAT_VERSION:
        raise RunFileError(path, f"format version {_one_line(repr(version), 40)} is not "
                           f"supported (this vgrad-gui reads versions 1 to {FORMAT_VERSION})")
    return version


def _check_meta(arc: _Archive, meta: dict[str, Any], version: int) -> _Meta:
    """The meta of one run (the file's own, or ``r<i>/meta`` of a comparison's run i)."""
    if arc.prefix:
        if meta.get("format_version") != version:
            raise arc.fail(f"meta.format_version is {_json(meta.get('format_version'))}; "
                           f"every run of a version-{version} file is version {version}")
        if "runs" in meta:
            raise arc.fail("meta.runs must be absent: a run of a comparison holds one run")
    config_words = f"{arc.prefix}meta.config" if arc.prefix else "its config"
    try:
        config = Config.from_dict(meta.get("config"))
    except ConfigError as exc:
        raise RunFileError(arc.path, f"{config_words} is invalid: {exc}") from None
    except (ValueError, TypeError, OverflowError, RecursionError) as exc:
        raise RunFileError(arc.path, f"{config_words} is invalid: {_describe(exc)}") from None
    names = meta.get("layer_names")
    if (not isinstance(names, list) or len(names) != config.depth + 1
            or not all(_short_text(n, MAX_NAME) for n in names)):
        raise arc.fail("meta.layer_names must list depth + 1 layer names (printable, "
                       f"at most {MAX_NAME} characters each)")
    kind = meta.get("inactive_kind", "")
    if not _short_text(kind, MAX_NAME):
        raise arc.fail("meta.inactive_kind must be a short name")
    decimated = meta.get("decimated_records", {})
    if not isinstance(decimated, dict):
        raise arc.fail("meta.decimated_records must be an object")
    extra = meta.get("extra") or {}
    if not isinstance(extra, dict):
        raise arc.fail("meta.extra must be an object")
    return _Meta(version, config, names, kind, decimated, meta.get("first_nonfinite_step"),
                 extra)


# -- reading: tables ------------------------------------------------------------------------

def _capacity(series: Series) -> tuple[int, int]:
    """(most decimated records, most full-resolution records) a series can save."""
    # +1: a partly filled bucket is saved as one more decimated record.
    return series.coarse_capacity + 1, series.raw_keep + series.raw_chunk


def _integers(arc: _Archive, key: str, arr: np.ndarray, lowest: int) -> np.ndarray:
    """Any integer dtype, as int64, if every value fits the range of a step count."""
    if arr.size:
        lo, hi = int(arr.min()), int(arr.max())
        if lo < lowest:
            raise arc.error(key, f"holds {lo}; its values start at {lowest}")
        if hi > MAX_STEP:
            raise arc.error(key, f"holds {hi}; its values are at most 2**53")
    return arr.astype(np.int64)


def _read_steps(arc: _Archive, series: Series, table: str, prefix: str, nd: Any
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """(first, last, count) of every record, and how many are decimated, all consistent."""
    max_dec, max_raw = _capacity(series)
    key = f"{prefix}step"
    last = _integers(arc, key, arc.array(key, _Want("iu", None, max_len=max_dec + max_raw)), 1)
    n = len(last)
    if not _is_int(nd) or not 0 <= nd <= min(n, max_dec) or n - nd > max_raw:
        raise arc.fail(f"meta.decimated_records.{table} is {_one_line(repr(nd))}"
                           f"; with {n} records it must be 0 to {min(n, max_dec)} and leave at"
                           f" most {max_raw} full-resolution records")
    if n > 1 and (np.diff(last) <= 0).any():
        i = int(np.argmax(np.diff(last) <= 0))
        raise arc.error(key, f"must increase strictly (record {i + 1}: step {last[i + 1]} "
                        f"after {last[i]})")
    ckey = f"{prefix}record_steps"
    count = _integers(arc, ckey, arc.array(ckey, _Want("iu", (n,))), 1)
    if (count[nd:] != 1).any():
        raise arc.error(ckey, "must be 1 for every full-resolution record")
    first = last.copy()
    if nd:
        fkey = f"{prefix}first_step"
        first[:nd] = _integers(arc, fkey, arc.array(fkey, _Want("iu", (nd,))), 1)
        prev = np.r_[0, last[: nd - 1]]
        if (first[:nd] > last[:nd]).any() or (first[:nd] <= prev).any():
            raise arc.error(fkey, "is inconsistent: each decimated record must start after "
                            "the previous one ends and end at or after it starts")
        if (count[:nd] > last[:nd] - first[:nd] + 1).any():
            raise arc.error(ckey, "counts more steps than a decimated record spans")
    return first, last, count, nd


def _check_values(arc: _Archive, key: str, name: str, values: np.ndarray,
                  last: np.ndarray) -> None:
    bounds = VALUE_RANGE.get(name)
    if bounds is None or not values.size:
        return
    lo, hi = bounds
    with np.errstate(invalid="ignore"):
        bad = (values < lo) | (values > hi)
    if bad.any():
        i = int(np.argmax(bad.any(axis=1)))
        v = values[i][bad[i]][0]
        allowed = f"{lo:g} to {hi:g}" if hi < _INF else f">= {lo:g}"
        raise arc.error(key, f"holds {v:g} (record ending at step {last[i]}); allowed: "
                        f"{allowed}, or NaN" + (" or +Inf" if hi == _INF else ""))


def _read_channel(arc: _Archive, name: str, kind: str, width: int, version: int,
                  last: np.ndarray, nd: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    vector = kind == "one"
    legacy = _stored_as_vector(kind, width, version)
    out = []
    for key, rows in ((name, len(last)), (f"{name}_min", nd), (f"{name}_max", nd)):
        shape = (rows, width)
        want = _Want("fiu", shape[:1] if vector else shape, shape[:1] if legacy else None)
        arr = arc.array(key, want).reshape(shape).astype(np.float64)
        _check_values(arc, key, name, arr, last)
        out.append(arr)
    mean, mn, mx = out
    with np.errstate(invalid="ignore"):
        if (mn > mx).any():
            raise arc.error(f"{name}_min", f"exceeds '{name}_max' in a decimated record")
    return mean, mn, mx


def _load_table(arc: _Archive, history: RunHistory, table: str, meta: _Meta) -> None:
    prefix = _PREFIX[table]
    series = history.table(table)
    first, last, count, nd = _read_steps(arc, series, table, prefix,
                                         meta.decimated.get(table, 0))
    n = len(last)
    mean = np.full((n, series.width), np.nan)
    mn = np.full((nd, series.width), np.nan, np.float32)
    mx = np.full((nd, series.width), np.nan, np.float32)
    kinds = dict(TABLES[table])
    for name, width in history.layouts[table]:
        if meta.version < ADDED_IN.get(name, 1):
            continue  # recorded only by later versions: stays NaN
        cols = history.cols(table, name)
        mean[:, cols], mn[:, cols], mx[:, cols] = _read_channel(
            arc, name, kinds[name], width, meta.version, last, nd)
    if table == "steps":
        _check_nonfinite(arc, meta.nonfinite, history.n_layers, first, last, mean,
                         (mn, mx), nd)
    try:
        series.load_records(first, last, count, mean, mn, mx, nd)
    except ValueError as exc:
        raise RunFileError(arc.path, f"table '{arc.prefix}{table}': {exc}") from None


def _check_nonfinite(arc: _Archive, claimed: Any, n_layers: int, first: np.ndarray,
                     last: np.ndarray, mean: np.ndarray, extremes: tuple[np.ndarray, ...],
                     nd: int) -> None:
    """meta.first_nonfinite_step must be what ``records.first_nonfinite`` finds in the data
    (within the decimated record that holds it, when that record is decimated), so every view
    and the banner name the same step."""
    end = int(last[-1]) if len(last) else 0
    if claimed is not None and (not _is_int(claimed) or not 1 <= claimed <= end):
        raise arc.fail(f"meta.first_nonfinite_step is {_json(claimed)}"
                       f"; it must be null or a step of the run (1 to {end})")
    hits = [first_nonfinite(first[:nd], rows[:nd], n_layers) for rows in (mean, *extremes)]
    decimated = [h for h in hits if h is not None]
    if decimated:
        lo = min(decimated)
        hi = int(last[int(np.searchsorted(first[:nd], lo))])
        if claimed is None or not lo <= claimed <= hi:
            raise arc.fail(f"meta.first_nonfinite_step is {_json(claimed)}, but the "
                           "first non-finite gradient norm or loss is in the record of steps "
                           f"{lo} to {hi}")
        return
    found = first_nonfinite(last[nd:], mean[nd:], n_layers)
    if claimed != found:
        where = "nowhere" if found is None else f"at step {found}"
        raise arc.fail(f"meta.first_nonfinite_step is {_json(claimed)}, but the "
                       f"first non-finite gradient norm or loss is {where}")


def _check_runs_inside(arc: _Archive, history: RunHistory) -> None:
    end = history.step
    for table in ("probes", "evals"):
        last = history.table(table).last_step
        if last is not None and last > end:
            raise arc.error(f"{_PREFIX[table]}step", f"holds step {last}, after the run's last "
                            f"step ({end})")


# -- reading: the run's own arrays -------------------------------------------------------------

def _run_parts(arc: _Archive) -> dict[str, np.ndarray]:
    """The ``run_*`` arrays, each checked as the others are (run.py checks how they fit)."""
    out: dict[str, np.ndarray] = {}
    meta = arc.array("run_meta", _Want("U", (), max_itemsize=4 * MAX_META_CHARS))
    if _json_depth(str(meta)) > MAX_JSON_DEPTH:
        raise arc.error("run_meta", f"nests deeper than {MAX_JSON_DEPTH} levels")
    out["run_meta"] = meta
    if arc.has("run_points"):
        labels = arc.array("run_labels", _Want("iu", None, max_len=MAX_POINTS))
        out["run_labels"] = _integers(arc, "run_labels", labels, 0)
        points = arc.array("run_points", _Want("f", (len(labels), 2)))
        with np.errstate(over="ignore", invalid="ignore"):
            out["run_points"] = points.astype(np.float32)
            if not np.isfinite(out["run_points"]).all():
                raise arc.error("run_points", "holds values that are not finite float32 numbers")
    if arc.has("run_boundary_step"):
        steps = arc.array("run_boundary_step", _Want("iu", None, max_len=MAX_SNAPSHOTS))
        out["run_boundary_step"] = _integers(arc, "run_boundary_step", steps, 0)
        grid = (len(steps), MAX_GRID, MAX_GRID)
        classes = arc.array("run_boundary_classes", _Want("iu", None, max_shape=grid))
        if classes.shape[:1] != (len(steps),):
            raise arc.error("run_boundary_classes", f"has shape {classes.shape}, expected one "
                            f"grid per step in 'run_boundary_step' ({len(steps)})")
        conf = arc.array("run_boundary_confidence", _Want("f", classes.shape))
        with np.errstate(over="ignore", invalid="ignore"):
            conf = conf.astype(np.float32)
            if not ((conf >= 0) & (conf <= 1)).all():
                raise arc.error("run_boundary_confidence", "holds values outside 0 to 1 (a "
                                "probability)")
        out["run_boundary_classes"] = classes.copy()
        out["run_boundary_confidence"] = conf
    return out


def _check_classes(arc: _Archive, run: Run) -> None:
    """Class numbers index colours and legends: each must be a class of the run."""
    top = run.n_classes - 1
    parts = [("run_labels", run.data.labels if run.data is not None else np.zeros(0))]
    parts += [("run_boundary_classes", s.classes) for s in run.boundaries.all()]
    for key, values in parts:
        if values.size and int(values.max()) > top:
            raise arc.error(key, f"holds class {int(values.max())}; this run has classes 0 to "
                            f"{top} (run_meta.n_classes)")


def _load_one(arc: _Archive, meta: _Meta, history: RunHistory, run_id: int,
              source: str) -> Run:
    for table in _PREFIX:
        _load_table(arc, history, table, meta)
    _check_runs_inside(arc, history)
    history.first_nonfinite_step = meta.nonfinite
    if meta.version < 3:
        run = Run.from_history(history, run_id=run_id, source=source)
        step = history.first_nonfinite_step
        if step is not None:  # what Run.append marks on a live run; older files keep no events
            run.add_event(Event(step, NONFINITE, f"gradients or loss became NaN/Inf at step "
                                f"{step}"))
            run.version = 0
        return run
    parts = _run_parts(arc)
    try:
        run = Run.from_arrays(history, parts, run_id=run_id, source=source)
    except RunError as exc:
        raise arc.fail(str(exc)) from None
    _check_classes(arc, run)
    return run


# -- reading: the file ------------------------------------------------------------------------

_RUN_MEMBER = re.compile(r"r\d+/")


@dataclass
class _Layout:
    version: int
    prefixes: list[str]  # [""] for one run, else "r0/", "r1/", ...
    labels: list[str] | None  # a comparison's top-level labels


def _layout(arc: _Archive, top: dict[str, Any]) -> _Layout:
    """How many runs the file holds and where; refuses run members it does not declare."""
    version = _file_version(arc.path, top)
    if version < 3:
        return _Layout(version, [""], None)
    declared = top.get("runs")
    if not _is_int(declared) or not 1 <= declared <= MAX_RUNS:
        raise RunFileError(arc.path, f"meta.runs is {_json(declared)}; a run file holds 1 to "
                           f"{MAX_RUNS} runs")
    n = declared
    prefixes = [""] if n == 1 else [run_prefix(i) for i in range(n)]
    labels = None
    if n > 1:
        labels = top.get("labels")
        if not isinstance(labels, list) or len(labels) != n or not all(
                _short_text(label, MAX_NAME) for label in labels):
            raise RunFileError(arc.path, f"meta.labels must list {n} labels (one per run; "
                               f"printable, at most {MAX_NAME} characters each)")
    for name in sorted(arc.members):
        match = _RUN_MEMBER.match(name)
        if match and match.group() not in prefixes:
            runs = ("one run, stored without a prefix" if n == 1
                    else f"{n} runs, r0/ to r{n - 1}/")
            raise RunFileError(arc.path, f"member '{name}.npy' belongs to no run: meta.runs "
                               f"declares {runs}")
    for prefix in prefixes:
        if prefix and not arc.has(prefix + "meta"):
            raise RunFileError(arc.path, f"missing array '{prefix}meta': meta.runs declares "
                               f"{n} runs, and every run has its own meta")
    return _Layout(version, prefixes, labels)


def _member_caps(history: RunHistory, version: int) -> dict[str, int]:
    """The most bytes each member this run's load reads may declare (its largest possible
    shape, 8-byte items), by name; the ``meta`` members are read before and not listed."""
    caps: dict[str, int] = {}
    if version >= 3:  # older files have no run_* arrays: any there are never read
        caps = {"run_meta": 4 * MAX_META_CHARS, "run_points": 8 * 2 * MAX_POINTS,
                "run_labels": 8 * MAX_POINTS, "run_boundary_step": 8 * MAX_SNAPSHOTS,
                "run_boundary_classes": 8 * MAX_SNAPSHOTS * MAX_GRID**2,
                "run_boundary_confidence": 8 * MAX_SNAPSHOTS * MAX_GRID**2}
    for table, prefix in _PREFIX.items():
        max_dec, max_raw = _capacity(history.table(table))
        rows = max_dec + max_raw
        caps[f"{prefix}step"] = caps[f"{prefix}record_steps"] = 8 * rows
        caps[f"{prefix}first_step"] = 8 * max_dec
        for name, width in history.layouts[table]:
            caps[name] = 8 * rows * width
            caps[f"{name}_min"] = caps[f"{name}_max"] = 8 * max_dec * width
    return {name: cap + MAX_NPY_HEADER for name, cap in caps.items()}


def _check_sizes(arc: _Archive, runs: list[tuple[_Archive, RunHistory]], version: int
                 ) -> None:
    """Every member the load will read declares a size its run's layout allows, and all of
    them together fit the load's budget: checked before any of their data is read."""
    total = 0
    for sub, history in runs:
        for name, cap in _member_caps(history, version).items():
            for info in arc.members.get(sub.prefix + name, []):
                if info.file_size > cap:
                    raise sub.error(name, f"declares {info.file_size} bytes; at most {cap} fit "
                                    "its expected shape")
                total += info.file_size
    if total > arc.budget:
        raise RunFileError(arc.path, f"its arrays declare {total} bytes in all, which would "
                           f"take the load past its memory budget ({arc.budget} bytes left)")


@contextmanager
def _opened(path: Path, max_bytes: int) -> Iterator[_Archive]:
    with _open_regular(path) as fh:
        try:
            _check_directory(path, fh)
            zf = zipfile.ZipFile(fh)
        except RunFileError:
            raise
        except _DECODE_ERRORS:
            raise RunFileError(path, _DAMAGED) from None
        with zf:
            yield _Archive(path, zf, max_bytes)


def _load(path: Path, max_bytes: int, one: bool) -> list[Run]:
    with _opened(path, max_bytes) as arc:
        top = _read_meta(arc)
        layout = _layout(arc, top)
        if one and len(layout.prefixes) > 1:
            raise RunFileError(path, f"holds {len(layout.prefixes)} runs (a comparison); "
                               "load_run reads one run: use load_runs")
        runs: list[tuple[_Archive, _Meta, RunHistory]] = []
        for prefix in layout.prefixes:
            sub = arc.view(prefix)
            meta = _check_meta(sub, _read_meta(sub) if prefix else top, layout.version)
            runs.append((sub, meta, RunHistory(meta.config, meta.names, meta.kind, meta.extra)))
        _check_sizes(arc, [(sub, history) for sub, _, history in runs], layout.version)
        out = [_load_one(sub, meta, history, i, str(path))
               for i, (sub, meta, history) in enumerate(runs)]
    if layout.labels is not None:
        for i, (label, run) in enumerate(zip(layout.labels, out, strict=True)):
            if label != run.label:
                raise RunFileError(path, f"meta.labels[{i}] is {_json(label)}, but run "
                                   f"{run_prefix(i)} is labelled {_json(run.label)}")
    return out


def load_runs(path: str | Path, max_bytes: int = MAX_LOAD_BYTES) -> list[Run]:
    """Every run of a run file (1 to MAX_RUNS; files of versions 1 and 2 hold one), checked
    completely, or RunFileError; never half-loaded. Run i gets run_id i, source ``str(path)``
    and the label it was saved with; versions 1 and 2 take their shape from their config.

    At most ``max_bytes`` of array data is decoded. Safe to call from any thread: it shares
    no state with other calls.
    """
    return _load(Path(path), max_bytes, one=False)


def load_run(path: str | Path, max_bytes: int = MAX_LOAD_BYTES) -> RunHistory:
    """The history of a one-run file, checked as ``load_runs`` checks it. A file of several
    runs is refused (RunFileError saying to use ``load_runs``) before any of its data is read:
    returning one run of a comparison would drop the others unseen."""
    return _load(Path(path), max_bytes, one=True)[0].history
