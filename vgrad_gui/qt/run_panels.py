"""RunPanels: the centre of the window, one panel per run.

One run: its diagnosis banner over its network diagram (the heatmap lives in a dock). Compare
mode: a comparative headline over two panels side by side (three or four in a 2 x 2 grid),
each with the run's colour and label, its banner, its diagram and its own heatmap on the same
fixed colour scale. Panels follow positions in the workspace, so removing run B moves C into
B's panel and no view is rebuilt for a run it already shows.
"""

from __future__ import annotations

from PySide6.QtWidgets import QFrame, QGridLayout, QLabel, QVBoxLayout, QWidget

from vgrad_gui.core.compare import headline as compare_headline
from vgrad_gui.core.workspace import Change, Workspace
from vgrad_gui.qt import theme
from vgrad_gui.qt.clock import FrameClock
from vgrad_gui.qt.plots.banner import DiagnosisBanner, readable
from vgrad_gui.qt.plots.base import View
from vgrad_gui.qt.plots.heatmap import HeatmapView
from vgrad_gui.qt.plots.network import NetworkDiagramView
from vgrad_gui.qt.text import PaintedText

HEADLINE_EVERY = 30  # frames: the comparative headline is read, not watched (2 Hz)


class RunPanel(QFrame):
    """One run's banner, diagram and (in compare mode) heatmap."""

    def __init__(self, workspace: Workspace, clock: FrameClock, position: int) -> None:
        super().__init__()
        self.setObjectName("runPanel")
        self.position = position
        self.workspace = workspace
        col = self.column = QVBoxLayout(self)
        col.setContentsMargins(0, 0, 0, 0)
        col.setSpacing(4)
        self.title = QLabel("")
        self.title.setObjectName("runTitle")
        theme.keep_font(self.title, 1.1, bold=True)
        col.addWidget(self.title)
        self.banner = DiagnosisBanner(workspace, clock, position)
        self.diagram = NetworkDiagramView(workspace, clock, position)
        self.heatmap: HeatmapView | None = None
        col.addWidget(self.banner)
        col.addWidget(self.diagram, 3)
        self.views: list[View] = [self.banner, self.diagram]

    def set_compare(self, on: bool, clock: FrameClock, grid: bool = False) -> None:
        """``on``: a panel of a comparison (title, own heatmap); ``grid``: one of three or
        four (no heatmap, a one-line banner: four of everything do not fit a projector)."""
        self.title.setVisible(on)
        self.banner.set_compact(grid)
        # Four of everything must fit a 1280x720 projector with the docks below.
        self.diagram.setMinimumSize(140 if on or grid else 320, 60 if grid else
                                    110 if on else 200)
        # In a grid, runs B-D have no heatmap: the diagram is where their new steps first
        # show, so it redraws on every frame, as the heatmap does (at 15 Hz their
        # step-to-pixel p95 was 130-160 ms, at 30 Hz 90-110). A grid's diagram costs ~2.5 ms
        # a frame, refresh and paint. Run A's steps show in the heatmap dock.
        self.diagram.every = 1 if grid and self.position > 0 else NetworkDiagramView.every
        on = on and not grid
        if on and self.heatmap is None:
            self.heatmap = HeatmapView(self.workspace, clock, self.position)
            self.heatmap.compact()
            self.column.addWidget(self.heatmap, 2)
            self.views.append(self.heatmap)
        elif not on and self.heatmap is not None:
            self.views.remove(self.heatmap)
            self.heatmap.release()
            self.heatmap.deleteLater()
            self.heatmap = None

    def update_title(self) -> None:
        runs = self.workspace.runs
        if self.position >= len(runs):
            return
        run = runs[self.position]
        colour = theme.RUN_COLOURS[self.workspace.slot(run.run_id) % len(theme.RUN_COLOURS)]
        letter = self.workspace.letter(run.run_id)
        self.title.setText(f"<span style='color:{colour}'>■</span> {letter} · {run.label}")

    def release(self) -> None:
        for view in self.views:
            view.release()


class RunPanels(QWidget):
    def __init__(self, workspace: Workspace, clock: FrameClock) -> None:
        super().__init__()
        self.workspace = workspace
        self.clock = clock
        outer = QVBoxLayout(self)
        outer.setContentsMargins(6, 6, 6, 0)
        outer.setSpacing(6)
        self.headline = PaintedText("", lines=2, relative_size=1.15, bold=True)
        self.headline.setObjectName("compareHeadline")
        self.headline.hide()
        outer.addWidget(self.headline)
        self.grid_holder = QWidget()
        self.grid = QGridLayout(self.grid_holder)
        self.grid.setContentsMargins(0, 0, 0, 0)
        self.grid.setSpacing(8)
        outer.addWidget(self.grid_holder, 1)
        self.panels: list[RunPanel] = []
        self._headline_seen: tuple[int, ...] | None = None
        self._add_panel()
        self._lay_out()
        workspace.connect(self._changed)
        clock.frame.connect(self._frame)

    @property
    def comparing(self) -> bool:
        return len(self.panels) > 1

    def banner_for(self, lane: int) -> DiagnosisBanner | None:
        """The banner of the run at position ``lane``; None while it has no panel (a run
        added to the comparison is still being built)."""
        return self.panels[lane].banner if lane < len(self.panels) and (
            lane < len(self.workspace) or lane == 0) else None

    def _add_panel(self) -> None:
        panel = RunPanel(self.workspace, self.clock, len(self.panels))
        self.panels.append(panel)

    def _changed(self, change: Change) -> None:
        if change.kind in ("added", "removed", "replaced", "relabelled"):
            self.sync()

    def sync(self) -> None:
        """As many panels as runs (at least one), laid out for their number."""
        want = max(1, len(self.workspace))
        changed = want != len(self.panels)
        while len(self.panels) < want:
            self._add_panel()
        while len(self.panels) > want:
            panel = self.panels.pop()
            panel.release()
            panel.setParent(None)
            panel.deleteLater()
        if changed or not self.grid.count():
            self._lay_out()
        for panel in self.panels:
            panel.update_title()
        self._headline_seen = None

    def _lay_out(self) -> None:
        while self.grid.count():
            self.grid.takeAt(0)
        n = len(self.panels)
        cols = 1 if n == 1 else 2
        for i, panel in enumerate(self.panels):
            panel.set_compare(n > 1, self.clock, grid=n > 2)
            self.grid.addWidget(panel, i // cols, i % cols)
            panel.show()
        for r in range(3):
            self.grid.setRowStretch(r, 1 if r < (n + cols - 1) // cols else 0)
        self.headline.setVisible(n > 1)
        self.headline.set_lines(1 if n > 2 else 2)  # a grid of four on 720 lines: one line

    def _frame(self, index: int) -> None:
        if not self.comparing or index % HEADLINE_EVERY:
            return
        version = self.workspace.data_version()
        if version == self._headline_seen:
            return
        self._headline_seen = version
        ws = self.workspace
        letters = {run.run_id: ws.letter(run.run_id) for run in ws.runs}
        found = compare_headline(ws.runs, ws.cursor, letters)
        idle = "Press Start (Space): all runs train together, step for step, on the same data."
        text = readable(found.text) if found is not None else idle
        self.headline.setText(text)
        self.headline.setToolTip(text)

    def release(self) -> None:
        self.workspace.disconnect(self._changed)
        for panel in self.panels:
            panel.release()
