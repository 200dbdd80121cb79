"""Controls: the window's actions (with their shortcuts and tooltips), toolbar and menus.

One place per command: the toolbar, the menus, the shortcut list (F1) and the tests all use
the same QAction. The window passes the slots; this module only builds."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QLabel, QMainWindow, QSlider, QToolButton

SPEEDS: list[float | None] = [1, 2, 5, 10, 20, 50, 100, 200, 500, None]

Key = str | QKeySequence.StandardKey | None


@dataclass(frozen=True)
class Command:
    name: str
    text: str
    key: Key
    tip: str


COMMANDS = (
    Command("start", "Start", "Space", "Start or pause training (every run of a comparison)"),
    Command("step", "Step", "N", "Train exactly one step"),
    Command("reset", "Reset", "R", "Start again from freshly initialised weights (same config, "
            "same seed: the same initial weights)"),
    Command("compare", "Compare", "C", "Compare mode on or off: train up to four networks side "
            "by side, step for step, on the same data"),
    Command("add_run", "Add run", "Ctrl+Shift+N", "Add a run to the comparison: a copy of the "
            "selected run, to change in the builder"),
    Command("remove_run", "Remove run", "Ctrl+Shift+W", "Remove the selected run from the "
            "comparison (the others go on)"),
    Command("back", "Step back", "Left", "Show every view one step earlier (the timeline)"),
    Command("on", "Step on", "Right", "Show every view one step later (the timeline)"),
    Command("back_far", "Back a tenth", "Shift+Left", "Move the timeline back a tenth of the run"),
    Command("on_far", "On a tenth", "Shift+Right", "Move the timeline on a tenth of the run"),
    Command("first", "First step", "Home", "Show the first step recorded"),
    Command("live", "Follow live", "End", "Show the latest step again, following training"),
    Command("replay", "Replay", "Ctrl+Space", "Replay the run on the timeline, or stop"),
    Command("full", "Full screen", "F", "Full screen on or off (Esc leaves it)"),
    Command("save", "Save run…", QKeySequence.StandardKey.Save,
            "Save this run (or the whole comparison) to one file (.npz) to reopen or compare"),
    Command("open", "Open run…", QKeySequence.StandardKey.Open,
            "Open saved runs (.npz); several files open side by side"),
    Command("export", "Export…", "Ctrl+E", "Export a view as a PNG or SVG figure, the data "
            "behind it as CSV, or the whole run as CSV (also: right-click a plot)"),
    Command("export_views", "Export window and views…", "Ctrl+Shift+E",
            "Save a PNG of the whole window and of each visible view, into a folder"),
    Command("copy_setup", "Copy setup", "Ctrl+Shift+C",
            "Copy what this window shows (networks, lesson step, hidden views) as a short "
            "text to share; Paste setup or vgrad-gui --setup opens it"),
    Command("paste_setup", "Paste setup", "Ctrl+Shift+V",
            "Open a setup copied from vgrad_gui (a vgrad1:... text) from the clipboard"),
    Command("save_setup", "Save setup…", None, "Save this window's setup as a small JSON file"),
    Command("open_setup", "Open setup…", None, "Open a setup file (JSON or a vgrad1: text)"),
    Command("quit", "Quit", QKeySequence.StandardKey.Quit, "Quit"),
    Command("bigger", "Larger text", QKeySequence.StandardKey.ZoomIn, "Make all text larger"),
    Command("smaller", "Smaller text", QKeySequence.StandardKey.ZoomOut,
            "Make all text smaller"),
    Command("theme", "Light theme", "Ctrl+Shift+L", "Switch between the dark theme and a "
            "light, high-contrast one for bright rooms and projectors"),
    Command("layout", "Reset layout", None, "Put every view back where it started"),
    Command("keys", "Keyboard shortcuts", "F1", "List the keyboard shortcuts"),
    Command("about", "About vgrad_gui", None, "About"),
    Command("slower", "Slower", "[", "Train slower"),
    Command("faster", "Faster", "]", "Train faster"),
)
# Short enough for a 1024-pixel projector (Add run is the run bar's +, and in the Run menu).
TOOLBAR = ("start", "step", "reset", "|", "speed", "|", "compare", "|", "save", "open",
           "export")
MENUS = {
    "&File": ("open", "save", "export", "export_views", "|", "copy_setup", "paste_setup",
              "save_setup", "open_setup", "|", "quit"),
    "&Run": ("start", "step", "reset", "slower", "faster", "|", "compare", "add_run",
             "remove_run"),
    "&View": ("docks", "|", "full", "bigger", "smaller", "theme", "layout"),
    "&Timeline": ("replay", "back", "on", "back_far", "on_far", "first", "live"),
    "&Help": ("keys", "about"),
}
SHORTCUT_LIST = ("start", "step", "reset", "slower", "faster", "compare", "add_run",
                 "remove_run", "copy_setup", "paste_setup", "replay", "back", "on", "back_far",
                 "on_far", "first", "live", "full", "theme", "save", "open", "export", "bigger",
                 "smaller", "quit")


def make_actions(window: QMainWindow, commands: Sequence[Any],
                 slots: dict[str, Callable[[], Any]]) -> dict[str, QAction]:
    """A window-wide QAction per command (name, text, key, tip): its shortcut, a tooltip that
    names the shortcut, the status tip, its slot."""
    actions: dict[str, QAction] = {}
    for c in commands:
        a = QAction(c.text, window)
        if c.key is not None:
            a.setShortcut(QKeySequence(c.key))
        a.setToolTip(f"{c.tip} ({a.shortcut().toString()})" if c.key else c.tip)
        a.setStatusTip(c.tip)
        a.triggered.connect(slots[c.name])
        window.addAction(a)
        actions[c.name] = a
    return actions


class Controls:
    def __init__(self, window: QMainWindow, slots: dict[str, Callable[[], Any]],
                 dock_actions: list[QAction]) -> None:
        self.actions = make_actions(window, COMMANDS, slots)
        self.actions["compare"].setCheckable(True)
        for name, short in (("save", "Save"), ("open", "Open"), ("export", "Export")):
            self.actions[name].setIconText(short)  # the toolbar's text, on a 1024-px screen
        self.actions["theme"].setCheckable(True)
        leave = QAction(window)
        leave.setShortcut(QKeySequence("Escape"))
        leave.triggered.connect(lambda: window.showNormal() if window.isFullScreen() else None)
        window.addAction(leave)
        self.speed = QSlider(Qt.Orientation.Horizontal)
        self.speed.setRange(0, len(SPEEDS) - 1)
        self.speed.setValue(len(SPEEDS) - 1)
        self.speed.setFixedWidth(130)
        self.speed.setToolTip("Training speed, from one step a second to as fast as possible "
                              "([ slower, ] faster)")
        self.speed.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.speed_label = QLabel("max")
        self.speed_label.setMinimumWidth(self.speed_label.fontMetrics().horizontalAdvance(
            "500 steps/s") + 6)
        self._toolbar(window)
        self._menus(window, dock_actions)

    def __getitem__(self, name: str) -> QAction:
        return self.actions[name]

    def _toolbar(self, window: QMainWindow) -> None:
        bar = window.addToolBar("Controls")
        bar.setObjectName("controls")
        bar.setMovable(False)
        bar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        for name in TOOLBAR:
            if name == "|":
                bar.addSeparator()
            elif name == "speed":
                bar.addWidget(QLabel(" Speed "))
                bar.addWidget(self.speed)
                bar.addWidget(self.speed_label)
            else:
                bar.addAction(self.actions[name])
                button = bar.widgetForAction(self.actions[name])
                if button is not None:
                    # Space must reach the window (Start), not press a focused button.
                    button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        start = bar.widgetForAction(self.actions["start"])
        assert isinstance(start, QToolButton)
        start.setObjectName("startButton")
        self.start_button = start

    def _menus(self, window: QMainWindow, dock_actions: list[QAction]) -> None:
        bar = window.menuBar()
        for title, names in MENUS.items():
            menu = bar.addMenu(title)
            for name in names:
                if name == "|":
                    menu.addSeparator()
                elif name == "docks":
                    for a in dock_actions:
                        menu.addAction(a)
                else:
                    menu.addAction(self.actions[name])

    def shortcut_rows(self) -> list[tuple[str, str]]:
        return [(self.actions[n].text().replace("…", ""), self.actions[n].shortcut().toString(
            QKeySequence.SequenceFormat.NativeText)) for n in SHORTCUT_LIST]

    def show_state(self, state: str, valid: bool, comparing: bool, lanes: int) -> None:
        running = state == "running"
        a = self.actions
        a["start"].setText("Pause" if running else "Resume" if state == "paused" else "Start")
        self.start_button.setProperty("running", running)
        self.start_button.style().unpolish(self.start_button)
        self.start_button.style().polish(self.start_button)
        a["start"].setEnabled(valid)
        a["step"].setEnabled(valid and not running)
        a["reset"].setEnabled(valid)
        a["compare"].setChecked(comparing)
        a["add_run"].setEnabled(lanes < 4)
        a["remove_run"].setEnabled(lanes > 1)

    def nudge_speed(self, delta: int) -> None:
        self.speed.setValue(max(0, min(len(SPEEDS) - 1, self.speed.value() + delta)))
