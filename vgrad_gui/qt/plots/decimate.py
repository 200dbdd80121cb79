"""Decimated data for drawing, with its spikes: whole-run bins while a view follows the run,
bins over the visible steps once the user zooms in, and the min/max envelope of each bin drawn
as a faint band (one vertical stroke per bin, pyqtgraph's "peak" look), so a one-step spike in
a long run still reaches the screen."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg

from vgrad_gui.core import history as core_history
from vgrad_gui.core.history import AlignedBins, Binned, Series
from vgrad_gui.qt.plots.bold_curve import BoldCurve


def range_bins(series: Series, cols: slice, x0: float, x1: float, n_bins: int) -> Binned:
    """``series`` decimated into ``n_bins`` equal bins over the steps [x0, x1] only (the
    visible range of a zoomed plot), exact min/max included. The raw steps and the coarse
    buckets the history keeps are both used, as ``AlignedBins`` does."""
    k = len(range(*cols.indices(series.width)))
    width = max(1.0, (x1 - x0) / max(1, n_bins))
    # _parts/_group are the history's own binning pieces (reading them here keeps one rule
    # for how buckets combine); a public Series.binned(x0, x1) would be cleaner.
    groups = []
    for x, sm, cnt, mn, mx in series._parts(cols, after=x0 - 1):
        keep = x <= x1
        if not keep.any():
            continue
        x, sm, cnt, mn, mx = x[keep], sm[keep], cnt[keep], mn[keep], mx[keep]
        b = ((x - x0) // width).astype(np.int64)
        groups.append(core_history._group(b, x * cnt, sm.astype(np.float64), cnt,
                                          mn.astype(np.float32), mx.astype(np.float32)))
    if not groups:
        e = np.empty((0, k))
        return Binned(np.empty(0), e, e.astype(np.float32), e.astype(np.float32))
    merged = core_history._group(*(np.concatenate(arrs) for arrs in zip(*groups, strict=True)))
    _, xw, sm, cnt, mn, mx = merged
    c = np.maximum(cnt, 1)
    return Binned(xw / c, sm / c[:, None], mn, mx)


class Decimator:
    """Whole-run bins (incremental) or, when given a visible range inside the run, bins over
    that range."""

    def __init__(self, series: Series, cols: slice) -> None:
        self.series = series
        self.cols = cols
        self.whole = AlignedBins(series, cols)

    def get(self, n_bins: int, visible: tuple[float, float] | None = None) -> Binned:
        last = self.series.last_step
        if visible is None or last is None:
            return self.whole.get(n_bins)
        x0, x1 = max(1.0, visible[0]), min(float(last), visible[1])
        if x1 <= x0 or (x0 <= 1.0 and x1 >= last):
            return self.whole.get(n_bins)
        # A zoomed range: only worth its own bins when they are finer than the run's.
        whole_width = max(1, self.whole.width)
        if (x1 - x0) / max(1, n_bins) >= whole_width:
            return self.whole.get(n_bins)
        return range_bins(self.series, self.cols, x0, x1, n_bins)


def envelope(x: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """x and y of one vertical stroke per bin, from its min to its max (draw with
    connect="pairs"); non-finite ends are dropped."""
    ok = np.isfinite(lo) & np.isfinite(hi)
    xs = np.repeat(x[ok], 2)
    ys = np.empty(2 * int(ok.sum()))
    ys[0::2], ys[1::2] = lo[ok], hi[ok]
    return xs, ys


def band_curve(colour: object, alpha: int = 70) -> pg.PlotCurveItem:
    """A faint, thin, unantialiased curve for an envelope (drawn opaque: bold_curve)."""
    c = pg.mkColor(colour)
    c.setAlpha(alpha)
    return BoldCurve(pen=pg.mkPen(c, width=1), antialias=False, skipFiniteCheck=True,
                     connect="pairs")
