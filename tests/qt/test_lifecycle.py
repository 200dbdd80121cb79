"""Ending well: closing during training, SIGTERM and Ctrl+C, a failing trainer, a dead worker;
and the settings that survive a restart."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings

from tests.qt.conftest import SMALL, new_window
from vgrad_gui.qt.main_window import MainWindow


def children_of(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


def test_closing_during_training_stops_the_worker_within_a_second(app, qtbot, tmp_path):
    window = new_window(app, tmp_path, SMALL.replace(steps=10**7))
    window.start_training()
    qtbot.waitUntil(lambda: window.session.run.history.step > 50, timeout=20_000)
    process = window.session.worker.process
    stop = window.session.shutdown
    timed: dict[str, float] = {}

    def timed_shutdown(timeout: float = 1.0) -> None:
        begun = time.monotonic()
        stop(timeout)
        timed["stop"] = time.monotonic() - begun

    window.session.shutdown = timed_shutdown  # type: ignore[method-assign]
    started = time.monotonic()
    window.close()
    closed = time.monotonic() - started
    assert not process.is_alive()
    assert timed["stop"] < 1.0  # the trainer has stopped within a second
    assert closed < 1.5  # and the window is gone, the autosave written
    saves = list(window.autosave_dir().glob("run-*.npz"))
    assert saves, "the run was kept"


def test_settings_survive_a_restart(app, qtbot, tmp_path):
    window = new_window(app, tmp_path, SMALL.replace(depth=6))
    window.speed.setValue(3)
    window.close()
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    again = MainWindow(settings=settings)
    qtbot.addWidget(again)
    assert again.builder.config().depth == 6
    assert again.speed.value() == 3
    again.close()


def test_an_exception_in_training_shows_a_dialog_and_the_app_goes_on(app, qtbot, tmp_path,
                                                                     monkeypatch):
    monkeypatch.setenv("VGRAD_FAULT_AT_STEP", "40")
    window = new_window(app, tmp_path, SMALL.replace(steps=10**6))
    failures = []
    window.session.failed.connect(lambda *a: failures.append(a))
    window.start_training()
    qtbot.waitUntil(lambda: bool(failures), timeout=20_000)
    _run_id, message, details, kind = failures[0]
    assert kind == "error" and "injected fault" in message
    assert "Traceback" in details
    assert window.last_message is not None and window.last_message.isVisible()
    assert "injected fault" in window.banner.headline.text()
    assert window.session.worker.alive
    window.last_message.close()
    window.close()


def launch(tmp_path: Path, *args: str, platform: str = "offscreen",
           env_extra: dict[str, str] | None = None) -> subprocess.Popen:
    env = dict(os.environ, QT_QPA_PLATFORM=platform, VGRAD_REPORT_STARTUP="1",
               XDG_CONFIG_HOME=str(tmp_path / "config"), XDG_DATA_HOME=str(tmp_path / "data"))
    env.update(env_extra or {})
    return subprocess.Popen([sys.executable, "-m", "vgrad_gui", *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for_training(proc: subprocess.Popen, tmp_path: Path, seconds: float = 60) -> str:
    """Wait until the app reports (VGRAD_REPORT_STARTUP) that it has trained some steps;
    returns what it printed so far."""
    assert proc.stderr is not None
    lines: list[str] = []
    done = threading.Event()

    def read() -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            lines.append(line)
            if "vgrad-gui: training" in line:
                done.set()
        done.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    if not done.wait(seconds) or proc.poll() is not None:
        proc.kill()
        raise AssertionError("the app did not start training in time:\n" + "".join(lines))
    time.sleep(0.5)
    proc._vgrad_lines = lines  # type: ignore[attr-defined]
    proc._vgrad_reader = reader  # type: ignore[attr-defined]
    return "".join(lines)


def finish(proc: subprocess.Popen, timeout: float) -> str:
    """Wait for the app to exit; everything it wrote to stderr."""
    proc.wait(timeout)
    proc._vgrad_reader.join(5)  # type: ignore[attr-defined]
    return "".join(proc._vgrad_lines)  # type: ignore[attr-defined]


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_sigterm_and_ctrl_c_end_the_app_cleanly(tmp_path, signum):
    proc = launch(tmp_path, "--preset", "relu_he", "--autostart")
    try:
        wait_for_training(proc, tmp_path)
        workers = children_of(proc.pid)
        proc.send_signal(signum)
        err = finish(proc, timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert "first frame painted" in err
    assert "Traceback" not in err and "QThread" not in err
    time.sleep(0.3)
    assert not [p for p in workers if Path(f"/proc/{p}").exists()
                and "Z" not in Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1][:3]]
    autosaves = list((tmp_path / "data").rglob("run-*.npz"))
    assert autosaves, "the run was kept on the way out"
