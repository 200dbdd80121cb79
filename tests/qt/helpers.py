"""What several GUI tests do: draw every view, wait for every view to follow a new run, check
that each view's per-layer state matches the run's depth, and read an image's pixels."""

from __future__ import annotations

import numpy as np
from PySide6.QtGui import QImage

from vgrad_gui.qt import guard
from vgrad_gui.qt.main_window import MainWindow
from vgrad_gui.qt.plots.grad_lines import MAX_CURVES


def all_views(window: MainWindow) -> list:
    return [window.diagram, window.banner, *window.views.values()]


def views_follow(window: MainWindow) -> bool:
    """Every view has rebuilt for the session's current run."""
    run = window.session.run
    return run is not None and all(v._pending is None and v.run is run
                                   for v in all_views(window))


def draw_every_view(window: MainWindow, qtbot) -> None:
    """Raise every dock (tabbed or not) and force a paint of each view."""
    for dock in window.docks.values():
        dock.show()
        dock.raise_()
        qtbot.wait(20)
        widget = dock.widget()
        widget.grab()
    for view in all_views(window):
        view.grab()
    for text in (window.status_state, window.status_step):
        text.grab()


def check_per_layer_state(window: MainWindow) -> None:
    """Each view's per-layer items have the current run's depth."""
    info = window.session.run
    assert info is not None
    n = info.history.n_layers
    v = window.views
    opts = v["bars"].bars.opts
    assert len(opts["x"]) == n and len(opts["height"]) == n
    assert opts["brushes"] is not None and len(opts["brushes"]) == n
    assert len(v["bars"].colours) == n
    assert v["bars"].layer_axis.count == n
    assert v["heatmap"].layer_axis.count == n
    image = v["heatmap"].image.image
    assert image is None or image.shape[0] == n
    assert len(v["lines"].lines) == min(n, MAX_CURVES)
    assert max(v["lines"].layers) == n - 1
    logs = v["lines"]._logs
    assert logs is None or logs.shape[1] == len(v["lines"].layers)
    health = v["health"]
    assert health.axes[2].count == n and health.axes[0].count == max(1, n - 1)
    assert len(health.inactive_bars.opts["x"]) in (0, n - 1)
    assert len(window.diagram.widths) == n + 1
    assert len(window.diagram.levels) in (0, n)
    assert len(window.diagram.norms) == n


def paint_failures() -> int:
    return guard.failures


def rgb_pixels(image: QImage) -> np.ndarray:
    """An image's pixels as int RGB, (height, width, 3)."""
    image = image.convertToFormat(QImage.Format.Format_RGB32)
    words = np.frombuffer(image.constBits(), np.uint32,
                          image.height() * image.bytesPerLine() // 4)
    words = words.reshape(image.height(), -1)[:, :image.width()]
    return np.stack([(words >> s) & 0xFF for s in (16, 8, 0)], axis=-1).astype(int)
