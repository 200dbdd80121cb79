"""The desktop app's entry point: QApplication, theme, main window, clean shutdown."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import sys
import time

from PySide6.QtCore import QSettings, QSocketNotifier, QTimer
from PySide6.QtWidgets import QApplication

from vgrad_gui.core.lessons import Lesson
from vgrad_gui.core.run import Run
from vgrad_gui.core.setups import Setup
from vgrad_gui.core.spec import Config
from vgrad_gui.qt import collector, theme
from vgrad_gui.qt.main_window import MainWindow

ORGANISATION = "vgrad_gui"
APPLICATION = "vgrad-gui"


def make_app(argv: list[str] | None = None) -> QApplication:
    app = QApplication.instance()
    if app is None:
        app = QApplication(argv or [sys.argv[0]])
    assert isinstance(app, QApplication)
    app.setOrganizationName(ORGANISATION)
    app.setApplicationName(APPLICATION)
    app.setApplicationDisplayName("vgrad_gui")
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    collector.install(app)
    theme.apply(app)
    return app


def run_app(config: Config | None = None, preset: str | None = None, autostart: bool = False,
            fullscreen: bool = False, runs: list[Run] | None = None,
            run_path: str | None = None, compare: list[Config] | None = None,
            setup: Setup | None = None, theme_name: str | None = None,
            lesson: Lesson | None = None, present: bool = False) -> int:
    launched = time.monotonic()
    app = make_app()
    name = theme_name or (setup.theme if setup is not None else None) or _saved_theme()
    if name and name != theme.current():
        theme.set_theme(app, name)  # before the window exists: nothing to repolish
    if compare:
        config = compare[0]
    if setup is not None and setup.runs:
        config = setup.runs[0]  # the builder starts there: no build of a default first
    window = MainWindow(config=config, preset=preset, runs=runs, run_path=run_path,
                        compare=compare, setup=setup)
    wakeup = _install_signal_handlers(app, window)
    if fullscreen:
        window.showFullScreen()
    elif window.has_saved_geometry:
        window.show()
    else:
        # First launch: use the whole screen (or projector). Set the size too, for displays
        # without a window manager, where maximising does nothing.
        screen = app.primaryScreen().availableGeometry()
        window.setGeometry(screen)
        window.showMaximized()
    QTimer.singleShot(0, window.fit_docks)
    if present:
        window.presenter.set_presenting(True)  # first: a lesson's runs laid out to present
    if lesson is not None:
        window.presenter.open_lesson(lesson)
    # The worker normally starts on the first paint; this covers platforms that paint late.
    QTimer.singleShot(500, window.start_worker)
    if autostart:
        window.start_training()
    if os.environ.get("VGRAD_REPORT_STARTUP"):
        def report() -> None:
            if window.first_paint_at is None:
                QTimer.singleShot(5, report)
                return
            print(f"vgrad-gui: first frame painted {window.first_paint_at - launched:.3f} s "
                  f"after the app started (monotonic {window.first_paint_at:.4f})",
                  file=sys.stderr, flush=True)
            QTimer.singleShot(0, report_views)

        def report_views() -> None:
            if not window.views.is_built:
                QTimer.singleShot(5, report_views)
                return
            now = time.monotonic()
            print(f"vgrad-gui: every view built {now - launched:.3f} s after the app started "
                  f"(monotonic {now:.4f})", file=sys.stderr, flush=True)
        QTimer.singleShot(0, report)

        def report_training() -> None:
            run = window.session.run
            if run is not None and run.live and run.history.step > 0:
                print(f"vgrad-gui: training, step {run.history.step}", file=sys.stderr,
                      flush=True)
                window.clock.frame.disconnect(report_training)

        window.clock.frame.connect(report_training)
    code = app.exec()
    del wakeup
    return code or window.exit_code


def _saved_theme() -> str | None:
    """The theme chosen last time (View > Light theme), unless VGRAD_THEME says otherwise."""
    if os.environ.get("VGRAD_THEME"):
        return None
    saved = QSettings().value("theme")
    return saved if saved in theme.THEMES else None


def _install_signal_handlers(app: QApplication, window: MainWindow) -> object:
    """Ctrl+C and SIGTERM close the window as the close button would (the trainer stops,
    the run is kept, exit status 0). Python only runs signal handlers between bytecodes, so
    a socket wakes the Qt event loop when a signal arrives."""
    read, write = socket.socketpair()
    read.setblocking(False)
    write.setblocking(False)
    signal.set_wakeup_fd(write.fileno())
    notifier = QSocketNotifier(read.fileno(), QSocketNotifier.Type.Read)

    def drain() -> None:
        with contextlib.suppress(OSError):
            read.recv(64)

    notifier.activated.connect(drain)

    def handle(signum: int, frame: object) -> None:
        QTimer.singleShot(0, window.close)

    signal.signal(signal.SIGINT, handle)
    signal.signal(signal.SIGTERM, handle)
    return (read, write, notifier)
