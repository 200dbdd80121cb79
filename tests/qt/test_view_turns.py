"""With three or four runs compared, the supporting views take their turns half as often, so
one core can keep the run panels and the heatmaps at full rate (bench_compare_gui.py)."""

from __future__ import annotations

from tests.core.test_workspace import run
from vgrad_gui.core.workspace import Workspace
from vgrad_gui.qt.clock import FrameClock
from vgrad_gui.qt.plots.grad_lines import GradientLinesView
from vgrad_gui.qt.plots.heatmap import HeatmapView


def _turns(view, frames: int = 60) -> int:
    """Frames on which ``view`` redrew, out of ``frames`` ticks with new data on each."""
    drawn = 0
    for index in range(frames):
        view.mark_dirty()
        before = view._seen
        view._on_frame(index)
        drawn += view._seen != before and view._seen is not None
    return drawn


def test_supporting_views_yield_their_turns_to_the_heatmaps_with_three_runs(qtbot):
    workspace = Workspace()
    workspace.add(run(1, steps=20))
    clock = FrameClock()
    lines = GradientLinesView(workspace, clock)
    heatmap = HeatmapView(workspace, clock)
    for view in (lines, heatmap):
        qtbot.addWidget(view)
        view.resize(400, 300)
        view.show()
        view._on_frame(view.phase)  # takes the run
    alone = _turns(lines), _turns(heatmap)
    assert alone == (60 // lines.every, 60 // heatmap.every)
    workspace.add(run(2, steps=20))
    workspace.add(run(3, steps=20))
    assert _turns(lines) == alone[0] // 2  # a supporting view: half as often
    assert _turns(heatmap) == alone[1]  # what a comparison is read from: as before
