"""The main window assembles; small modules do. The builder (with the run bar of compare mode)
on the left, the run panels (banner, diagram; side by side when comparing) in the middle, the
other views in docks; the controls (controls.py), notices (notices.py), files (runfiles.py)
and the status bar (status.py)."""

from __future__ import annotations

import importlib
import sys
import threading
import time
from pathlib import Path

from PySide6.QtCore import QEvent, QObject, QSettings, Qt, QTimer
from PySide6.QtGui import QCloseEvent, QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import (
    QApplication,
    QLabel,
    QMainWindow,
    QMessageBox,
    QVBoxLayout,
    QWidget,
)

from vgrad_gui.core.history import RunHistory
from vgrad_gui.core.run import Run
from vgrad_gui.core.setups import Setup
from vgrad_gui.core.spec import Config
from vgrad_gui.core.workspace import Workspace
from vgrad_gui.qt import errors, help, lanes, recent, setup_actions, theme, window_settings
from vgrad_gui.qt import presenter as lesson_presenter
from vgrad_gui.qt.builder_panel import BuilderPanel
from vgrad_gui.qt.clock import FrameClock
from vgrad_gui.qt.controls import SPEEDS, Controls
from vgrad_gui.qt.docks import Docks, DockViews
from vgrad_gui.qt.export_actions import Exporter
from vgrad_gui.qt.notices import Notices
from vgrad_gui.qt.plots.banner import DiagnosisBanner
from vgrad_gui.qt.plots.base import View
from vgrad_gui.qt.plots.boundary import BoundaryView
from vgrad_gui.qt.plots.flow_bars import FlowBarsView
from vgrad_gui.qt.plots.grad_lines import GradientLinesView
from vgrad_gui.qt.plots.health import HealthView
from vgrad_gui.qt.plots.heatmap import HeatmapView
from vgrad_gui.qt.plots.loss import LossView
from vgrad_gui.qt.plots.network import NetworkDiagramView
from vgrad_gui.qt.plots.signal_depth import SignalDepthView
from vgrad_gui.qt.run_bar import RunBar
from vgrad_gui.qt.run_panels import RunPanels
from vgrad_gui.qt.runfiles import Autosaved, RunFiles
from vgrad_gui.qt.session import TrainingSession
from vgrad_gui.qt.status import StatusFields
from vgrad_gui.qt.timeline import Timeline

VIEWS = {"heatmap": HeatmapView, "lines": GradientLinesView, "bars": FlowBarsView,
         "loss": LossView, "boundary": BoundaryView, "health": HealthView,
         "signal": SignalDepthView}


def _placeholder() -> QLabel:
    """What a dock shows for the moment between the first paint and its view being built."""
    label = QLabel("Loading this view…")
    label.setObjectName("viewNote")
    label.setAlignment(Qt.AlignmentFlag.AlignCenter)
    return label


class MainWindow(QMainWindow):
    def __init__(self, config: Config | None = None, preset: str | None = None,
                 runs: list[Run] | None = None, run_path: str | None = None,
                 settings: QSettings | None = None, compare: list[Config] | None = None,
                 setup: Setup | None = None) -> None:
        super().__init__()
        self.settings = settings or QSettings()
        self.clock = FrameClock(self)
        self.workspace = Workspace()
        self.session = TrainingSession(self.clock, self.workspace, self)
        self.first_paint_at: float | None = None
        self._worker_started = False
        self._closing = False
        self.lane = 0  # the run the builder edits
        self.has_saved_geometry = False
        self.last_message: QMessageBox | None = None
        self.errors = errors.install(self)  # an exception in any slot: a message, app goes on
        self.files = RunFiles(self)
        self.exit_code = 0  # 1 when the run could not be kept on the way out
        self.setWindowTitle("vgrad_gui")
        self.setAcceptDrops(True)
        self.setDockOptions(QMainWindow.DockOption.AnimatedDocks
                            | QMainWindow.DockOption.AllowTabbedDocks
                            | QMainWindow.DockOption.AllowNestedDocks)
        self.panels = RunPanels(self.workspace, self.clock)
        self.timeline = Timeline(self.workspace, self.clock)
        centre = QWidget()
        centre_col = QVBoxLayout(centre)
        centre_col.setContentsMargins(0, 0, 0, 0)
        centre_col.setSpacing(2)
        centre_col.addWidget(self.panels, 1)
        centre_col.addWidget(self.timeline)
        self.setCentralWidget(centre)
        self.diagram.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.diagram.installEventFilter(self)
        self.builder = BuilderPanel()
        self.builder.setMinimumWidth(int(theme.point_size() * 24))
        self.run_bar = RunBar()
        side = QWidget()
        col = QVBoxLayout(side)
        col.setContentsMargins(0, 0, 0, 0)
        col.addWidget(self.run_bar)
        col.addWidget(self.builder, 1)
        # Built right after the first paint (or at the first read): see DockViews.
        self.views = DockViews(VIEWS, lambda cls: cls(self.workspace, self.clock, self.lane),
                               self._views_built)
        self.dock_layout = Docks(self)
        self.docks = self.dock_layout.docks
        self.dock_layout.add("builder", "Network builder", side)
        for key, cls in VIEWS.items():
            self.dock_layout.add(key, cls.title, _placeholder())
        self.controls = Controls(self, self._slots(), [d.toggleViewAction()
                                                       for d in self.docks.values()])
        self.speed = self.controls.speed
        self.status = StatusFields(self.statusBar(), self.session)
        self.status_state, self.status_step = self.status.state, self.status.step
        self.notices = Notices(self.session, self.panels.banner_for, self.status,
                               self.show_message, self.files.keep_after_crash,
                               self.statusBar().showMessage)
        self.recent = recent.install(self)
        self.exporter = Exporter(self)
        self.dock_layout.default_layout()
        self._wire()
        window_settings.restore(self, config, preset)
        # Shown once the worker starts (after the first paint): the window is up at once.
        self._pending_open = (list(runs or []), run_path, list(compare or []))
        self._pending_setup = setup
        self._state_changed(self.session.state)
        # Last: it docks its lesson next to the builder, wherever the layout put that.
        self.presenter = lesson_presenter.install(self)
        self.menuBar().insertMenu(self.menuBar().actions()[-1], self.presenter.menu)

    def _slots(self) -> dict:
        return {"start": self.toggle_training, "step": self.step_once,
                "reset": self.reset_training, "compare": self.toggle_compare,
                "add_run": lambda: self.add_run(), "remove_run": self.remove_run,
                "full": self.toggle_fullscreen, "save": self.files.save_dialog,
                "open": self.files.open_dialog, "export": lambda: self.exporter.dialog(),
                "export_views": lambda: self.exporter.views_dialog(), "quit": self.close,
                "bigger": lambda: self.scale_text(1.15),
                "smaller": lambda: self.scale_text(1 / 1.15),
                "layout": lambda: self.default_layout(), "theme": self.toggle_theme,
                "keys": lambda: help.show_shortcuts(self), "about": lambda: help.show_about(self),
                "slower": lambda: self.controls.nudge_speed(-1),
                "faster": lambda: self.controls.nudge_speed(1),
                "back": lambda: self.timeline.nudge(-1), "on": lambda: self.timeline.nudge(1),
                "back_far": lambda: self.timeline.nudge_fraction(-0.1),
                "on_far": lambda: self.timeline.nudge_fraction(0.1),
                "first": self.timeline.home, "live": self.timeline.follow_live,
                "replay": self.timeline.toggle_play,
                "copy_setup": lambda: setup_actions.copy_setup(self),
                "paste_setup": lambda: setup_actions.paste_setup(self),
                "save_setup": lambda: setup_actions.save_setup_dialog(self),
                "open_setup": lambda: setup_actions.open_setup_dialog(self)}

    def _wire(self) -> None:
        s = self.session
        s.runChanged.connect(lambda run: self.status.show_device(run.device or ""))
        s.stateChanged.connect(self._state_changed)
        s.lanesChanged.connect(self._lanes_changed)
        s.ready.connect(lambda info: self.builder.set_available_devices(info.devices))
        self.workspace.connect(lambda change: self._sync_run_bar()
                               if change.kind in ("relabelled", "replaced", "added") else None)
        self.clock.frame.connect(self.status.frame)
        self.builder.configChanged.connect(self._config_changed)
        self.builder.validityChanged.connect(lambda _: self._state_changed(s.state))
        self.builder.editingDone.connect(self.diagram.setFocus)
        self.builder.problemsChanged.connect(lambda _: self._problems_changed())
        theme.notifier.changed.connect(self._restyled)
        self.controls["theme"].setChecked(theme.current() == "light")
        self.run_bar.selected.connect(self.select_lane)
        self.run_bar.addRequested.connect(lambda: self.add_run())
        self.run_bar.removeRequested.connect(self.remove_run)
        self.controls.speed.valueChanged.connect(self._speed_changed)

    def _views_built(self, views: dict[str, View]) -> None:
        for key, view in views.items():
            placeholder = self.docks[key].widget()
            self.docks[key].setWidget(view)
            if placeholder is not None:
                placeholder.deleteLater()
        self.dock_layout.views_placed()
        boundary = views["boundary"]
        assert isinstance(boundary, BoundaryView)
        boundary.wanted.connect(self.session.set_boundary)
        exporter = getattr(self, "exporter", None)  # None: read while the window was built
        if exporter is not None:
            exporter.add_context_menus(views)

    # -- what tests and other modules read -------------------------------------------------
    @property
    def banner(self) -> DiagnosisBanner:
        return self.panels.panels[0].banner

    @property
    def diagram(self) -> NetworkDiagramView:
        return self.panels.panels[0].diagram

    @staticmethod
    def speed_values() -> list[float | None]:
        return list(SPEEDS)

    def default_layout(self, small: bool | None = None) -> None:
        self.dock_layout.default_layout(small)
        presenter = getattr(self, "presenter", None)
        if presenter is not None and not presenter.presenting:
            self.tabifyDockWidget(self.docks["builder"], presenter.dock)  # the lesson's tab

    def fit_docks(self) -> None:
        self.dock_layout.fit()

    # -- start-up and settings --------------------------------------------------------------
    def start_worker(self) -> None:
        """Called once the window is on screen: start the training process in the
        background, then open what the command line named. Runs once."""
        if self._worker_started:
            return
        self._worker_started = True
        self.session.start_worker()
        # numpy imports numpy.ma on the first np.median (the diagnosis uses it): ~150 ms in
        # whichever frame first diagnoses a run. Imported now, in a thread, it costs no frame.
        threading.Thread(target=importlib.import_module, args=("numpy.ma",), daemon=True,
                         name="vgrad-preload").start()
        self.session.set_speed(SPEEDS[self.speed.value()])
        runs, path, compare = self._pending_open
        self._pending_open = ([], None, [])
        if runs and path is not None:
            self.show_runs(runs, path)
        for config in compare[1:]:
            self.add_run(config)
        if compare:
            self.select_lane(0)
        if self._pending_setup is not None:
            setup_actions.apply_setup(self, self._pending_setup)
            self._pending_setup = None

    # -- commands -----------------------------------------------------------------------------
    def toggle_training(self) -> None:
        if not self.builder.valid:
            self.statusBar().showMessage("Fix the settings marked in red first.", 4000)
            return
        self.session.toggle()

    def start_training(self) -> None:
        if self.builder.valid:
            self.session.start()

    def step_once(self) -> None:
        if self.builder.valid:
            self.session.step()

    def reset_training(self) -> None:
        if self.builder.valid:
            self.session.reset()

    def toggle_compare(self) -> None:
        lanes.toggle_compare(self)

    def add_run(self, config: Config | None = None) -> None:
        lanes.add_run(self, config)

    def remove_run(self) -> None:
        lanes.remove_run(self)

    def select_lane(self, index: int) -> None:
        lanes.select_lane(self, index)

    def _sync_run_bar(self) -> None:
        lanes.sync_run_bar(self)

    def _problems_changed(self) -> None:
        lanes.problems_changed(self)

    def _restyled(self) -> None:
        """After a theme or text-size change: what this window set from the theme once."""
        self.builder.setMinimumWidth(int(theme.point_size() * 24))
        self._sync_run_bar()
        for panel in self.panels.panels:
            panel.update_title()
        self.controls["theme"].setChecked(theme.current() == "light")

    def toggle_theme(self) -> None:
        app = QApplication.instance()
        assert isinstance(app, QApplication)
        theme.set_theme(app, "light" if theme.current() == "dark" else "dark")
        self.settings.setValue("theme", theme.current())

    def toggle_fullscreen(self) -> None:
        self.showNormal() if self.isFullScreen() else self.showFullScreen()

    def scale_text(self, factor: float, absolute: bool = False) -> None:
        app = QApplication.instance()
        assert isinstance(app, QApplication)
        theme.set_font_scale(app, factor if absolute else theme.font_scale() * factor)
        for panel in self.panels.panels:
            panel.banner.update_fonts()
        self.statusBar().showMessage(f"Text size {theme.font_scale():.0%}", 2000)

    def _speed_changed(self, index: int) -> None:
        rate = SPEEDS[index]
        self.controls.speed_label.setText("max" if rate is None else f"{rate:g} steps/s")
        self.session.set_speed(rate)

    def _config_changed(self, config: Config) -> None:
        if self.session.lanes and self.lane < len(self.session.lanes):
            self.session.configure_lane(self.lane, config)
        else:
            self.session.configure(config)
        preset = self.builder.preset_name
        if not self.session.comparing:
            self.setWindowTitle(f"vgrad_gui — {preset or 'custom network'}")

    def _lanes_changed(self) -> None:
        lanes.lanes_changed(self)

    def _state_changed(self, state: str) -> None:
        self.controls.show_state(state, self.builder.valid, self.session.comparing,
                                 len(self.session.lanes))
        self.status.show_state(state)

    def show_message(self, title: str, text: str, details: str = "",
                     icon: QMessageBox.Icon = QMessageBox.Icon.Warning) -> QMessageBox:
        """A message that does not block: training and drawing go on behind it."""
        return errors.show_message(self, title, text, details, icon)

    # -- files (the work is in qt/runfiles.py) -------------------------------------------
    def save_run(self, path: str) -> bool:
        return self.files.save(path)

    def open_run(self, path: str) -> None:
        """Open a run file; it is read in a thread and shown when ready."""
        self.files.open(path)

    def show_runs(self, runs: list[Run], path: str) -> None:
        if runs and runs[0].config is not None:
            self.builder.set_config(runs[0].config, emit=False)
        self.lane = 0
        self.session.view_runs(runs, path)
        self.setWindowTitle(f"vgrad_gui — {Path(path).name}")

    def show_run(self, history: RunHistory, path: str) -> None:
        self.show_runs([Run.from_history(history, source=path)], path)

    def autosave_dir(self) -> Path:
        return self.files.autosave_dir()

    def autosave(self) -> Autosaved | None:
        return self.files.autosave()

    # -- events --------------------------------------------------------------------------------
    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if event.mimeData().hasUrls() and any(u.isLocalFile() for u in event.mimeData().urls()):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        paths = [u.toLocalFile() for u in event.mimeData().urls() if u.isLocalFile()]
        if paths:
            event.acceptProposedAction()
            self.files.open_many(paths)

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:
        if obj is self.diagram and event.type() == QEvent.Type.Paint \
                and self.first_paint_at is None:
            self.first_paint_at = time.monotonic()
            QTimer.singleShot(0, self.start_worker)
            QTimer.singleShot(0, self.views.build)
        return super().eventFilter(obj, event)

    def closeEvent(self, event: QCloseEvent) -> None:
        if self._closing:
            event.accept()
            return
        self._closing = True
        window_settings.save(self)
        self.session.shutdown(1.0)
        self.files.wait(1.0)
        kept = self.files.autosave()
        if kept is not None and kept.path is None:
            # Closing: no window left to ask in. Say it where it can still be read, and
            # end with a failure status rather than 0 with the run gone.
            print(f"vgrad-gui: could not keep the run ({kept.steps:,} steps): {kept.why()}",
                  file=sys.stderr, flush=True)
            self.exit_code = 1
        elif kept is not None and kept.failed:
            print(f"vgrad-gui: could not write the autosave folder ({kept.why()}); the run "
                  f"was kept in {kept.path}", file=sys.stderr, flush=True)
        event.accept()
