"""The main window: wiring only. The builder on the left, the diagnosis banner and the network
diagram in the middle, the other views in docks; a toolbar, menus, shortcuts, a status bar."""

from __future__ import annotations

import contextlib
import importlib
import json
import sys
import threading
import time
from pathlib import Path
from typing import Any

from PySide6.QtCore import QByteArray, QEvent, QObject, QSettings, Qt, QTimer
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence
from PySide6.QtWidgets import (
    QApplication,
    QDockWidget,
    QFileDialog,
    QLabel,
    QMainWindow,
    QMessageBox,
    QSlider,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from vgrad_gui.core import readings
from vgrad_gui.core.diagnose import describe_layers
from vgrad_gui.core.history import RunHistory
from vgrad_gui.core.spec import Config, ConfigError
from vgrad_gui.qt import errors, theme
from vgrad_gui.qt.builder_panel import BuilderPanel
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
from vgrad_gui.qt.runfiles import Autosaved, RunFiles
from vgrad_gui.qt.session import RunInfo, TrainingSession
from vgrad_gui.qt.status import StatusFields

SPEEDS: list[float | None] = [1, 2, 5, 10, 20, 50, 100, 200, 500, None]


class MainWindow(QMainWindow):
    def __init__(self, config: Config | None = None, preset: str | None = None,
                 run: RunHistory | None = None, run_path: str | None = None,
                 settings: QSettings | None = None) -> None:
        super().__init__()
        self.settings = settings or QSettings()
        self.session = TrainingSession(self)
        self.first_paint_at: float | None = None
        self._worker_started = False
        self._closing = False
        self.last_message: QMessageBox | None = None
        # An exception in any slot shows a message; the app goes on.
        self.errors = errors.install(self)
        self.files = RunFiles(self)
        self.exit_code = 0  # 1 when the run could not be kept on the way out
        self.setWindowTitle("vgrad_gui")
        self.setDockOptions(QMainWindow.DockOption.AnimatedDocks
                            | QMainWindow.DockOption.AllowTabbedDocks
                            | QMainWindow.DockOption.AllowNestedDocks)

        # Views.
        self.banner = DiagnosisBanner(self.session)
        self.diagram = NetworkDiagramView(self.session)
        self.diagram.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.diagram.installEventFilter(self)
        central = QWidget()
        col = QVBoxLayout(central)
        col.setContentsMargins(6, 6, 6, 0)
        col.setSpacing(6)
        col.addWidget(self.banner)
        col.addWidget(self.diagram, 1)
        self.setCentralWidget(central)
        self.builder = BuilderPanel()
        self.builder.setMinimumWidth(int(theme.point_size() * 24))
        self.views: dict[str, View] = {
            "heatmap": HeatmapView(self.session),
            "lines": GradientLinesView(self.session),
            "bars": FlowBarsView(self.session),
            "loss": LossView(self.session),
            "boundary": BoundaryView(self.session),
            "health": HealthView(self.session),
            "signal": SignalDepthView(self.session),
        }
        self.docks: dict[str, QDockWidget] = {}
        self._dock("builder", "Network builder", self.builder)
        for key, view in self.views.items():
            self._dock(key, view.title, view)

        self._make_actions()
        self._make_toolbar()
        self._make_menus()
        self._make_status_bar()
        self.default_layout()

        # Wiring.
        s = self.session
        s.runChanged.connect(self._run_changed)
        s.stateChanged.connect(self._state_changed)
        s.frame.connect(self.status.frame)
        s.failed.connect(self._failed)
        s.workerDied.connect(self._worker_died)
        s.building.connect(self._building)
        s.nonfinite.connect(self._nonfinite)
        s.ready.connect(lambda info: self.builder.set_available_devices(info.devices))
        self.builder.configChanged.connect(self._config_changed)
        self.builder.validityChanged.connect(self._validity_changed)
        self.builder.editingDone.connect(self.diagram.setFocus)

        self._restore(config, preset)
        self._pending_run = (run, run_path)
        self._state_changed(s.state)

    # -- construction -------------------------------------------------------------------------
    def _dock(self, key: str, title: str, widget: QWidget) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(f"dock_{key}")
        dock.setWidget(widget)
        dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable
                         | QDockWidget.DockWidgetFeature.DockWidgetFloatable
                         | QDockWidget.DockWidgetFeature.DockWidgetClosable)
        self.docks[key] = dock
        return dock

    def default_layout(self, small: bool | None = None) -> None:
        """Place the docks for the screen at hand: side by side when there is room, tabbed
        on small screens (a 1280x720 projector)."""
        for dock in self.docks.values():
            self.removeDockWidget(dock)
        d = self.docks
        if small is None:
            screen = self.screen().availableGeometry() if self.screen() else None
            small = screen is not None and (screen.height() < 900 or screen.width() < 1500)
        left, right, bottom = (Qt.DockWidgetArea.LeftDockWidgetArea,
                               Qt.DockWidgetArea.RightDockWidgetArea,
                               Qt.DockWidgetArea.BottomDockWidgetArea)
        self.addDockWidget(left, d["builder"])
        self.addDockWidget(right, d["heatmap"])
        if small:
            self.tabifyDockWidget(d["heatmap"], d["lines"])
            self.addDockWidget(bottom, d["bars"])
            for key in ("signal", "loss", "boundary", "health"):
                self.tabifyDockWidget(d["bars"], d[key])
            d["heatmap"].raise_()
            d["bars"].raise_()
        else:
            self.addDockWidget(right, d["lines"])
            self.splitDockWidget(d["heatmap"], d["lines"], Qt.Orientation.Vertical)
            self.addDockWidget(bottom, d["bars"])
            self.splitDockWidget(d["bars"], d["signal"], Qt.Orientation.Horizontal)
            self.splitDockWidget(d["signal"], d["loss"], Qt.Orientation.Horizontal)
            self.splitDockWidget(d["loss"], d["boundary"], Qt.Orientation.Horizontal)
            self.tabifyDockWidget(d["bars"], d["health"])
            d["bars"].raise_()
        for dock in d.values():
            dock.show()
        self._layout_pending = True
        self.fit_docks()

    def fit_docks(self) -> None:
        """Size the docks of the default layout to the window (once it has its size)."""
        if not getattr(self, "_layout_pending", False) or not self.isVisible():
            return
        self._layout_pending = False
        d = self.docks
        w, h = self.width(), self.height()
        self.resizeDocks([d["builder"]], [int(min(400, max(300, w * 0.2)))],
                         Qt.Orientation.Horizontal)
        self.resizeDocks([d["heatmap"]], [int(w * 0.34)], Qt.Orientation.Horizontal)
        self.resizeDocks([d["bars"]], [int(h * 0.3)], Qt.Orientation.Vertical)

    def _make_actions(self) -> None:
        def action(text: str, shortcut: str | QKeySequence.StandardKey | None, slot: Any,
                   tip: str) -> QAction:
            a = QAction(text, self)
            if shortcut is not None:
                a.setShortcut(QKeySequence(shortcut))
            a.setToolTip(f"{tip} ({a.shortcut().toString()})" if shortcut else tip)
            a.setStatusTip(tip)
            a.triggered.connect(slot)
            self.addAction(a)
            return a

        self.act_start = action("Start", "Space", self.toggle_training,
                                "Start or pause training")
        self.act_step = action("Step", "N", self.step_once, "Train exactly one step")
        self.act_reset = action("Reset", "R", self.reset_training,
                                "Start again from freshly initialised weights (same config, "
                                "same seed: the same initial weights)")
        self.act_full = action("Full screen", "F", self.toggle_fullscreen,
                               "Full screen on or off (Esc leaves it)")
        self.act_save = action("Save run…", QKeySequence.StandardKey.Save, self.files.save_dialog,
                               "Save this run to a file (.npz) to reopen, replay or compare")
        self.act_open = action("Open run…", QKeySequence.StandardKey.Open, self.files.open_dialog,
                               "Open a saved run (.npz)")
        self.act_export = action("Export figure…", "Ctrl+E", self.export_figure,
                                 "Save a picture (PNG) of the whole window")
        self.act_export_views = action("Export views…", "Ctrl+Shift+E", self.export_views,
                                       "Save each visible view as its own PNG")
        self.act_quit = action("Quit", QKeySequence.StandardKey.Quit, self.close, "Quit")
        self.act_bigger = action("Larger text", QKeySequence.StandardKey.ZoomIn,
                                 lambda: self.scale_text(1.15), "Make all text larger")
        self.act_smaller = action("Smaller text", QKeySequence.StandardKey.ZoomOut,
                                  lambda: self.scale_text(1 / 1.15), "Make all text smaller")
        self.act_layout = action("Reset layout", None, lambda: self.default_layout(),
                                 "Put every view back where it started")
        self.act_keys = action("Keyboard shortcuts", "F1", self.show_shortcuts,
                               "List the keyboard shortcuts")
        self.act_about = action("About vgrad_gui", None, self.show_about, "About")
        self.act_slower = action("Slower", "[", lambda: self.nudge_speed(-1), "Train slower")
        self.act_faster = action("Faster", "]", lambda: self.nudge_speed(1), "Train faster")
        leave = QAction(self)
        leave.setShortcut(QKeySequence("Escape"))
        leave.triggered.connect(lambda: self.showNormal() if self.isFullScreen() else None)
        self.addAction(leave)

    def _make_toolbar(self) -> None:
        bar = self.addToolBar("Controls")
        bar.setObjectName("controls")
        bar.setMovable(False)
        bar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        bar.addAction(self.act_start)
        start_button = bar.widgetForAction(self.act_start)
        assert isinstance(start_button, QToolButton)
        start_button.setObjectName("startButton")
        self.start_button = start_button
        bar.addAction(self.act_step)
        bar.addAction(self.act_reset)
        bar.addSeparator()
        bar.addWidget(QLabel(" Speed "))
        self.speed = QSlider(Qt.Orientation.Horizontal)
        self.speed.setRange(0, len(SPEEDS) - 1)
        self.speed.setValue(len(SPEEDS) - 1)
        self.speed.setFixedWidth(180)
        self.speed.setToolTip("Training speed, from one step a second to as fast as possible "
                              "([ slower, ] faster)")
        self.speed.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.speed.valueChanged.connect(self._speed_changed)
        bar.addWidget(self.speed)
        self.speed_label = QLabel("max")
        self.speed_label.setMinimumWidth(110)
        bar.addWidget(self.speed_label)
        bar.addSeparator()
        bar.addAction(self.act_save)
        bar.addAction(self.act_open)
        bar.addAction(self.act_export)
        for a in (self.act_step, self.act_reset, self.act_save, self.act_open, self.act_export):
            w = bar.widgetForAction(a)
            if w is not None:
                w.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        start_button.setFocusPolicy(Qt.FocusPolicy.NoFocus)

    def _make_menus(self) -> None:
        menu = self.menuBar()
        file = menu.addMenu("&File")
        for a in (self.act_open, self.act_save, self.act_export, self.act_export_views):
            file.addAction(a)
        file.addSeparator()
        file.addAction(self.act_quit)
        run = menu.addMenu("&Run")
        for a in (self.act_start, self.act_step, self.act_reset, self.act_slower,
                  self.act_faster):
            run.addAction(a)
        view = menu.addMenu("&View")
        for dock in self.docks.values():
            view.addAction(dock.toggleViewAction())
        view.addSeparator()
        for a in (self.act_full, self.act_bigger, self.act_smaller, self.act_layout):
            view.addAction(a)
        helpm = menu.addMenu("&Help")
        helpm.addAction(self.act_keys)
        helpm.addAction(self.act_about)

    def _make_status_bar(self) -> None:
        self.status = StatusFields(self.statusBar(), self.session)
        self.status_state, self.status_step = self.status.state, self.status.step

    # -- start-up and settings --------------------------------------------------------------
    def _restore(self, config: Config | None, preset: str | None) -> None:
        geometry = self.settings.value("geometry")
        self.has_saved_geometry = isinstance(geometry, QByteArray) and \
            self.restoreGeometry(geometry)
        state = self.settings.value("windowState")
        if isinstance(state, QByteArray) and self.restoreState(state):
            self._layout_pending = False  # the user's own layout wins
        scale = self.settings.value("font_scale")
        if scale is not None:
            with contextlib.suppress(TypeError, ValueError):
                self.scale_text(float(scale), absolute=True)
        speed = self.settings.value("speed")
        if speed is not None:
            with contextlib.suppress(TypeError, ValueError):
                self.speed.setValue(int(speed))
        if config is None:
            saved = self.settings.value("config")
            if isinstance(saved, str):
                try:
                    config = Config.from_dict(json.loads(saved))
                except (ConfigError, ValueError):
                    config = None  # an old or damaged setting: start from the lesson
        if config is None and preset is None:
            preset = "deep_sigmoid"
        if preset is not None and config is None:
            self.builder.apply_preset(preset)
        else:
            self.builder.set_config(config or Config())

    def start_worker(self) -> None:
        """Called once the window is on screen: start the training process in the
        background, then show a run file if one was given. Runs once."""
        if self._worker_started:
            return
        self._worker_started = True
        self.session.start_worker()
        # numpy imports numpy.ma on the first np.median (the diagnosis uses it): ~150 ms in
        # whichever frame first diagnoses a run. Imported now, in a thread, it costs no frame.
        threading.Thread(target=importlib.import_module, args=("numpy.ma",), daemon=True,
                         name="vgrad-preload").start()
        self.session.set_speed(SPEEDS[self.speed.value()])
        run, path = self._pending_run
        self._pending_run = (None, None)
        if run is not None and path is not None:
            self.show_run(run, path)
        elif path is not None:
            self.files.open(path)  # read in a thread: the window is up at once

    def _save_settings(self) -> None:
        self.settings.setValue("geometry", self.saveGeometry())
        self.settings.setValue("windowState", self.saveState())
        self.settings.setValue("font_scale", theme.font_scale())
        self.settings.setValue("speed", self.speed.value())
        config = self.builder.config()
        if config is not None:
            self.settings.setValue("config", config.to_json())
        self.settings.sync()

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

    def toggle_fullscreen(self) -> None:
        if self.isFullScreen():
            self.showNormal()
        else:
            self.showFullScreen()

    @staticmethod
    def speed_values() -> list[float | None]:
        return list(SPEEDS)

    def nudge_speed(self, delta: int) -> None:
        self.speed.setValue(max(0, min(len(SPEEDS) - 1, self.speed.value() + delta)))

    def scale_text(self, factor: float, absolute: bool = False) -> None:
        app = QApplication.instance()
        assert isinstance(app, QApplication)
        scale = factor if absolute else theme.font_scale() * factor
        theme.set_font_scale(app, scale)
        self.banner.update_fonts()
        self.statusBar().showMessage(f"Text size {theme.font_scale():.0%}", 2000)

    def _speed_changed(self, index: int) -> None:
        rate = SPEEDS[index]
        self.speed_label.setText("max" if rate is None else f"{rate:g} steps/s")
        self.session.set_speed(rate)

    def _config_changed(self, config: Config) -> None:
        self.session.configure(config)
        preset = self.builder.preset_name
        self.setWindowTitle(f"vgrad_gui — {preset or 'custom network'}")

    def _validity_changed(self, valid: bool) -> None:
        self._state_changed(self.session.state)

    # -- session events -------------------------------------------------------------------
    def _run_changed(self, info: RunInfo) -> None:
        self.status.show_device(info.device or "")

    def _state_changed(self, state: str) -> None:
        running = state == "running"
        self.act_start.setText("Pause" if running else "Resume" if state == "paused"
                               else "Start")
        self.start_button.setProperty("running", running)
        self.start_button.style().unpolish(self.start_button)
        self.start_button.style().polish(self.start_button)
        valid = self.builder.valid
        self.act_start.setEnabled(valid)
        self.act_step.setEnabled(valid and not running)
        self.act_reset.setEnabled(valid)
        self.status.show_state(state)

    def _failed(self, message: str, details: str, kind: str) -> None:
        self.banner.set_message("error", message,
                                "Change the settings to try again." if kind == "config"
                                else "The app is still usable: reset, or change the settings.")
        if kind == "error":
            self.show_message("Training stopped", message, details, QMessageBox.Icon.Critical)

    def _building(self, stage: str, fraction: float, warnings: list[str]) -> None:
        text = f"{stage}… {fraction:.0%}"
        self.status_state.setText(text)
        self.banner.set_message("warning" if warnings else "ok", text,
                                "\n".join(warnings[:2]))

    def _worker_died(self, code: int | None) -> None:
        self.banner.set_message("error", "The training process stopped unexpectedly.",
                                "The steps recorded are kept. Press Start to train this "
                                "configuration afresh.")
        self.files.keep_after_crash(code)

    def _nonfinite(self, step: int, layers: list[int]) -> None:
        # The step and layers the views and ``summary`` quote (readings' one rule); the
        # worker's own report only until the history holds that step.
        info = self.session.info
        first = readings.first_nonfinite_step(info.history) if info is not None else None
        if info is not None and first is not None:
            step = first
            at = readings.grad_reading(info.history, first)
            layers = at.layers(readings.NONFINITE) if at is not None else layers
        where = describe_layers(layers, info.history.n_layers) if info and layers else \
            "the loss"
        self.banner.set_message(
            "error", f"NaN/Inf: at step {step:,} the gradients of {where} became NaN or "
            "infinite." if layers else f"NaN/Inf: at step {step:,} the loss became NaN or "
            "infinite.",
            "Training paused. The heatmap, the diagram and the flow bars show the non-finite "
            "layers in cyan. Lower the learning rate or the initial weight scale (try He or "
            "Xavier init), then press R to reset.")

    def show_message(self, title: str, text: str, details: str = "",
                     icon: QMessageBox.Icon = QMessageBox.Icon.Warning) -> QMessageBox:
        """A message that does not block: training and drawing go on behind it."""
        box = QMessageBox(icon, title, text, QMessageBox.StandardButton.Ok, self)
        if details:
            box.setDetailedText(details)
        box.setModal(False)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.show()  # not open(): open() makes it window-modal
        self.last_message = box
        box.destroyed.connect(lambda: self._message_gone(box))
        return box

    def _message_gone(self, box: QMessageBox) -> None:
        if self.last_message is box:
            self.last_message = None

    # -- files (the work is in qt/runfiles.py) -------------------------------------------
    def save_run(self, path: str) -> bool:
        return self.files.save(path)

    def open_run(self, path: str) -> None:
        """Open a run file; it is read in a thread and shown when ready."""
        self.files.open(path)

    def show_run(self, history: RunHistory, path: str) -> None:
        self.builder.set_config(history.config, emit=False)
        self.session.view_history(history, path)
        self.setWindowTitle(f"vgrad_gui — {Path(path).name}")

    def autosave_dir(self) -> Path:
        return self.files.autosave_dir()

    def autosave(self) -> Autosaved | None:
        return self.files.autosave()

    def export_figure(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export figure",
                                              str(Path(self.files.default_dir()) / "vgrad.png"),
                                              "PNG images (*.png)")
        if path:
            if not path.lower().endswith(".png"):
                path += ".png"
            if self.grab().save(path):
                self.statusBar().showMessage(f"Saved {path}", 5000)
            else:
                self.show_message("Could not export", f"Could not write {path}.")

    def export_views(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Export views to folder",
                                                  self.files.default_dir())
        if folder:
            saved = self.export_views_to(folder)
            self.statusBar().showMessage(f"Saved {len(saved)} views to {folder}", 5000)

    def export_views_to(self, folder: str) -> list[str]:
        saved = []
        widgets: list[tuple[str, QWidget]] = [("diagram", self.diagram),
                                              ("banner", self.banner)]
        widgets += [(k, v) for k, v in self.views.items() if v.is_shown()]
        for key, widget in widgets:
            path = str(Path(folder) / f"vgrad-{key}.png")
            if widget.grab().save(path):
                saved.append(path)
        return saved

    # -- help ----------------------------------------------------------------------------------
    def show_shortcuts(self) -> None:
        rows = [(a.text().replace("…", ""), a.shortcut().toString(
            QKeySequence.SequenceFormat.NativeText))
            for a in (self.act_start, self.act_step, self.act_reset, self.act_slower,
                      self.act_faster, self.act_full, self.act_save, self.act_open,
                      self.act_export, self.act_bigger, self.act_smaller, self.act_quit)]
        table = "".join(f"<tr><td><b>{k}</b></td><td>&nbsp;&nbsp;{t}</td></tr>" for t, k in rows)
        self.show_message("Keyboard shortcuts", f"<table>{table}</table>",
                          icon=QMessageBox.Icon.Information)

    def show_about(self) -> None:
        from vgrad_gui import __version__

        QMessageBox.about(self, "About vgrad_gui",
                          f"<b>vgrad_gui {__version__}</b><br>Watch the vanishing gradient "
                          "problem happen, layer by layer, live.<br><br>The digits data set is "
                          "the UCI optical recognition of handwritten digits set (Alpaydin & "
                          "Kaynak, CC BY 4.0).")

    # -- events --------------------------------------------------------------------------------
    def eventFilter(self, obj: QObject, event: QEvent) -> bool:
        if obj is self.diagram and event.type() == QEvent.Type.Paint \
                and self.first_paint_at is None:
            self.first_paint_at = time.monotonic()
            QTimer.singleShot(0, self.start_worker)
        return super().eventFilter(obj, event)

    def closeEvent(self, event: QCloseEvent) -> None:
        if self._closing:
            event.accept()
            return
        self._closing = True
        self._save_settings()
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
