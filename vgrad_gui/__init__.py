"""vgrad_gui: watch the vanishing gradient problem happen, layer by layer, live.

The Qt-free core lives in ``vgrad_gui.core``; the desktop app in ``vgrad_gui.qt``.
"""

__version__ = "0.1.0"
