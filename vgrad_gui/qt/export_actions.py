"""Export from the window: a view as PNG (at a scale, for print) or SVG, as it is on screen or
as a figure with a caption naming the run and the step; the data behind a view as CSV; a whole
run as a wide per-layer CSV. The drawing and the tables are qt/figures.py and core/export.py,
the same code as ``vgrad-gui export``; this module asks what and where.

Every plot's right-click "Export…" opens this dialog for that view: pyqtgraph's own export
dialog writes broken SVG with this Qt (see DEVELOPERS.md) and knows nothing of captions."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import pyqtgraph as pg
from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QWidget,
)

from vgrad_gui.core import export
from vgrad_gui.core.export import ExportError
from vgrad_gui.qt import figures

if TYPE_CHECKING:
    from vgrad_gui.qt.main_window import MainWindow

WHOLE_RUN = "run"
FORMATS = {"PNG picture": "png", "SVG drawing (for print and editing)": "svg",
           "CSV data (the numbers behind it)": "csv"}


class ExportDialog(QDialog):
    def __init__(self, window: MainWindow, view: str | None = None) -> None:
        super().__init__(window)
        self.setWindowTitle("Export")
        form = QFormLayout(self)
        self.view = QComboBox()
        for key, v in window.views.items():
            if key in export.VIEWS:
                self.view.addItem(v.title + ("" if v.is_shown() else " (hidden: as a figure)"),
                                  key)
        self.view.addItem("The whole run, every layer (CSV)", WHOLE_RUN)
        if view is not None and self.view.findData(view) >= 0:
            self.view.setCurrentIndex(self.view.findData(view))
        form.addRow("View", self.view)
        self.run = QComboBox()
        for run in window.workspace.runs:
            self.run.addItem(f"{window.workspace.letter(run.run_id)} · {run.label}", run.run_id)
        form.addRow("Run", self.run)
        self.format = QComboBox()
        for text, fmt in FORMATS.items():
            self.format.addItem(text, fmt)
        form.addRow("Format", self.format)
        self.scale = QDoubleSpinBox()
        self.scale.setRange(0.5, 8.0)
        self.scale.setSingleStep(0.5)
        self.scale.setValue(2.0)
        self.scale.setToolTip("2 or 3 for print: the picture is this many times the size on "
                              "screen, text and lines included")
        form.addRow("Scale", self.scale)
        self.caption = QCheckBox("As a figure with a caption (the run, its settings, the step)")
        self.caption.setChecked(True)
        form.addRow("", self.caption)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save
                                   | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)
        self.view.currentIndexChanged.connect(self._sync)
        self.format.currentIndexChanged.connect(self._sync)
        self._sync()

    def _sync(self) -> None:
        whole = self.view.currentData() == WHOLE_RUN
        fmt = self.format.currentData()
        if whole and fmt != "csv":
            self.format.setCurrentIndex(self.format.findData("csv"))
            fmt = "csv"
        self.scale.setEnabled(fmt == "png")
        self.caption.setEnabled(fmt != "csv")


class Exporter(QObject):
    done = Signal(str, str)  # path or "", message

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.window = window
        self.done.connect(self._done)
        if window.views.is_built:
            self.add_context_menus(window.views)

    def add_context_menus(self, views: Mapping[str, object]) -> None:
        """"Export…" in each dock view's context menu (called once the views exist)."""
        for key, view in views.items():
            if key in export.VIEWS:
                self._route_context_menu(key, view)

    def _route_context_menu(self, key: str, view: object) -> None:
        for graphics in view.findChildren(pg.GraphicsView):  # type: ignore[attr-defined]
            action = QAction("Export…", graphics)
            action.triggered.connect(lambda _=False, k=key: self.dialog(k))
            graphics.scene().contextMenu = [action]

    def dialog(self, view: str | None = None) -> None:
        w = self.window
        if not len(w.workspace):
            w.statusBar().showMessage("Nothing to export yet: train a few steps first.", 4000)
            return
        box = ExportDialog(w, view)
        if not box.exec():
            return
        key, fmt = box.view.currentData(), box.format.currentData()
        run = w.workspace.get(box.run.currentData())
        step = w.workspace.cursor.step_for(run) or None
        name = f"vgrad-{key}-{(run.label or 'run').replace(' ', '_')}.{fmt}"
        path, _ = QFileDialog.getSaveFileName(w, "Export", str(Path(w.files.default_dir())
                                                              / name))
        if path:
            self.write(key, fmt, run.run_id, step, path, box.scale.value(),
                       box.caption.isChecked())

    def write(self, key: str, fmt: str, run_id: int, step: int | None, path: str,
              scale: float = 1.0, caption: bool = True) -> None:
        """Write one export; CSV in a thread (a long run's wide table takes seconds)."""
        w = self.window
        run = w.workspace.get(run_id)
        try:
            if fmt == "csv":
                if key != WHOLE_RUN:
                    table = export.view_table(run, key, step)
                    threading.Thread(target=self._write_csv, args=(path, lambda: table),
                                     daemon=True, name="vgrad-export").start()
                elif run.state == "running":
                    # The history grows under a training run: take the table here.
                    whole = export.run_table(run)
                    threading.Thread(target=self._write_csv, args=(path, lambda: whole),
                                     daemon=True, name="vgrad-export").start()
                else:  # a long run's table takes seconds: all of it off the GUI thread
                    threading.Thread(target=self._write_csv,
                                     args=(path, lambda: export.run_table(run)),
                                     daemon=True, name="vgrad-export").start()
                return
            view = w.views[key]
            if caption or not view.is_shown():
                figures.render_figure(run, key, step, fmt, path, scale=scale, caption=caption)
            else:
                figures.export_widget_plot(view, path, fmt, scale)
        except ExportError as exc:
            self._done("", str(exc))
            return
        self._done(path, "")

    def views_dialog(self) -> None:
        w = self.window
        folder = QFileDialog.getExistingDirectory(w, "Export window and views to folder",
                                                  w.files.default_dir())
        if folder:
            saved = self.views_to(folder)
            w.statusBar().showMessage(f"Saved {len(saved)} pictures to {folder}", 5000)

    def views_to(self, folder: str) -> list[str]:
        """A PNG of the window and of every view on screen (a hidden one is left out: its
        picture would be stale)."""
        w = self.window
        widgets: list[tuple[str, QWidget]] = [("window", w)]
        for i, panel in enumerate(w.panels.panels):
            suffix = "" if i == 0 else f"-{'ABCD'[i]}"
            widgets += [(f"diagram{suffix}", panel.diagram), (f"banner{suffix}", panel.banner)]
        widgets += [(k, v) for k, v in w.views.items() if v.is_shown()]
        saved = []
        for key, widget in widgets:
            path = str(Path(folder) / f"vgrad-{key}.png")
            if widget.isVisible() and widget.grab().save(path):
                saved.append(path)
        return saved

    def _write_csv(self, path: str, make: Callable[[], export.Table]) -> None:
        try:
            export.write_csv(path, *make())
        except (ExportError, OSError) as exc:
            self.done.emit("", str(exc))
            return
        self.done.emit(path, "")

    def _done(self, path: str, problem: str) -> None:
        if problem:
            self.window.show_message("Could not export", problem)
        else:
            self.window.statusBar().showMessage(f"Exported {path}", 5000)
