"""The docks around the run panels: creation, and the default layout for the screen at hand."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping

from PySide6.QtCore import QByteArray, Qt
from PySide6.QtWidgets import QDockWidget, QMainWindow, QWidget

from vgrad_gui.qt.plots.base import View


class Docks:
    def __init__(self, window: QMainWindow) -> None:
        self.window = window
        self.docks: dict[str, QDockWidget] = {}
        self.layout_pending = False
        # The user's layout as restored at start-up (None: the default layout). Applied again
        # once the views fill the docks: empty docks had other minimum sizes.
        self.restored: QByteArray | None = None

    def add(self, key: str, title: str, widget: QWidget) -> QDockWidget:
        dock = QDockWidget(title, self.window)
        dock.setObjectName(f"dock_{key}")
        dock.setWidget(widget)
        dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable
                         | QDockWidget.DockWidgetFeature.DockWidgetFloatable
                         | QDockWidget.DockWidgetFeature.DockWidgetClosable)
        self.docks[key] = dock
        return dock

    def __getitem__(self, key: str) -> QDockWidget:
        return self.docks[key]

    def default_layout(self, small: bool | None = None) -> None:
        """Place the docks for the screen at hand: side by side when there is room, tabbed
        on small screens (a 1280x720 projector)."""
        win = self.window
        for dock in self.docks.values():
            win.removeDockWidget(dock)
        d = self.docks
        if small is None:
            screen = win.screen().availableGeometry() if win.screen() else None
            small = screen is not None and (screen.height() < 900 or screen.width() < 1500)
        left, right, bottom = (Qt.DockWidgetArea.LeftDockWidgetArea,
                               Qt.DockWidgetArea.RightDockWidgetArea,
                               Qt.DockWidgetArea.BottomDockWidgetArea)
        win.addDockWidget(left, d["builder"])
        win.addDockWidget(right, d["heatmap"])
        if small:
            win.tabifyDockWidget(d["heatmap"], d["lines"])
            win.addDockWidget(bottom, d["bars"])
            for key in ("signal", "loss", "boundary", "health"):
                win.tabifyDockWidget(d["bars"], d[key])
            d["heatmap"].raise_()
            d["bars"].raise_()
        else:
            win.addDockWidget(right, d["lines"])
            win.splitDockWidget(d["heatmap"], d["lines"], Qt.Orientation.Vertical)
            win.addDockWidget(bottom, d["bars"])
            win.splitDockWidget(d["bars"], d["signal"], Qt.Orientation.Horizontal)
            win.splitDockWidget(d["signal"], d["loss"], Qt.Orientation.Horizontal)
            win.splitDockWidget(d["loss"], d["boundary"], Qt.Orientation.Horizontal)
            win.tabifyDockWidget(d["bars"], d["health"])
            d["bars"].raise_()
        for dock in d.values():
            dock.show()
        self.layout_pending = True
        self.fit()

    def fit(self) -> None:
        """Size the docks of the default layout to the window (once it has its size)."""
        win = self.window
        if not self.layout_pending or not win.isVisible():
            return
        self.layout_pending = False
        d = self.docks
        w, h = win.width(), win.height()
        # On a projector (1024x768, 1280x720) the diagram, the key view, gets the most room.
        small = w < 1500 or h < 900
        win.resizeDocks([d["builder"]], [int(min(400, max(260 if small else 300, w * 0.2)))],
                        Qt.Orientation.Horizontal)
        win.resizeDocks([d["heatmap"]], [int(w * (0.24 if small else 0.34))],
                        Qt.Orientation.Horizontal)
        win.resizeDocks([d["bars"]], [int(h * (0.22 if small else 0.3))],
                        Qt.Orientation.Vertical)
        if not small and not win.tabifiedDockWidgets(d["loss"]):
            # The bottom row, side by side: the flow bars, then three smaller views.
            row = [d[k] for k in ("bars", "signal", "loss", "boundary")]
            win.resizeDocks(row, [int(w * f) for f in (0.4, 0.2, 0.2, 0.2)],
                            Qt.Orientation.Horizontal)

    def views_placed(self) -> None:
        """The views are in their docks: size the docks again for them."""
        if self.restored is not None:
            self.window.restoreState(self.restored)
        elif not self.layout_pending:
            self.layout_pending = True
            self.fit()


class DockViews(Mapping[str, View]):
    """The views in the docks, built on first use. The window shows its first frame (the
    builder, the diagram) without them and builds them right after: seven pyqtgraph views
    are ~0.5 s, a third of the launch. Any read (``views["heatmap"]``, iteration) builds
    them at once, so callers never see a missing view."""

    def __init__(self, classes: dict[str, type[View]], make: Callable[[type[View]], View],
                 built: Callable[[dict[str, View]], None]) -> None:
        self.classes = classes
        self._make = make
        self._built = built
        self._views: dict[str, View] | None = None

    @property
    def is_built(self) -> bool:
        return self._views is not None

    def build(self) -> dict[str, View]:
        if self._views is None:
            self._views = {key: self._make(cls) for key, cls in self.classes.items()}
            self._built(self._views)
        return self._views

    def __getitem__(self, key: str) -> View:
        return self.build()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.build())

    def __len__(self) -> int:
        return len(self.classes)
