"""RunHistory: what a run recorded, in memory that stays bounded however long the run.

Each table (steps, probes, evals) is a ``Series``: the most recent rows at full resolution,
older rows folded into buckets that keep min, max and mean, so a one-step spike still shows in
the max of the bucket that holds it. Buckets have one size at a time; when they fill their
array, neighbours merge in pairs and the size doubles. Memory is therefore fixed by the
capacities, not by the run length.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from vgrad_gui.core.records import RecordBlock, channel_widths, first_nonfinite
from vgrad_gui.core.spec import Config

RAW_KEEP = 10_240  # rows always kept at full resolution (runs up to this long lose nothing)
RAW_CHUNK = 2_048  # rows folded into buckets at a time, so folding is vectorised
COARSE_CAPACITY = 2_048  # buckets (must be even): about one per pixel column of a wide plot
# The probe and eval tables get a row only every ~100 steps, so they need far less.
SPARSE = {"raw_keep": 1_024, "raw_chunk": 256, "coarse_capacity": 512}


@dataclass
class Binned:
    """A table decimated for drawing: one entry per non-empty bin."""

    x: np.ndarray  # float64 [bins]: mean step of what fell in each bin
    mean: np.ndarray  # float64 [bins, k]
    min: np.ndarray  # float32 [bins, k]
    max: np.ndarray  # float32 [bins, k]


class Series:
    """A bounded, multi-resolution table of float32 rows keyed by increasing step numbers."""

    def __init__(self, width: int, raw_keep: int = RAW_KEEP, raw_chunk: int = RAW_CHUNK,
                 coarse_capacity: int = COARSE_CAPACITY) -> None:
        if coarse_capacity % 2:
            raise ValueError("coarse_capacity must be even")
        self.width = width
        self.raw_keep = raw_keep
        self.raw_chunk = raw_chunk
        self.coarse_capacity = coarse_capacity
        self._raw = np.empty((0, width), np.float32)
        self._raw_steps = np.empty(0, np.int64)
        self._n_raw = 0
        self._c_min = np.empty((0, width), np.float32)
        self._c_max = np.empty((0, width), np.float32)
        self._c_mean = np.empty((0, width), np.float32)
        self._c_count = np.empty(0, np.int64)
        self._c_first = np.empty(0, np.int64)
        self._c_last = np.empty(0, np.int64)
        self._n_coarse = 0
        self.span = 1  # raw rows per full bucket
        self._pending: tuple[np.ndarray, np.ndarray, np.ndarray, int, int, int] | None = None
        self.total_rows = 0
        self.version = 0  # bumps on every change, so views can skip redrawing

    # -- writing ------------------------------------------------------------------------
    def extend(self, steps: np.ndarray, rows: np.ndarray) -> None:
        steps = np.asarray(steps, np.int64)
        rows = np.asarray(rows, np.float32)
        if rows.ndim != 2 or rows.shape[1] != self.width or len(steps) != len(rows):
            raise ValueError(f"rows must be [n, {self.width}] with n steps; got {rows.shape} "
                             f"and {steps.shape}")
        n = len(rows)
        if n == 0:
            return
        limit = self.raw_keep + self.raw_chunk
        start = 0
        while start < n:
            if self._n_raw == limit:
                self._evict(self.raw_chunk)
            take = min(n - start, limit - self._n_raw)
            self._ensure_raw(self._n_raw + take)
            self._raw[self._n_raw : self._n_raw + take] = rows[start : start + take]
            self._raw_steps[self._n_raw : self._n_raw + take] = steps[start : start + take]
            self._n_raw += take
            start += take
        self.total_rows += n
        self.version += 1

    def _ensure_raw(self, need: int) -> None:
        cap = len(self._raw)
        if need <= cap:
            return
        new_cap = min(max(need, 2 * cap, 256), self.raw_keep + self.raw_chunk)
        raw = np.empty((new_cap, self.width), np.float32)
        raw[: self._n_raw] = self._raw[: self._n_raw]
        steps = np.empty(new_cap, np.int64)
        steps[: self._n_raw] = self._raw_steps[: self._n_raw]
        self._raw, self._raw_steps = raw, steps

    def _evict(self, n: int) -> None:
        self._fold(self._raw_steps[:n].copy(), self._raw[:n].copy())
        keep = self._n_raw - n
        self._raw[:keep] = self._raw[n : self._n_raw]
        self._raw_steps[:keep] = self._raw_steps[n : self._n_raw]
        self._n_raw = keep

    def _fold(self, steps: np.ndarray, rows: np.ndarray) -> None:
        i, n = 0, len(rows)
        while i < n:
            if self._pending is not None:
                mn, mx, sm, count, first, _last = self._pending
                take = min(self.span - count, n - i)
                block = rows[i : i + take]
                self._pending = (np.minimum(mn, block.min(0)), np.maximum(mx, block.max(0)),
                                 sm + block.sum(0, dtype=np.float64), count + take, first,
                                 int(steps[i + take - 1]))
                i += take
                if self._pending[3] >= self.span:
                    if self._n_coarse == self.coarse_capacity:
                        # Merging doubles the span, so this bucket keeps filling instead.
                        self._merge()
                    else:
                        self._push_pending()
                continue
            nb = (n - i) // self.span
            if nb == 0:
                block = rows[i:]
                self._pending = (block.min(0), block.max(0), block.sum(0, dtype=np.float64),
                                 n - i, int(steps[i]), int(steps[-1]))
                break
            if self._n_coarse == self.coarse_capacity:
                self._merge()
                continue
            nb = min(nb, self.coarse_capacity - self._n_coarse)
            s = self.span
            block = rows[i : i + nb * s].reshape(nb, s, self.width)
            self._push(block.min(1), block.max(1), block.mean(1, dtype=np.float64),
                       np.full(nb, s, np.int64), steps[i : i + nb * s : s],
                       steps[i + s - 1 : i + nb * s : s])
            i += nb * s

    def _push_pending(self) -> None:
        assert self._pending is not None
        mn, mx, sm, count, first, last = self._pending
        self._pending = None
        self._push(mn[None], mx[None], (sm / count)[None], np.array([count]),
                   np.array([first]), np.array([last]))

    def _push(self, mn: np.ndarray, mx: np.ndarray, mean: np.ndarray, count: np.ndarray,
              first: np.ndarray, last: np.ndarray) -> None:
        k = len(count)
        need = self._n_coarse + k
        if need > len(self._c_count):
            cap = min(max(need, 2 * len(self._c_count), 64), self.coarse_capacity)
            self._c_min = _grow(self._c_min, cap, self._n_coarse)
            self._c_max = _grow(self._c_max, cap, self._n_coarse)
            self._c_mean = _grow(self._c_mean, cap, self._n_coarse)
            self._c_count = _grow(self._c_count, cap, self._n_coarse)
            self._c_first = _grow(self._c_first, cap, self._n_coarse)
            self._c_last = _grow(self._c_last, cap, self._n_coarse)
        sl = slice(self._n_coarse, need)
        self._c_min[sl], self._c_max[sl], self._c_mean[sl] = mn, mx, mean
        self._c_count[sl], self._c_first[sl], self._c_last[sl] = count, first, last
        self._n_coarse = need

    def _merge(self) -> None:
        """Halve the buckets by merging neighbours; NaN and Inf propagate (never dropped)."""
        n = self._n_coarse
        h = n // 2
        for arr, op in ((self._c_min, np.minimum), (self._c_max, np.maximum)):
            arr[:h] = op(arr[0:n:2], arr[1:n:2])
        c0, c1 = self._c_count[0:n:2, None], self._c_count[1:n:2, None]
        self._c_mean[:h] = (self._c_mean[0:n:2] * c0 + self._c_mean[1:n:2].astype(np.float64)
                            * c1) / (c0 + c1)
        self._c_count[:h] = self._c_count[0:n:2] + self._c_count[1:n:2]
        self._c_first[:h] = self._c_first[0:n:2]
        self._c_last[:h] = self._c_last[1:n:2]
        self._n_coarse = h
        self.span *= 2

    # -- reading --------------------------------------------------------------------------
    def __len__(self) -> int:
        """Records held: buckets (including a partly filled one) plus full-resolution rows."""
        return self._n_coarse + (self._pending is not None) + self._n_raw

    @property
    def n_raw(self) -> int:
        return self._n_raw

    @property
    def decimated(self) -> bool:
        return self._n_coarse > 0 or self._pending is not None

    @property
    def last_step(self) -> int | None:
        if self._n_raw:
            return int(self._raw_steps[self._n_raw - 1])
        if self._pending is not None:
            return self._pending[5]
        return int(self._c_last[self._n_coarse - 1]) if self._n_coarse else None

    def last_row(self) -> np.ndarray | None:
        if self._n_raw:
            return self._raw[self._n_raw - 1]
        return None

    def raw(self, cols: slice | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The full-resolution rows (views, do not modify): steps [n], rows [n, k]."""
        rows = self._raw[: self._n_raw]
        return self._raw_steps[: self._n_raw], rows if cols is None else rows[:, cols]

    @property
    def first_step(self) -> int | None:
        """The first step still held (in a bucket or a row), without copying anything."""
        if self._n_coarse:
            return int(self._c_first[0])
        if self._pending is not None:
            return int(self._pending[4])
        return int(self._raw_steps[0]) if self._n_raw else None

    def record_at(self, step: float, cols: slice) -> tuple[int, np.ndarray] | None:
        """The last record ending at or before ``step`` (a row, or a bucket's mean) as (its
        last step, float64 values of ``cols``): what ``records`` would give at that index, by
        binary search instead of a copy of the whole table (the timeline reads it per move)."""
        if self._n_raw:
            steps = self._raw_steps[: self._n_raw]
            j = int(np.searchsorted(steps, step, side="right")) - 1
            if j >= 0:
                return int(steps[j]), self._raw[j, cols].astype(np.float64)
        if self._pending is not None:
            _, _, sm, count, _, last = self._pending
            if last <= step:
                return int(last), np.asarray((sm / count)[cols], np.float64)
        nc = self._n_coarse
        if nc:
            i = int(np.searchsorted(self._c_last[:nc], step, side="right")) - 1
            if i >= 0:
                return int(self._c_last[i]), self._c_mean[i, cols].astype(np.float64)
        return None

    def records(self, cols: slice | None = None, covering: int | None = None
                ) -> dict[str, np.ndarray]:
        """Every record, oldest first: buckets then full-resolution rows, as new arrays;
        ``covering``: only the oldest records that cover that many steps, when the buckets do
        (the start of a long run, without copying its raw rows: the banner asks every turn).

        Keys: first, last (step range), count (rows per record), mean, min, max.
        """
        cs = cols if cols is not None else slice(None)
        nc = self._n_coarse
        if covering is not None and nc:
            k = int(np.searchsorted(np.cumsum(self._c_count[:nc]), covering)) + 1
            if k <= nc:
                return {"first": self._c_first[:k].copy(), "last": self._c_last[:k].copy(),
                        "count": self._c_count[:k].copy(),
                        "mean": self._c_mean[:k, cs].astype(np.float64),
                        "min": self._c_min[:k, cs].copy(), "max": self._c_max[:k, cs].copy()}
        firsts = [self._c_first[:nc]]
        lasts = [self._c_last[:nc]]
        counts = [self._c_count[:nc]]
        means = [self._c_mean[:nc, cs].astype(np.float64)]
        mins = [self._c_min[:nc, cs]]
        maxs = [self._c_max[:nc, cs]]
        if self._pending is not None:
            mn, mx, sm, count, first, last = self._pending
            firsts.append(np.array([first]))
            lasts.append(np.array([last]))
            counts.append(np.array([count]))
            means.append((sm / count)[None, cs])
            mins.append(mn[None, cs])
            maxs.append(mx[None, cs])
        steps, rows = self.raw(cs)
        firsts.append(steps)
        lasts.append(steps)
        counts.append(np.ones(len(steps), np.int64))
        means.append(rows.astype(np.float64))
        mins.append(rows)
        maxs.append(rows)
        return {"first": np.concatenate(firsts), "last": np.concatenate(lasts),
                "count": np.concatenate(counts), "mean": np.concatenate(means),
                "min": np.concatenate(mins), "max": np.concatenate(maxs)}

    def _parts(self, cols: slice, after: float = -np.inf) -> list[tuple[np.ndarray, ...]]:
        """(x, sum, count, min, max) of the bucket part and of the raw part, each sorted by x
        (a bucket's x is the middle of its steps); only items with x > ``after``."""
        parts: list[tuple[np.ndarray, ...]] = []
        nc = self._n_coarse
        c0 = int(np.searchsorted(self._c_last[:nc], after, side="right")) if nc else 0
        if c0 < nc or self._pending is not None:
            first = self._c_first[c0:nc].astype(np.float64)
            last = self._c_last[c0:nc].astype(np.float64)
            cnt = self._c_count[c0:nc]
            sm = self._c_mean[c0:nc, cols] * cnt[:, None]  # float64
            mn, mx = self._c_min[c0:nc, cols], self._c_max[c0:nc, cols]
            if self._pending is not None:
                p_mn, p_mx, p_sm, p_cnt, p_first, p_last = self._pending
                first = np.append(first, p_first)
                last = np.append(last, p_last)
                sm = np.concatenate([sm, p_sm[None, cols]])
                cnt = np.append(cnt, p_cnt)
                mn = np.concatenate([mn, p_mn[None, cols]])
                mx = np.concatenate([mx, p_mx[None, cols]])
            x = (first + last) / 2
            keep = x > after
            if not keep.all():
                x, sm, cnt, mn, mx = x[keep], sm[keep], cnt[keep], mn[keep], mx[keep]
            if len(x):
                parts.append((x, sm, cnt, mn, mx))
        if self._n_raw:
            steps = self._raw_steps[: self._n_raw]
            r0 = int(np.searchsorted(steps, after, side="right"))
            if r0 < self._n_raw:
                rows = self._raw[r0 : self._n_raw, cols]
                parts.append((steps[r0:].astype(np.float64), rows,
                              np.ones(len(rows), np.int64), rows, rows))
        return parts

    def nbytes(self) -> int:
        arrays: list[np.ndarray] = [self._raw, self._raw_steps, self._c_min, self._c_max,
                                    self._c_mean, self._c_count, self._c_first, self._c_last]
        return sum(a.nbytes for a in arrays)

    # -- state for the run file ---------------------------------------------------------
    def load_records(self, first: np.ndarray, last: np.ndarray, count: np.ndarray,
                     mean: np.ndarray, mn: np.ndarray, mx: np.ndarray, n_decimated: int) -> None:
        """Restore from ``records()`` output (used by the run-file reader, which has checked
        the shapes and step order)."""
        nd = n_decimated
        if nd > self.coarse_capacity + 1:
            raise ValueError("more decimated records than a history holds")
        raw_rows = mean[nd:].astype(np.float32)
        if len(raw_rows) > self.raw_keep + self.raw_chunk:
            raise ValueError("more full-resolution rows than a history holds")
        # A full history saves its partly filled bucket as one more record: it is pending.
        pushed = min(nd, self.coarse_capacity)
        if pushed:
            self._push(mn[:pushed].astype(np.float32), mx[:pushed].astype(np.float32),
                       mean[:pushed].astype(np.float32), count[:pushed].astype(np.int64),
                       first[:pushed].astype(np.int64), last[:pushed].astype(np.int64))
            self.span = int(count[:pushed].max())
        if nd > pushed:
            c = int(count[pushed])
            self._pending = (mn[pushed].astype(np.float32), mx[pushed].astype(np.float32),
                             mean[pushed].astype(np.float64) * c, c, int(first[pushed]),
                             int(last[pushed]))
        self._ensure_raw(len(raw_rows))
        self._raw[: len(raw_rows)] = raw_rows
        self._raw_steps[: len(raw_rows)] = last[nd:].astype(np.int64)
        self._n_raw = len(raw_rows)
        self.total_rows = int(count.sum())
        self.version += 1


class AlignedBins:
    """Decimates one column range of a Series over the whole run, for drawing, incrementally.

    Bins are ``width`` steps wide (a power of two) and aligned to multiples of it. Each call
    folds in only what arrived since the last one: completed bins never change, and the bin
    still filling is kept as a running sum, min and max. So the cost per frame stays flat
    however long the run. When the run outgrows ``max_bins`` bins, neighbouring bins merge in
    pairs (exactly: counts, sums, min and max).
    """

    FIELDS = ("_bin", "_xw", "_sum", "_cnt", "_min", "_max")

    def __init__(self, series: Series, cols: slice) -> None:
        self.series = series
        self.cols = cols
        self.k = len(range(*cols.indices(series.width)))
        self.width = 0
        self._reset()

    def _reset(self) -> None:
        k = self.k
        # Every bin folded so far, the last one possibly still filling.
        self._bin = np.empty(0, np.int64)
        self._xw = np.empty(0)  # sum of x * count
        self._sum = np.empty((0, k))
        self._cnt = np.empty(0, np.int64)
        self._min = np.empty((0, k), np.float32)
        self._max = np.empty((0, k), np.float32)
        self.upto = 0.0  # every item with x <= upto has been folded in

    def get(self, max_bins: int) -> Binned:
        last = self.series.last_step
        if last is None:
            self._reset()
            e = np.empty((0, self.k))
            return Binned(np.empty(0), e, e.astype(np.float32), e.astype(np.float32))
        # The finest power-of-two width that fits, from 1: a plot that grew wider (or a run
        # first drawn while its dock was narrow) gets finer bins again.
        width = 1
        while -(-last // width) > max(1, max_bins):
            width *= 2
        if self.width == 0 or width < self.width or last < self.upto:
            self._reset()  # first call, a wider plot, or the series was replaced
        else:
            while self.width < width:
                self._merge_pairs()
        self.width = width
        new = self._bin_items(self.series._parts(self.cols, after=self.upto))
        if len(new[0]):
            if len(self._bin) and new[0][0] == self._bin[-1]:  # continues the open bin
                self._combine_last(new)
                new = tuple(a[1:] for a in new)
            self._append(*new)
        self.upto = float(last)
        cnt = np.maximum(self._cnt, 1)
        return Binned(self._xw / cnt, self._sum / cnt[:, None], self._min, self._max)

    def _combine_last(self, new: tuple[np.ndarray, ...]) -> None:
        _, xw, sm, cnt, mn, mx = new
        self._xw[-1] += xw[0]
        self._sum[-1] += sm[0]
        self._cnt[-1] += cnt[0]
        self._min[-1] = np.minimum(self._min[-1], mn[0])
        self._max[-1] = np.maximum(self._max[-1], mx[0])

    def _bin_items(self, parts: list[tuple[np.ndarray, ...]]) -> tuple[np.ndarray, ...]:
        k, w = self.k, self.width
        out: list[np.ndarray] = [
            np.empty(0, np.int64), np.empty(0), np.empty((0, k)), np.empty(0, np.int64),
            np.empty((0, k), np.float32), np.empty((0, k), np.float32)]
        for x, sm, cnt, mn, mx in parts:
            piece = _group(((x - 1) // w).astype(np.int64), x * cnt,
                           sm.astype(np.float64), cnt, mn, mx)
            out = [np.concatenate([o, p]) for o, p in zip(out, piece, strict=True)]
        # The bucket and raw parts may meet in one bin.
        return _group(*out)

    def _append(self, *new: np.ndarray) -> None:
        for name, arr in zip(self.FIELDS, new, strict=True):
            setattr(self, name, np.concatenate([getattr(self, name), arr]))

    def _merge_pairs(self) -> None:
        self.width *= 2
        merged = _group(self._bin // 2, self._xw, self._sum, self._cnt, self._min, self._max)
        for name, arr in zip(self.FIELDS, merged, strict=True):
            setattr(self, name, arr)


def _group(b: np.ndarray, xw: np.ndarray, sm: np.ndarray, cnt: np.ndarray, mn: np.ndarray,
           mx: np.ndarray) -> tuple[np.ndarray, ...]:
    """Merge neighbouring entries that share a bin index ``b`` (sorted): sums add, min and
    max combine; NaN propagates."""
    if len(b) < 2 or not (b[1:] == b[:-1]).any():
        return b, xw, sm, cnt, mn, mx
    starts = np.flatnonzero(np.r_[True, b[1:] != b[:-1]])
    return (b[starts], np.add.reduceat(xw, starts), np.add.reduceat(sm, starts, axis=0),
            np.add.reduceat(cnt, starts), np.minimum.reduceat(mn, starts, axis=0),
            np.maximum.reduceat(mx, starts, axis=0))


def _grow(arr: np.ndarray, cap: int, keep: int) -> np.ndarray:
    out = np.empty((cap, *arr.shape[1:]), arr.dtype)
    out[:keep] = arr[:keep]
    return out


@dataclass
class RunHistory:
    """Everything one run recorded: its config, layer names and three bounded tables."""

    config: Config
    layer_names: list[str]
    inactive_kind: str = ""  # "saturated", "dead" or "" for the activation used
    extra: dict[str, Any] = field(default_factory=dict)
    steps: Series = field(init=False)
    probes: Series = field(init=False)
    evals: Series = field(init=False)
    first_nonfinite_step: int | None = None
    # Readings derived from the tables, keyed by the tables' version and the step they are
    # taken at (readings.grad_reading): every view asks for the same one each frame.
    derived: dict[Any, Any] = field(default_factory=dict, init=False, repr=False,
                                    compare=False)

    def __post_init__(self) -> None:
        self.n_layers = len(self.layer_names)
        self.layouts = {t: channel_widths(t, self.n_layers) for t in ("steps", "probes",
                                                                       "evals")}
        self.steps = Series(sum(w for _, w in self.layouts["steps"]))
        self.probes = Series(sum(w for _, w in self.layouts["probes"]), **SPARSE)
        self.evals = Series(sum(w for _, w in self.layouts["evals"]), **SPARSE)

    def table(self, name: str) -> Series:
        return {"steps": self.steps, "probes": self.probes, "evals": self.evals}[name]

    def cols(self, table: str, channel: str) -> slice:
        """Column slice of a channel within its table's rows."""
        start = 0
        for name, width in self.layouts[table]:
            if name == channel:
                return slice(start, start + width)
            start += width
        raise KeyError(f"no channel {channel!r} in table {table!r}")

    def append(self, block: RecordBlock) -> None:
        """Add what a block of training steps recorded."""
        self.extend("steps", block.steps, block.rows)
        if len(block.probe_steps):
            self.extend("probes", block.probe_steps, block.probe_rows)
        if len(block.eval_steps):
            self.extend("evals", block.eval_steps, block.eval_rows)

    def extend(self, table: str, steps: np.ndarray, rows: np.ndarray) -> None:
        if table == "steps" and self.first_nonfinite_step is None:
            self.first_nonfinite_step = first_nonfinite(steps, rows, self.n_layers)
        self.table(table).extend(steps, rows)

    @property
    def step(self) -> int:
        """The last step recorded (0 before the first)."""
        last = self.steps.last_step
        return 0 if last is None else last

    def latest(self, table: str, channel: str) -> np.ndarray | None:
        row = self.table(table).last_row()
        return None if row is None else row[self.cols(table, channel)]

    def nbytes(self) -> int:
        return self.steps.nbytes() + self.probes.nbytes() + self.evals.nbytes()
