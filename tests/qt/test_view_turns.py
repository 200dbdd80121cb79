"""With three or four runs compared, the supporting views take their turns half as often, so
one core can keep the run panels and the heatmaps at full rate; and in any frame already full
they wait a few frames (bench_compare_gui.py)."""

from __future__ import annotations

import numpy as np

from tests.core.test_workspace import run
from tests.qt.test_readings_views import synthetic
from vgrad_gui.core.run import Run
from vgrad_gui.core.workspace import Workspace
from vgrad_gui.qt.clock import FRAME_BUDGET_S, MAX_DEFERRALS, FrameClock
from vgrad_gui.qt.plots.grad_lines import GradientLinesView
from vgrad_gui.qt.plots.health import HealthView
from vgrad_gui.qt.plots.heatmap import HeatmapView
from vgrad_gui.qt.plots.signal_depth import SignalDepthView


def _shown(qtbot, view, size: tuple[int, int] = (400, 300)):
    """``view`` on screen at ``size``, having taken the workspace's runs."""
    qtbot.addWidget(view)
    view.resize(*size)
    view.show()
    view._on_frame(view.phase)  # takes the run
    return view


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
        _shown(qtbot, view)
    alone = _turns(lines), _turns(heatmap)
    assert alone == (60 // lines.every, 60 // heatmap.every)
    workspace.add(run(2, steps=20))
    workspace.add(run(3, steps=20))
    assert _turns(lines) == alone[0] // 2  # a supporting view: half as often
    assert _turns(heatmap) == alone[1]  # what a comparison is read from: as before


def _refreshes(view, clock: FrameClock, monkeypatch, frames: int = 36) -> list[int]:
    """The clock's frames on which ``view`` refreshed, with new data on each frame."""
    refreshed: list[int] = []
    monkeypatch.setattr(view, "refresh", lambda: refreshed.append(clock.ticks))
    for _ in range(frames):
        view.mark_dirty()
        clock._tick()
    return refreshed


def test_a_yielding_view_waits_for_a_frame_with_budget_left_but_never_long(qtbot, monkeypatch):
    workspace = Workspace()
    workspace.add(run(1, steps=20))
    clock = FrameClock()
    lines = GradientLinesView(workspace, clock)
    _shown(qtbot, lines)
    assert set(np.diff(_refreshes(lines, clock, monkeypatch))) == {lines.every}
    monkeypatch.setattr(clock, "over_budget", lambda own=0.0: True)  # every frame is full
    frames = np.array(_refreshes(lines, clock, monkeypatch))
    assert len(frames) > 2
    # It gave its turns up, for a few frames at most each time.
    assert ((frames - lines.phase) % lines.every == MAX_DEFERRALS % lines.every).all()
    assert np.diff(frames).max() <= lines.every + MAX_DEFERRALS


def test_the_budget_counts_the_frame_so_far_and_the_paints_it_will_cause(qtbot, monkeypatch):
    clock = FrameClock()
    seen: list[bool] = []
    clock.frame.connect(lambda _: clock.charge(FRAME_BUDGET_S / 2))  # a view's paint to come
    clock.frame.connect(lambda _: seen.append(clock.over_budget()))
    clock.frame.connect(lambda _: clock.charge(FRAME_BUDGET_S))
    clock.late.connect(lambda _: seen.append(clock.over_budget()))
    clock._tick()
    clock._tick()  # each frame starts with its whole budget
    assert seen == [False, True, False, True]
    assert not clock.over_budget()  # outside a frame a view always takes its turn


def test_two_views_past_the_budget_never_take_the_same_frame(qtbot, monkeypatch):
    """Waiting views take a full frame one at a time, the longest waiting first: two in one
    frame (the lines and the signal of four runs) were the longest stalls."""
    workspace = Workspace()
    workspace.add(run(1, steps=20))
    clock = FrameClock()
    views = [GradientLinesView(workspace, clock), GradientLinesView(workspace, clock)]
    refreshed: dict[int, list[int]] = {0: [], 1: []}
    for i, view in enumerate(views):
        _shown(qtbot, view)
        monkeypatch.setattr(view, "refresh", lambda i=i: refreshed[i].append(clock.ticks))
    assert views[0].phase % views[0].every == views[1].phase % views[1].every  # turns meet
    monkeypatch.setattr(clock, "over_budget", lambda own=0.0: True)  # every frame is full
    for _ in range(72):
        for view in views:
            view.mark_dirty()
        clock._tick()
    first, second = refreshed[0], refreshed[1]
    assert not set(first) & set(second)
    every = views[0].every
    assert len(first) >= 72 // (every + 2 * MAX_DEFERRALS)  # neither starves
    assert len(second) >= 72 // (every + 2 * MAX_DEFERRALS)
    assert max(np.diff(second)) <= every + 2 * MAX_DEFERRALS


def test_the_statistics_views_draw_only_a_new_record(qtbot):
    """Statistics arrive every 100 steps and these views take a turn 5 times a second: the
    same record set again repainted them (26-34 ms for the health view) for nothing."""
    history = synthetic(np.array([1e-6, 1e-4, 1e-3, 1e-2]), n_steps=40)
    workspace = Workspace()
    workspace.add(Run.from_history(history, source="synthetic"))
    clock = FrameClock()
    for step, cls in ((41, HealthView), (42, SignalDepthView)):
        view = cls(workspace, clock)
        _shown(qtbot, view, (600, 300))
        assert view.refresh() is True
        assert view.refresh() is False  # the same record: nothing set, no paint
        for table in ("steps", "probes"):
            width = sum(w for _, w in history.layouts[table])
            history.extend(table, np.array([step]), np.full((1, width), 0.25, np.float32))
        assert view.refresh() is True  # a new record: drawn
        assert view.refresh() is False
        view.release()


def test_a_view_that_would_take_the_frame_past_the_cap_waits_for_one_of_its_own(qtbot,
                                                                                monkeypatch):
    """Its cost is what it last took at most (decaying): one cheap repaint after a 25 ms one
    does not let it into a frame it would stretch past FRAME_CAP_S (the boundary's 20 ms and
    the health view's 33 ms in one frame were an 83 ms stall)."""
    workspace = Workspace()
    workspace.add(run(1, steps=20))
    clock = FrameClock()
    view = GradientLinesView(workspace, clock)
    _shown(qtbot, view)
    clock.frame.connect(lambda _: clock.charge(0.006))  # the heatmap's paint, every frame
    cost = {"paint": 0.002}
    refreshed: list[int] = []

    def refresh() -> None:
        refreshed.append(clock.ticks)
        view.painted(cost["paint"])  # as the paint it causes would report

    monkeypatch.setattr(view, "refresh", refresh)

    def turns() -> np.ndarray:
        refreshed.clear()
        for _ in range(48):
            view.mark_dirty()
            clock._tick()
        return np.array(refreshed)

    assert set(np.diff(turns())) == {view.every}  # cheap: every turn taken
    view.painted(0.025)  # one costly paint (a new record), then cheap ones again
    cost["paint"] = 0.002
    costly = turns()
    assert len(costly) >= 3
    # It waited MAX_DEFERRALS frames at first, until its cost had decayed below the cap.
    assert (costly[0] - view.phase) % view.every == MAX_DEFERRALS % view.every
    assert view._cost_s < 0.030 - 0.006
    cost["paint"] = 0.025  # costly every time: every turn waits for a frame of its own
    turns()
    frames = turns()
    assert ((frames - view.phase) % view.every == MAX_DEFERRALS % view.every).all()


def test_the_cap_counts_the_view_about_to_draw(qtbot):
    clock = FrameClock()
    seen: list[tuple[bool, bool]] = []
    clock.frame.connect(lambda _: clock.charge(0.010))
    clock.frame.connect(lambda _: seen.append((clock.over_budget(0.015),
                                               clock.over_budget(0.025))))
    clock._tick()
    assert seen == [(False, True)]  # 10 + 15 ms fits under the cap; 10 + 25 does not


def test_a_value_axis_moves_in_steps_not_with_every_record():
    from vgrad_gui.qt.plots.base import steady_range

    first = steady_range(None, -0.62, 0.41, 0.25)
    assert first == (-0.75, 0.5)
    assert steady_range(first, -0.7, 0.45, 0.25) is None  # inside: left alone
    assert steady_range(first, -0.7, 0.6, 0.25) == (-0.75, 0.75)  # out: grows
    assert steady_range((-10.0, 10.0), -0.1, 0.2, 0.25) == (-0.25, 0.25)  # lost in it
    assert steady_range(first, float("nan"), 0.2, 0.25) is None
    assert steady_range(None, 0.3, 0.3, 0.25) == (0.25, 0.5)  # one value: one grain


def test_the_health_views_activation_axis_stays_while_the_numbers_drift(qtbot):
    history = synthetic(np.array([1e-6, 1e-4, 1e-3, 1e-2]), n_steps=40)
    workspace = Workspace()
    workspace.add(Run.from_history(history, source="synthetic"))
    view = HealthView(workspace, FrameClock())
    _shown(qtbot, view, (600, 300))
    assert view.refresh() is True
    qtbot.wait(40)  # painted: a range change pyqtgraph defers to the paint is made
    before = view.acts.vb.viewRange()[1]
    for step, value in ((41, 0.26), (42, 0.27)):  # activations drift a little
        for table in ("steps", "probes"):
            width = sum(w for _, w in history.layouts[table])
            history.extend(table, np.array([step]), np.full((1, width), value, np.float32))
        assert view.refresh() is True
        qtbot.wait(40)
        assert view.acts.vb.viewRange()[1] == before
    view.release()


def test_in_a_grid_runs_without_a_heatmap_redraw_their_diagrams_on_every_frame(qtbot):
    """Three or four runs: only run A's steps show in a heatmap (the dock); B-D's first show
    in their diagrams, which then redraw on every frame, as a heatmap does, A's at 15 Hz
    (step-to-pixel of B-D)."""
    from vgrad_gui.qt.run_panels import RunPanels

    workspace = Workspace()
    workspace.add(run(1, steps=20))
    clock = FrameClock()
    panels = RunPanels(workspace, clock)
    qtbot.addWidget(panels)
    panels.resize(900, 600)
    panels.show()
    for run_id in (2, 3, 4):
        workspace.add(run(run_id, steps=20))
    assert len(panels.panels) == 4
    a, *others = [panel.diagram for panel in panels.panels]
    for view in (a, *others):
        view._on_frame(view.phase)  # takes the runs

    turns = [_turns(view, 48) for view in (a, *others)]
    assert turns[1:] == [a.every * turns[0]] * 3 and turns[1] == 48
    assert all(panel.heatmap is None for panel in panels.panels)
    workspace.remove(4)
    workspace.remove(3)  # two runs: each panel has its heatmap, the diagrams 15 Hz again
    assert {panel.diagram.every for panel in panels.panels} == {a.every}
    panels.release()


def test_views_rebuilding_for_a_new_run_wait_for_room_too(qtbot, monkeypatch):
    """Reset or Start rebuilds every view for the new run; one after another in one frame
    they were 70-100 ms stalls. A supporting view's rebuild waits while the frame is full,
    a few frames at most."""
    workspace = Workspace()
    workspace.add(run(1, steps=20))
    clock = FrameClock()
    lines = GradientLinesView(workspace, clock)
    _shown(qtbot, lines)
    first = lines.runs
    workspace.replace(1, run(2, steps=20))  # Reset: the run on screen is a new one
    monkeypatch.setattr(clock, "over_budget", lambda own=0.0: True)  # every frame is full
    rebuilt_at = None
    for _ in range(4 * lines.every + MAX_DEFERRALS):
        clock._tick()
        if lines.runs != first and rebuilt_at is None:
            rebuilt_at = clock.ticks
    assert rebuilt_at is not None  # never starved
    assert (rebuilt_at - lines.phase) % lines.every == MAX_DEFERRALS % lines.every


def test_the_gradient_lines_keep_their_legend_across_a_reset(qtbot):
    from vgrad_gui.core.spec import Config

    workspace = Workspace()
    workspace.add(run(1, steps=20))
    lines = GradientLinesView(workspace, FrameClock())
    _shown(qtbot, lines)
    labels = [label for _, label in lines.legend.items]
    assert labels
    workspace.replace(1, run(2, steps=20))  # Reset: the same net, a new run
    lines._on_frame(lines.phase)
    assert [label for _, label in lines.legend.items] == labels  # the same items, kept
    workspace.replace(2, run(3, Config(depth=12), steps=20))  # another net: new entries
    lines._on_frame(lines.phase)
    assert [label.text for _, label in lines.legend.items][-1] == "output"
    assert [label for _, label in lines.legend.items] != labels
    lines.release()
