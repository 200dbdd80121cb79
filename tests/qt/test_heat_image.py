"""The heatmap colours only the columns that changed (plots/heat_image): a run that grows frame
by frame must end up drawn exactly as a view that draws it from scratch, through the bin
widths doubling, and a theme change must colour every column again."""

from __future__ import annotations

import numpy as np

from tests.core.test_workspace import run
from vgrad_gui.core.records import RecordBlock, row_width
from vgrad_gui.core.workspace import Workspace
from vgrad_gui.qt import theme
from vgrad_gui.qt.clock import FrameClock
from vgrad_gui.qt.plots.heatmap import HeatmapView


def noisy_block(first: int, k: int, n_layers: int, rng: np.random.Generator) -> RecordBlock:
    steps = np.arange(first, first + k, dtype=np.int64)
    rows = 10.0 ** rng.uniform(-12, 1, (k, row_width("steps", n_layers)))
    rows[rng.random(rows.shape) < 0.01] = 0.0  # exactly zero: its own colour
    rows[rng.random(rows.shape) < 0.005] = np.nan
    return RecordBlock(steps, rows, np.empty(0, np.int64),
                       np.empty((0, row_width("probes", n_layers))), np.empty(0, np.int64),
                       np.empty((0, 2)))


def view(workspace: Workspace, clock: FrameClock, qtbot) -> HeatmapView:
    v = HeatmapView(workspace, clock)
    qtbot.addWidget(v)
    v.resize(500, 300)
    v.show()
    v._on_frame(v.phase)  # takes the run
    return v


def drawn_words(v: HeatmapView) -> np.ndarray:
    assert v.image.image is not None
    return v.image._words[:, :v.image.image.shape[1]]


def test_a_growing_run_is_drawn_as_a_fresh_view_draws_it(qtbot):
    workspace = Workspace()
    r = run(1)
    workspace.add(r)
    clock = FrameClock()
    live = view(workspace, clock, qtbot)
    rng = np.random.default_rng(3)
    n = r.history.n_layers
    starts: list[int] = []
    show = live.image.show_indices

    def recorded(indices, rect, changed_from=0):
        starts.append(changed_from)
        show(indices, rect, changed_from)

    live.image.show_indices = recorded
    step, widths = 1, set()
    for k in (1, 3, 7, 1, 50, 200, 1000, 5, 3000, 1, 2):
        r.append(noisy_block(step, k, n, rng))
        step += k
        live.refresh()
        fresh = view(workspace, clock, qtbot)
        fresh.refresh()
        widths.add(live.bins.width)
        assert np.array_equal(live.image.image, fresh.image.image), step
        assert live.image.rect == fresh.image.rect
        assert np.array_equal(drawn_words(live),
                              theme.argb32(theme.heat_lut())[live.image.image]), step
        fresh.release()
    assert len(widths) >= 3  # the bins widened (merged) on the way...
    assert sum(s > 0 for s in starts) >= 4  # ...and between, only new columns were coloured


def test_a_theme_change_colours_every_column_again(app, qtbot):
    workspace = Workspace()
    r = run(1)
    workspace.add(r)
    v = view(workspace, FrameClock(), qtbot)
    r.append(noisy_block(1, 500, r.history.n_layers, np.random.default_rng(4)))
    v.refresh()
    before = drawn_words(v).copy()
    was = theme.current()
    other = next(name for name in theme.THEMES if name != was)
    try:
        theme.set_theme(app, other)
        after = drawn_words(v)
        assert np.array_equal(after, theme.argb32(theme.heat_lut())[v.image.image])
        assert not np.array_equal(after, before)
    finally:
        theme.set_theme(app, was)
    assert np.array_equal(drawn_words(v), before)
