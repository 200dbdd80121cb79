"""Help: the keyboard shortcuts (from the one table of commands) and About."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtWidgets import QMessageBox

if TYPE_CHECKING:
    from vgrad_gui.qt.main_window import MainWindow


def show_shortcuts(window: MainWindow) -> None:
    rows = window.controls.shortcut_rows() + [
        (a.text().replace("&", ""), a.shortcut().toString())
        for a in window.presenter.actions.values() if not a.shortcut().isEmpty()]
    table = "".join(f"<tr><td><b>{k}</b></td><td>&nbsp;&nbsp;{t}</td></tr>" for t, k in rows)
    window.show_message("Keyboard shortcuts", f"<table>{table}</table>",
                        icon=QMessageBox.Icon.Information)


def show_about(window: MainWindow) -> None:
    from vgrad_gui import __version__

    QMessageBox.about(window, "About vgrad_gui",
                      f"<b>vgrad_gui {__version__}</b><br>Watch the vanishing gradient problem "
                      "happen, layer by layer, live.<br><br>The digits data set is the UCI "
                      "optical recognition of handwritten digits set (Alpaydin & Kaynak, CC BY "
                      "4.0).")
