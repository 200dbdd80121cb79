"""Fixtures for the GUI tests. Starting a training process takes a few seconds (it imports
torch), so most tests share one window and its worker; tests that must end a window (closing,
signals, injected faults) make their own."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QApplication

from vgrad_gui.core.spec import Config
from vgrad_gui.qt.app import make_app
from vgrad_gui.qt.main_window import MainWindow

SMALL = Config(depth=4, width=8, steps=300, activation="tanh", init="xavier_uniform")


@pytest.fixture(scope="session")
def qapp_cls():
    return QApplication


@pytest.fixture(scope="session", autouse=True)
def app(qapp):
    """The app as the program makes it (theme, settings, the garbage collector between
    events), for every GUI test whether it asks for it or not."""
    return make_app()


def wait_for(app: QApplication, condition, timeout: float = 30.0) -> None:
    """Process events until ``condition()`` holds (for fixtures, where qtbot is not
    available)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met in time")
        app.processEvents()
        time.sleep(0.01)


def new_window(app: QApplication, tmp_path, config: Config = SMALL) -> MainWindow:
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    window = MainWindow(config=config, settings=settings)
    window.resize(1600, 1000)
    window.show()
    window.start_worker()
    wait_for(app, lambda: window.session.worker_info is not None, 60)
    wait_for(app, lambda: window.session.run is not None, 30)
    return window


@pytest.fixture(scope="module")
def window(app, tmp_path_factory):
    win = new_window(app, tmp_path_factory.mktemp("win"))
    yield win
    win.close()
    app.processEvents()


def configure(app: QApplication, window: MainWindow, config: Config) -> None:
    """Show ``config`` in the builder and wait for the worker to build it."""
    before = window.session.run_id
    window.builder.set_config(config)
    if window.session.run_id == before:  # same config as shown: rebuild anyway
        window.session.reset()
    run_id = window.session.run_id
    wait_for(app, lambda: window.session.run is not None
             and window.session.run.run_id == run_id and window.session.state == "ready")


MAKE_RUNS = """
import sys
from vgrad_gui.core.history import RunHistory
from vgrad_gui.core.runfile import save_run
from vgrad_gui.core.spec import Config
from vgrad_gui.core.trainer import Trainer
folder = sys.argv[1]
for depth in map(int, sys.argv[2:]):
    config = Config(depth=depth, width=6, steps=1000, activation="tanh",
                    init="xavier_uniform")
    trainer = Trainer(config)
    history = RunHistory(config, trainer.layer_names, trainer.probe.inactive_kind)
    for _ in range(3):
        history.append(trainer.run_block(10))
    save_run(history, f"{folder}/depth{depth}.npz")
"""
SAVED_DEPTHS = (2, 12, 40, 5, 60)


@pytest.fixture(scope="session")
def saved_runs(tmp_path_factory) -> dict[int, str]:
    """Small runs of several depths, made by the real Trainer and saved with save_run (in a
    subprocess: the GUI's test process keeps torch out, as the app does)."""
    folder = tmp_path_factory.mktemp("runs")
    subprocess.run([sys.executable, "-c", MAKE_RUNS, str(folder),
                    *map(str, SAVED_DEPTHS)], check=True, timeout=300)
    return {d: str(folder / f"depth{d}.npz") for d in SAVED_DEPTHS}
