"""The app as a user starts it: a real X window on a virtual screen (Xvfb), trained, closed."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.qt.test_lifecycle import finish, launch, wait_for_training

pytestmark = pytest.mark.xvfb


@pytest.fixture
def display():
    xvfb = shutil.which("Xvfb")
    if xvfb is None:
        pytest.skip("Xvfb is not installed (.ci/run installs it)")
    number = next(n for n in range(150, 250) if not Path(f"/tmp/.X11-unix/X{n}").exists()
                  and not Path(f"/tmp/.X{n}-lock").exists())
    server = subprocess.Popen([xvfb, f":{number}", "-screen", "0", "1280x720x24",
                               "-nolisten", "tcp"], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    for _ in range(100):
        if Path(f"/tmp/.X11-unix/X{number}").exists():
            break
        time.sleep(0.05)
    yield f":{number}"
    server.terminate()
    server.wait(5)


def test_launch_train_and_quit_in_a_real_window(tmp_path, display):
    proc = launch(tmp_path, "--preset", "deep_sigmoid", "--autostart", platform="xcb",
                  env_extra={"DISPLAY": display})
    try:
        wait_for_training(proc, tmp_path, seconds=90)
        proc.send_signal(signal.SIGTERM)
        err = finish(proc, timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert "first frame painted" in err
    assert "Traceback" not in err
    saved = list((tmp_path / "data").rglob("run-*.npz"))
    assert saved and os.path.getsize(saved[0]) > 1000
