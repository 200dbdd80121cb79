"""An unexpected exception in the GUI (in any slot or event handler) shows a message and the
app goes on; it never ends the process.

PySide6 hands an exception raised in a slot to ``sys.excepthook``. The hook installed here
passes it on to the hook it replaced (which prints the traceback, or lets pytest-qt fail the
test), then shows one non-modal message. A repeating error (a slot on a 60 Hz timer) must not
open 60 dialogs a second: while a message is open, repeats only count up in it, and a new one
opens at most every ``MIN_SECONDS``.
"""

from __future__ import annotations

import sys
import time
import traceback
import weakref
from collections.abc import Callable
from types import TracebackType
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox, QWidget

MIN_SECONDS = 5.0

Hook = Callable[[type[BaseException], BaseException, TracebackType | None], Any]


class ErrorReporter:
    """Shows unexpected exceptions over ``window``, at most one message at a time."""

    def __init__(self, window: QWidget) -> None:
        self._window = weakref.ref(window)
        self.box: QMessageBox | None = None
        self.shown = 0  # messages opened
        self.repeats = 0  # exceptions folded into the open message
        self._last_open = -MIN_SECONDS
        self._summary = ""

    def report(self, kind: type[BaseException], value: BaseException,
               tb: TracebackType | None) -> None:
        window = self._window()
        if window is None:
            return
        if isinstance(value, KeyboardInterrupt):
            window.close()
            return
        summary = f"{kind.__name__}: {value}"
        box = self.box
        if box is not None and box.isVisible():
            self.repeats += 1
            box.setInformativeText(f"It happened {self.repeats + 1} times"
                                   + (" (with other errors)." if summary != self._summary
                                      else "."))
            return
        now = time.monotonic()
        if now - self._last_open < MIN_SECONDS:
            self.repeats += 1
            return  # the user has just closed one: do not reopen it at once
        self._last_open = now
        self.repeats = 0
        self._summary = summary
        self.shown += 1
        text = summary if len(summary) <= 300 else summary[:299] + "…"
        box = QMessageBox(QMessageBox.Icon.Warning, "Something went wrong",
                          f"{text}\n\nThe app is still running; if a view looks wrong, reset "
                          "the run.", QMessageBox.StandardButton.Ok, window)
        box.setDetailedText("".join(traceback.format_exception(kind, value, tb)))
        box.setModal(False)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.destroyed.connect(self._closed)
        box.show()  # show(), not open(): open() makes it window-modal
        self.box = box

    def _closed(self) -> None:
        self.box = None


_current: ErrorReporter | None = None
_previous: Hook | None = None


def _hook(kind: type[BaseException], value: BaseException, tb: TracebackType | None) -> None:
    previous = _previous or sys.__excepthook__
    try:
        previous(kind, value, tb)
    finally:
        if _current is not None:
            try:
                _current.report(kind, value, tb)
            except Exception:
                traceback.print_exc()


def install(window: QWidget) -> ErrorReporter:
    """Report unexpected exceptions over ``window`` (the newest window wins)."""
    global _current, _previous
    reporter = ErrorReporter(window)
    _current = reporter
    if sys.excepthook is not _hook:
        _previous = sys.excepthook
        sys.excepthook = _hook
    return reporter


def hook() -> Hook:
    """The hook ``install`` sets (for tests that must call it through pytest-qt's)."""
    return _hook


def show_message(window: Any, title: str, text: str, details: str = "",
                 icon: QMessageBox.Icon = QMessageBox.Icon.Warning) -> QMessageBox:
    """A message that does not block (training and drawing go on behind it); the window's
    ``last_message`` is it until it closes."""
    box = QMessageBox(icon, title, text, QMessageBox.StandardButton.Ok, window)
    if details:
        box.setDetailedText(details)
    box.setModal(False)
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    box.show()  # not open(): open() makes it window-modal
    window.last_message = box

    def gone() -> None:
        if window.last_message is box:
            window.last_message = None

    box.destroyed.connect(gone)
    return box
