"""The loss view in compare mode: one loss and one accuracy curve per run, in the run's colour,
kept across a Reset (new runs in the same places) and rebuilt when the runs' places change."""

from __future__ import annotations

import numpy as np

from tests.core.test_workspace import run
from tests.qt.test_view_turns import _shown
from vgrad_gui.core.workspace import Workspace
from vgrad_gui.qt.clock import FrameClock
from vgrad_gui.qt.plots.loss import LossView


def _take(view: LossView) -> None:
    view._on_frame(view.phase)  # takes the runs
    view._on_frame(view.phase + view.every)  # draws them


def test_a_reset_in_compare_mode_keeps_each_runs_curves_and_shows_the_new_runs(qtbot):
    workspace = Workspace()
    for run_id in (1, 2):
        workspace.add(run(run_id, steps=30))
    view = _shown(qtbot, LossView(workspace, FrameClock()))
    _take(view)
    items = list(view._overlay_items)
    legend = [label.text for _, label in view.loss_plot.legend.items]
    assert len(items) == 2 and legend == ["A train", "B train"]
    assert len(items[0][0].getData()[0]) > 0  # run A's loss is drawn
    # A Reset: each run replaced by a new one (a new id) in the same place, with fewer steps.
    workspace.replace(1, run(11, steps=5))
    workspace.replace(2, run(12, steps=5))
    _take(view)
    assert view._overlay_items == items  # the same items, not made again
    assert [label.text for _, label in view.loss_plot.legend.items] == legend
    x, _ = items[1][0].getData()
    assert x is not None and len(x) and np.max(x) <= 5  # the new run B, not the old one
    # A third run changes the places: one curve more, in its own colour.
    workspace.add(run(13, steps=5))
    _take(view)
    assert len(view._overlay_items) == 3
    assert [label.text for _, label in view.loss_plot.legend.items][-1] == "C train"
    # Back to one run: the train and test curves, and their legend, again.
    workspace.remove(12)
    workspace.remove(13)
    _take(view)
    assert view._overlay_items == [] and view.train_loss.isVisible()
    assert [label.text for _, label in view.loss_plot.legend.items] == ["train", "test"]
    view.release()


def test_the_loss_axis_moves_in_round_steps_and_holds_while_the_loss_wanders(qtbot):
    """A loss near 0.69 that wanders by a few thousandths: the axis holds the values, in
    whole thousandths, and does not move again until they leave it (each move repaints the
    axis: up to 30 ms in a compare grid)."""
    workspace = Workspace()
    workspace.add(run(1, steps=30))
    view = _shown(qtbot, LossView(workspace, FrameClock()))
    _take(view)
    moves = []
    view.loss_plot.sigYRangeChanged.connect(lambda *_: moves.append(1))
    rng = np.random.default_rng(0)
    for _ in range(40):
        view._follow(30.0, 1000, 0.69 + 0.002 * rng.standard_normal(50))
    y0, y1 = view.loss_plot.vb.viewRange()[1]
    assert y0 <= 0.69 - 0.004 and y1 >= 0.69 + 0.004 and y1 - y0 < 0.05
    assert abs(y0 * 1000 - round(y0 * 1000)) < 1e-6 and abs(y1 * 1000 - round(y1 * 1000)) < 1e-6
    assert len(moves) <= 3  # the first fit, and a widening or two for the tails
    # A loss that falls far below the range moves the axis to it.
    view._follow(30.0, 1000, np.full(50, 0.05))
    y0, y1 = view.loss_plot.vb.viewRange()[1]
    assert y0 <= 0.05 <= y1 and y1 - y0 < 0.1
    view.release()
