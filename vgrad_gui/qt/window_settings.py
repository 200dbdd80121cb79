"""What the window remembers between sessions (QSettings): geometry and dock layout, text
size, speed and the last configuration. The theme is read before the window exists
(qt/app.py), so the window is never restyled as it opens."""

from __future__ import annotations

import contextlib
import json
from typing import TYPE_CHECKING

from PySide6.QtCore import QByteArray

from vgrad_gui.core.spec import Config, ConfigError
from vgrad_gui.qt import theme

if TYPE_CHECKING:
    from vgrad_gui.qt.main_window import MainWindow


def restore(window: MainWindow, config: Config | None, preset: str | None) -> None:
    """Put back what the last session left; the network from ``config``/``preset`` when
    given, else the last one, else the deep sigmoid lesson."""
    settings = window.settings
    geometry = settings.value("geometry")
    window.has_saved_geometry = isinstance(geometry, QByteArray) and \
        window.restoreGeometry(geometry)
    state = settings.value("windowState")
    if isinstance(state, QByteArray) and window.restoreState(state):
        window.dock_layout.layout_pending = False  # the user's own layout wins
        window.dock_layout.restored = state
    for key, apply in (("font_scale", lambda v: window.scale_text(float(v), absolute=True)),
                       ("speed", lambda v: window.speed.setValue(int(v)))):
        value = settings.value(key)
        if value is not None:
            with contextlib.suppress(TypeError, ValueError):
                apply(value)
    if config is None and preset is None:
        saved = settings.value("config")
        with contextlib.suppress(ConfigError, ValueError, TypeError):
            config = Config.from_dict(json.loads(saved)) if isinstance(saved, str) else None
    if config is None and preset is None:
        preset = "deep_sigmoid"
    if preset is not None and config is None:
        window.builder.apply_preset(preset)
    else:
        window.builder.set_config(config or Config())


def save(window: MainWindow) -> None:
    settings = window.settings
    settings.setValue("geometry", window.saveGeometry())
    settings.setValue("windowState", window.saveState())
    settings.setValue("font_scale", theme.font_scale())
    settings.setValue("speed", window.speed.value())
    settings.setValue("theme", theme.current())
    config = window.session.config or window.builder.config()
    if config is not None:
        settings.setValue("config", config.to_json())
    settings.sync()
