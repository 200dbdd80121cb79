"""RunBar: which run of a comparison the builder edits, and adding or removing runs.

A tab per run in its colour ("A · sigmoid", "B · ReLU + He init"); choosing one puts its
configuration in the builder, and the builder's changes go to that run only (the others keep
training)."""

from __future__ import annotations

from PySide6.QtCore import QSignalBlocker, Qt, Signal
from PySide6.QtGui import QColor, QWheelEvent
from PySide6.QtWidgets import QHBoxLayout, QPushButton, QTabBar, QWidget

from vgrad_gui.qt import theme


class NoWheelTabBar(QTabBar):
    """The wheel scrolls past: it never switches the run the builder edits."""

    def wheelEvent(self, event: QWheelEvent) -> None:
        event.ignore()


class RunBar(QWidget):
    selected = Signal(int)  # lane index
    addRequested = Signal()
    removeRequested = Signal()

    def __init__(self) -> None:
        super().__init__()
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 4)
        row.setSpacing(4)
        self.tabs = NoWheelTabBar()
        self.tabs.setElideMode(Qt.TextElideMode.ElideRight)
        self.tabs.setExpanding(True)
        self.tabs.setUsesScrollButtons(False)
        self.tabs.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.tabs.currentChanged.connect(self._current)
        row.addWidget(self.tabs, 1)
        self.add_button = QPushButton("+")
        self.add_button.setToolTip("Add a run to compare: a copy of the selected run, to change "
                                   "in the builder (Ctrl+Shift+N)")
        self.add_button.clicked.connect(self.addRequested.emit)
        self.remove_button = QPushButton("×")
        self.remove_button.setToolTip("Remove the selected run from the comparison "
                                      "(Ctrl+Shift+W)")
        self.remove_button.clicked.connect(self.removeRequested.emit)
        for b in (self.add_button, self.remove_button):
            b.setFixedWidth(b.fontMetrics().horizontalAdvance("××") + 18)
            b.setFocusPolicy(Qt.FocusPolicy.NoFocus)
            row.addWidget(b)
        self.hide()

    def _current(self, index: int) -> None:
        if index >= 0:
            self.selected.emit(index)

    def set_runs(self, labels: list[tuple[str, str, int]], current: int) -> None:
        """``labels``: (letter, label, colour slot) per lane; ``current``: the one edited."""
        with QSignalBlocker(self.tabs):
            while self.tabs.count() > len(labels):
                self.tabs.removeTab(self.tabs.count() - 1)
            while self.tabs.count() < len(labels):
                self.tabs.addTab("")
            for i, (letter, label, slot) in enumerate(labels):
                self.tabs.setTabText(i, f"{letter} · {label}" if label else letter)
                colour = theme.RUN_COLOURS[slot % len(theme.RUN_COLOURS)]
                self.tabs.setTabTextColor(i, QColor(colour))
                self.tabs.setTabToolTip(i, f"Run {letter}: {label}. Choose it to change it in "
                                           "the builder; the other runs go on.")
            if 0 <= current < len(labels):
                self.tabs.setCurrentIndex(current)
        self.add_button.setEnabled(len(labels) < 4)
        self.remove_button.setEnabled(len(labels) > 1 and current > 0)
        self.setVisible(len(labels) > 1)
