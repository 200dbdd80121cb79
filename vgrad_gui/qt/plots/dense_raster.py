"""The network diagram's dense picture (each layer's links as one band, each column's units as
small squares) as one image, coloured at each paint by table lookups.

Drawn with QPainter, a dense diagram was one polygon per layer and one rectangle per unit,
each through Python: 16 ms a paint at 200 layers, ~5 ms for each of four 50-layer diagrams in
a compare grid, the largest single cost of that window. The shapes do not move while the
widget's size and the layers hold, only their colours change; so the pixel map (which band,
which square, which outline each pixel belongs to) is made once, and a paint is a lookup of
the current colours, about a millisecond at any depth.

Which pixel belongs to which shape is asked of QPainter (unantialiased, as before), so the
picture is the one QPainter drew, but for a shade where three squares overlap.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QImage, QPainter, QPen, QPolygonF

from vgrad_gui.qt import theme


def _number(k: int) -> QColor:
    """The colour whose RGB32 pixel value is ``k`` (below 2**24)."""
    return QColor((k >> 16) & 0xFF, (k >> 8) & 0xFF, k & 0xFF)


def _numbers(image: QImage) -> np.ndarray:
    """An RGB32 image's pixels as the numbers ``_number`` drew, (height, width) int64."""
    words = np.frombuffer(image.constBits(), np.uint32,
                          image.height() * image.bytesPerLine() // 4)
    words = words.reshape(image.height(), -1)[:, :image.width()]
    return (words & 0xFFFFFF).astype(np.int64)


def _spans(starts: np.ndarray, r: float, across: bool) -> tuple[np.ndarray, ...]:
    """For squares of side 2r starting at ``starts`` (x across, y down): the first and last
    pixel QPainter fills, and the first and last its 1-pixel outline covers, as QPainter
    draws them. Drawing depends on a start's fraction only, so each distinct fraction is
    drawn once, in a strip of its own (filled and outlined apart), and read back."""
    base = np.floor(starts)
    fractions, which = np.unique(starts - base, return_inverse=True)
    step = int(np.ceil(2 * r)) + 6
    long, short = step * len(fractions), step
    out = []
    for outline in (False, True):
        w, h = (short, long) if across else (long, short)
        image = QImage(max(1, w), max(1, h), QImage.Format.Format_RGB32)
        image.fill(0)
        p = QPainter(image)
        p.setPen(QPen(_number(1), 1) if outline else QPen(QColor(0, 0, 0, 0), 1))
        p.setBrush(Qt.BrushStyle.NoBrush if outline else _number(1))
        for k, f in enumerate(fractions):
            at, off = 2 + float(f), k * step + 2
            p.drawRect(QRectF(at, off, 2 * r, 2 * r) if across else
                       QRectF(off, at, 2 * r, 2 * r))
        p.end()
        marks = _numbers(image) > 0
        mid = 2 + int(r)  # a line through the middle of each strip's square
        lines = marks[mid::step][:len(fractions)] if across else \
            marks[:, mid::step][:, :len(fractions)].T
        found = lines.any(axis=1)
        firsts = np.where(found, np.argmax(lines, axis=1), 0)
        lasts = np.where(found, lines.shape[1] - 1 - np.argmax(lines[:, ::-1], axis=1), -1)
        out += [firsts, lasts]
    shift = base.astype(np.int64) - 2
    return tuple(v[which] + shift for v in out)


class DenseRaster:
    """The pixel map of one dense diagram: ``width`` x ``height`` pixels, columns at ``xs``,
    their units at ``ys`` (as the diagram lays them out), squares of half-side ``r``.

    Every pixel holds a slot: 0 the background, 1 + i layer i's band, and past those one slot
    per kind of square pixel (the band beneath it, the last two squares' fills over it, how
    many outlines under and over the last fill: a few hundred kinds). A paint colours the
    slots and looks every pixel up in one ``np.take``.

    The bands are drawn once by QPainter itself, in colours that are numbers, so their pixels
    are exactly QPainter's; so are the squares' (``_spans``)."""

    def __init__(self, width: int, height: int, xs: list[float], ys: list[list[float]],
                 r: float) -> None:
        self.width, self.height = w, h = max(1, width), max(1, height)
        self.n_layers = n = max(0, len(xs) - 1)
        bands = QImage(w, h, QImage.Format.Format_RGB32)
        bands.fill(0)
        p = QPainter(bands)  # 1 + i in layer i's band
        p.setPen(Qt.PenStyle.NoPen)
        for i in range(n):
            p.setBrush(_number(1 + i))
            p.drawPolygon(QPolygonF([QPointF(xs[i], ys[i][0]), QPointF(xs[i + 1], ys[i + 1][0]),
                                     QPointF(xs[i + 1], ys[i + 1][-1]),
                                     QPointF(xs[i], ys[i][-1])]))
        p.end()
        slot = _numbers(bands).astype(np.intp, copy=False)
        # The squares, QRectF(x - r, y - r, 2r, 2r) with a 1-pixel pen: which pixels QPainter
        # fills and which its outline covers, asked of QPainter per distinct offset (``_spans``:
        # a rectangle's pixels are its pixels across times its pixels down). Squares overlap
        # at 200 layers (a pixel column between neighbours): there the last two fills and the
        # outlines under and over the last count, which is QPainter's result but where three
        # squares overlap.
        counts = np.array([len(col) for col in ys], np.int64)
        column = np.repeat(np.arange(len(ys)), counts)
        cx = np.repeat(np.asarray(xs, np.float64), counts)
        cy = np.array([y for col in ys for y in col], np.float64)
        fx0, fx1, left, right = _spans(cx - r, r, across=True)
        fy0, fy1, top, bottom = _spans(cy - r, r, across=False)
        left, right = np.minimum(left, fx0), np.maximum(right, fx1)
        top, bottom = np.minimum(top, fy0), np.maximum(bottom, fy1)
        size = int(max((right - left).max(initial=0), (bottom - top).max(initial=0))) + 1
        dy, dx = (g.reshape(1, -1) for g in np.mgrid[0:size, 0:size])
        px, py = left[:, None] + dx, top[:, None] + dy
        inside = (px <= right[:, None]) & (py <= bottom[:, None])
        ring = ((px == left[:, None]) | (px == right[:, None]) | (py == top[:, None])
                | (py == bottom[:, None]))
        fill = ((px >= fx0[:, None]) & (px <= fx1[:, None]) & (py >= fy0[:, None])
                & (py <= fy1[:, None]))
        keep = inside & (px >= 0) & (px < w) & (py >= 0) & (py < h)
        flat, ring, fill = (py * w + px)[keep], ring[keep], fill[keep]
        owner = np.broadcast_to(column[:, None], keep.shape)[keep]
        # Per pixel under a square (numbered 0..m-1, in the order of ``at``; arrays of the
        # image's size would cost a page fault per 4 kB), in the drawing order (numpy keeps
        # the last of repeated indices): the last two squares whose fill covers it, and how
        # many outlines lie under and over the last fill.
        self._words = np.empty((h, w), np.uint32)
        ids = self._words.reshape(-1).view(np.int32)  # scratch until the first paint
        self._last: np.ndarray | None = None  # the colour per slot the pixels hold
        ids.fill(-1)
        ids[flat] = 0
        at = np.flatnonzero(ids == 0)
        m = len(at)
        ids[at] = np.arange(m, dtype=np.int32)
        pixel = ids[flat]
        f1 = np.full(m, -1, np.int64)
        f1[pixel[fill]] = owner[fill]
        earlier = fill & (owner != f1[pixel])
        f0 = np.full(m, -1, np.int64)
        f0[pixel[earlier]] = owner[earlier]
        before = ring & (owner < f1[pixel])
        under = np.minimum(np.bincount(pixel[before], minlength=m), 3)
        over = np.minimum(np.bincount(pixel[ring & ~before], minlength=m), 3)
        cols = len(xs) + 1
        key = (((slot.reshape(-1)[at] * cols + f0 + 1) * cols + f1 + 1) * 4 + under) * 4 + over
        kinds = np.unique(key)  # sorted: faster than asking np.unique for the inverse
        which = np.searchsorted(kinds, key)
        # Per kind, for image(): the outline counts over and under the last fill as a column
        # of exponents; the two fills as rows of its colour table, where no fill is the
        # table's last row (alpha 0); the band beneath. Masked updates per count and per
        # missing fill were most of a paint's 0.7 ms.
        self._over = (kinds % 4)[:, None].astype(np.float32)
        self._under = ((kinds // 4) % 4)[:, None].astype(np.float32)
        kinds = kinds // 16
        last, prior = kinds % cols - 1, (kinds // cols) % cols - 1  # -1: no fill
        none = len(xs)
        self._fill = np.where(last >= 0, last, none)
        self._first = np.where(prior >= 0, prior, none)
        self._beneath = kinds // cols // cols
        slot.reshape(-1)[at] = 1 + n + which
        # As np.intp: np.take converts any other index type into a new array at each call.
        self.slot = slot

    def image(self, background: np.ndarray, bands: np.ndarray, units: np.ndarray,
              outline: np.ndarray) -> QImage:
        """The picture in these colours: ``background`` RGB (3,), ``bands`` RGB per layer
        (n_layers, 3), ``units`` RGBA per column (n_columns, 4, alpha 0..1 as the 4th),
        ``outline`` RGBA (4,). RGB values are 0..255. The image shares this raster's buffer:
        draw it before the next call."""
        base = np.empty((self.n_layers + 1, 3), np.float32)
        base[0] = background
        base[1:] = bands
        rgb = base[self._beneath]
        # Each kind's two fills over the band, as units drawn in turn; a kind without a
        # fill takes the last row of ``over``, which has alpha 0.
        over = np.zeros((len(units) + 1, 4), np.float32)
        over[:-1] = units
        o, keep = outline[:3], 1.0 - float(outline[3])
        for which, rings in ((self._first, self._under), (self._fill, self._over)):
            fill = over[which]
            alpha = fill[:, 3:]
            rgb = fill[:, :3] * alpha + rgb * (1 - alpha)
            # ``rings`` outlines drawn over it: each keeps 1 - a of what was there.
            rgb = o + (rgb - o) * keep ** rings
        table = np.concatenate([base, rgb])
        words = theme.argb32(np.clip(np.round(table), 0, 255).astype(np.uint8))
        # The same colours as the last paint (a repaint without a new reading; brightness
        # moves in 256 steps): the pixels already hold them.
        if self._last is None or not np.array_equal(words, self._last):
            # mode="clip" (every slot is in range anyway): with out= and the default "raise",
            # numpy checks through a buffer, 2-3 times slower.
            np.take(words, self.slot, out=self._words, mode="clip")
            self._last = words
        return QImage(self._words.data, self.width, self.height, self.width * 4,
                      QImage.Format.Format_RGB32)
