"""Compare mode's commands: which lanes (runs A-D) there are, which one the builder edits,
and what the run bar, the banners and the status bar say about them. The window keeps
one-line methods for these (tests and the presenter call them there)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from vgrad_gui.core.spec import Config
from vgrad_gui.core.workspace import WorkspaceError, describe

if TYPE_CHECKING:
    from vgrad_gui.qt.main_window import MainWindow


def toggle_compare(window: MainWindow) -> None:
    """C: compare mode on (run A plus a copy, B, to change) or off (back to run A)."""
    if window.session.comparing:
        while len(window.session.lanes) > 1:
            window.session.remove_lane(len(window.session.lanes) - 1)
        select_lane(window, 0)
    else:
        add_run(window)


def add_run(window: MainWindow, config: Config | None = None) -> None:
    """A new run next to the others: ``config``, or a copy of the selected run."""
    base = config
    if base is None and window.session.lanes:
        base = window.session.lanes[window.lane].config
    if base is None:
        return
    try:
        index = window.session.add_lane(base)
    except WorkspaceError as exc:
        window.statusBar().showMessage(str(exc), 5000)
        return
    select_lane(window, index)
    window.statusBar().showMessage(
        f"Run {'ABCD'[index]} added: change anything in the builder; it trains next to "
        "the others, step for step.", 6000)


def remove_run(window: MainWindow) -> None:
    if window.lane > 0:
        window.session.remove_lane(window.lane)
        select_lane(window, window.lane - 1)


def select_lane(window: MainWindow, index: int) -> None:
    lanes = window.session.lanes
    window.lane = max(0, min(index, len(lanes) - 1))
    config = lanes[window.lane].config if lanes else None
    if config is not None:
        window.builder.set_config(config, emit=False)
    for view in window.views.values():
        view.follow_position(window.lane)  # the docks show the run being edited
    problems_changed(window)
    sync_run_bar(window)


def sync_run_bar(window: MainWindow) -> None:
    labels: list[tuple[str, str, int]] = []
    for lane in window.session.lanes:
        run = lane.shown
        in_ws = run is not None and run.run_id in window.workspace
        slot = window.workspace.slot(run.run_id) if in_ws and run is not None else len(labels)
        label = run.label if run is not None and run.label else (
            describe(lane.config) if lane.config is not None else "")
        labels.append(("ABCD"[slot], label, slot))
    window.run_bar.set_runs(labels, window.lane)
    window.controls.show_state(window.session.state, window.builder.valid,
                             window.session.comparing, len(window.session.lanes))


def problems_changed(window: MainWindow) -> None:
    """An invalid setting in the builder: the banner of the run being edited and the
    status bar say so (Start is off until it is fixed)."""
    summary = window.builder.problem_summary()
    for i, panel in enumerate(window.panels.panels):
        panel.banner.set_invalid(summary if i == window.lane else "")
    window.status.show_problems(summary)


def lanes_changed(window: MainWindow) -> None:
    window.lane = min(window.lane, max(0, len(window.session.lanes) - 1))
    sync_run_bar(window)
    if window.session.comparing:
        window.setWindowTitle(f"vgrad_gui — comparing {len(window.session.lanes)} runs")
