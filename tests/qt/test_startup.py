"""Issue 8, start-up: the window paints its first frame (builder, diagram) before the seven
dock views exist, builds them right after, and any earlier read of a view builds them at once."""

from __future__ import annotations

from PySide6.QtCore import QSettings

from tests.qt.conftest import SMALL
from vgrad_gui.qt.main_window import VIEWS, MainWindow
from vgrad_gui.qt.plots.base import View


def _window(qtbot, tmp_path) -> MainWindow:
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    window = MainWindow(config=SMALL, settings=settings)
    qtbot.addWidget(window)
    return window


def test_the_dock_views_are_built_right_after_the_first_paint(qtbot, tmp_path):
    window = _window(qtbot, tmp_path)
    assert not window.views.is_built
    assert not any(isinstance(window.docks[key].widget(), View) for key in VIEWS)
    assert all(window.docks[key].widget().text() == "Loading this view…" for key in VIEWS)
    assert [window.docks[key].windowTitle() for key in VIEWS] == [c.title for c in VIEWS.values()]
    window.resize(1280, 720)
    window.show()
    qtbot.waitUntil(lambda: window.first_paint_at is not None, timeout=10_000)
    qtbot.waitUntil(lambda: window.views.is_built, timeout=10_000)
    for key, view in window.views.items():
        assert window.docks[key].widget() is view
        assert type(view) is VIEWS[key]


def test_reading_a_view_before_the_first_paint_builds_them_all_in_their_docks(qtbot, tmp_path):
    window = _window(qtbot, tmp_path)
    heatmap = window.views["heatmap"]
    assert window.views.is_built
    assert window.docks["heatmap"].widget() is heatmap
    assert len(window.views) == len(VIEWS) == len(list(window.views.values()))
    assert window.views["heatmap"] is heatmap  # built once
