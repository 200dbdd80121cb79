"""Copy, paste, save and open a *setup*: what the window shows (its networks, a lesson step,
which views are hidden, the speed, the theme) as a short text or a small file to share
(core/setups.py has the format and its checks). A setup never carries weights or history:
applying one configures the runs afresh."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QApplication, QFileDialog

from vgrad_gui.core.setups import (
    VIEW_KEYS,
    Setup,
    SetupError,
    describe,
    from_string,
    load_setup,
    save_setup,
    to_string,
)
from vgrad_gui.qt import theme
from vgrad_gui.qt.controls import SPEEDS

if TYPE_CHECKING:
    from vgrad_gui.qt.main_window import MainWindow


def current_setup(window: MainWindow) -> Setup:
    lanes = window.session.lanes
    presenter = window.presenter
    opened = presenter.lesson
    # Only a shipped lesson travels as a name; a lecturer's own file is shared as the file.
    lesson = opened.source[len("lesson "):] if opened is not None and \
        opened.source.startswith("lesson ") else None
    step = presenter.index if lesson else None
    return Setup(
        runs=tuple(lane.config for lane in lanes if lane.config is not None),
        lesson=lesson, lesson_step=step + 1 if step is not None else None,
        hidden_views=tuple(k for k in VIEW_KEYS
                           if k in window.docks and window.docks[k].isHidden()),
        speed=SPEEDS[window.controls.speed.value()],
        theme=theme.current() if hasattr(theme, "current") else None)


def apply_setup(window: MainWindow, setup: Setup) -> None:
    """Show ``setup``: its lesson at its step, or its runs (one, or a comparison)."""
    if setup.lesson is not None and window.presenter.open_named(setup.lesson):
        window.presenter.go((setup.lesson_step or 1) - 1)
    elif setup.runs:
        session = window.session
        while len(session.lanes) > 1:
            session.remove_lane(len(session.lanes) - 1)
        window.select_lane(0)
        window.builder.set_config(setup.runs[0])
        for config in setup.runs[1:]:
            window.add_run(config)
        window.select_lane(0)
    for key in VIEW_KEYS:
        if key in window.docks:
            window.docks[key].setVisible(key not in setup.hidden_views)
    window.controls.speed.setValue(_speed_index(setup.speed))
    if setup.theme is not None and hasattr(theme, "set_theme"):
        app = QApplication.instance()
        if isinstance(app, QApplication):
            theme.set_theme(app, setup.theme)


def _speed_index(speed: float | None) -> int:
    """The slider position nearest ``speed`` (None: as fast as possible, the last)."""
    if speed is None:
        return len(SPEEDS) - 1
    finite = [(abs(s - speed), i) for i, s in enumerate(SPEEDS) if s is not None]
    return min(finite)[1]


def copy_setup(window: MainWindow) -> None:
    setup = current_setup(window)
    QGuiApplication.clipboard().setText(to_string(setup))
    window.statusBar().showMessage(f"Setup copied: {describe(setup)}", 6000)


def paste_setup(window: MainWindow) -> None:
    try:
        setup = from_string(QGuiApplication.clipboard().text())
    except SetupError as exc:
        window.show_message("Paste setup", str(exc))  # nothing changes
        return
    apply_setup(window, setup)
    window.statusBar().showMessage(f"Setup pasted: {describe(setup)}", 6000)


def save_setup_dialog(window: MainWindow) -> None:
    path, _ = QFileDialog.getSaveFileName(window, "Save setup",
                                          f"{window.files.default_dir()}/setup.json",
                                          "Setups (*.json)")
    if not path:
        return
    try:
        save_setup(current_setup(window), path)
    except (OSError, SetupError) as exc:
        window.show_message("Could not save the setup",
                            f"{path}: {getattr(exc, 'strerror', None) or exc}")
        return
    window.statusBar().showMessage(f"Setup saved to {path}", 5000)


def open_setup_dialog(window: MainWindow) -> None:
    path, _ = QFileDialog.getOpenFileName(window, "Open setup", window.files.default_dir(),
                                          "Setups (*.json *.txt);;All files (*)")
    if not path:
        return
    try:
        setup = load_setup(path)
    except SetupError as exc:
        window.show_message("Open setup", str(exc))
        return
    apply_setup(window, setup)
