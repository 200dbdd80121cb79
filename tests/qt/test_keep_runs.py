"""Nothing is lost: when the training process dies, the steps it recorded stay on screen, are
autosaved at once, and no new run starts until the user starts one; an autosave that cannot
be written says where it tried and why, and offers Save As."""

from __future__ import annotations

import errno
import os
import signal
import time
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtWidgets import QFileDialog, QMessageBox

from tests.qt.conftest import SMALL, new_window
from vgrad_gui.core.runfile import load_run
from vgrad_gui.qt import runfiles


@pytest.fixture
def trained(app, qtbot, tmp_path):
    window = new_window(app, tmp_path, SMALL.replace(steps=10**6))
    window.speed.setValue(6)  # 100 steps a second: a few hundred steps in a few seconds
    window.start_training()
    qtbot.waitUntil(lambda: window.session.run.history.step > 150, timeout=30_000)
    yield window
    if window.last_message is not None:
        window.last_message.close()
    window.close()


def kill_worker(qtbot, window) -> tuple[int, np.ndarray]:
    """SIGKILL the training process; wait until the window has noticed. Returns the steps
    shown just before and the last grad-norm row."""
    history = window.session.run.history
    os.kill(window.session.worker.process.pid, signal.SIGKILL)
    qtbot.waitUntil(lambda: window.session.state == "stopped", timeout=10_000)
    _, rows = history.steps.raw()
    return history.step, rows[-1].copy()


def test_after_a_worker_death_the_steps_stay_are_autosaved_and_nothing_starts(
        app, qtbot, trained):
    window = trained
    history = window.session.run.history
    step, last = kill_worker(qtbot, window)
    assert step > 150
    # Kept on screen: the same history, with its steps.
    assert window.session.run.history is history and history.step == step
    # Saved at once, and the message says where.
    saved = window.session.run.saved_to
    assert saved is not None and Path(saved).parent == window.autosave_dir()
    assert saved in window.last_message.text()
    assert "stopped unexpectedly" in window.last_message.text()
    assert window.last_message.isVisible() and not window.last_message.isModal()
    again = load_run(saved)
    assert again.step == step
    np.testing.assert_array_equal(again.steps.raw()[1][-1], last)
    # A fresh worker is started, but no run: the kept steps stay on screen.
    qtbot.waitUntil(lambda: window.session.worker_info is not None, timeout=60_000)
    qtbot.wait(500)
    assert window.session.state == "stopped"
    assert window.session.run.history is history and history.step == step
    assert "stopped unexpectedly" in window.banner.headline.text()
    # Start trains the config afresh.
    window.start_training()
    qtbot.waitUntil(lambda: window.session.run is not None
                    and window.session.run.history is not history
                    and window.session.run.history.step > 0, timeout=30_000)
    assert window.session.run.live
    # Closing does not save the kept run a second time (it is saved already).
    window.toggle_training()


def test_a_failed_autosave_says_where_and_why_and_offers_save_as(app, qtbot, trained,
                                                                  tmp_path, monkeypatch):
    window = trained
    blocker = tmp_path / "a-file"
    blocker.write_text("in the way")
    monkeypatch.setattr(runfiles.RunFiles, "autosave_dir",
                        staticmethod(lambda: blocker / "autosave"))

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(runfiles, "write_arrays", full)  # the fallback folder is "full"
    step, _ = kill_worker(qtbot, window)
    box = window.last_message
    text = box.text()
    assert "could not be saved" in text and str(blocker / "autosave") in text
    assert str(runfiles.RunFiles.fallback_dir()) in text
    assert os.strerror(errno.ENOSPC) in text
    assert window.session.run.saved_to is None
    assert not box.isModal() and box.isVisible()
    # Save As opens the save dialog; the run is written where the user says.
    monkeypatch.undo()
    target = tmp_path / "kept.npz"
    monkeypatch.setattr(QFileDialog, "getSaveFileName",
                        staticmethod(lambda *a, **k: (str(target), "")))
    save_as = [b for b in box.buttons() if b.text() == "Save As…"]
    assert save_as
    save_as[0].click()
    assert load_run(target).step == step
    assert window.session.run.saved_to == str(target)


def test_closing_with_an_autosave_that_cannot_be_written_fails_loudly(app, qtbot, trained,
                                                                      monkeypatch, capfd):
    window = trained

    def refuse(*args, **kwargs):
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES))

    monkeypatch.setattr(runfiles, "write_arrays", refuse)
    window.close()
    err = capfd.readouterr().err
    assert "could not keep the run" in err and os.strerror(errno.EACCES) in err
    assert window.exit_code == 1


def test_loading_never_blocks_and_every_failure_is_a_message(app, qtbot, window, tmp_path,
                                                             monkeypatch):
    def explode(path):
        raise MemoryError("a loader bug")

    monkeypatch.setattr(runfiles, "load_runs", explode)
    shown = window.last_message
    window.open_run(str(tmp_path / "any.npz"))
    qtbot.waitUntil(lambda: window.last_message is not shown)
    box: QMessageBox = window.last_message
    assert "MemoryError" in box.text() and "a loader bug" in box.text()
    assert "Traceback" in box.detailedText()
    box.close()


@pytest.mark.parametrize("blocked", [False, True])
def test_the_app_keeps_a_run_through_a_killed_trainer_and_a_blocked_autosave_folder(
        tmp_path, blocked):
    from tests.qt.test_lifecycle import children_of, finish, launch, wait_for_training

    temp = tmp_path / "tmp"
    temp.mkdir()
    data = tmp_path / "data"
    if blocked:
        data.write_text("a file where the data folder should be")
    proc = launch(tmp_path, "--preset", "relu_he", "--autostart",
                  env_extra={"TMPDIR": str(temp)})
    try:
        wait_for_training(proc, tmp_path)
        for pid in children_of(proc.pid):
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
            if b"multiprocessing" in cmdline and b"resource_tracker" not in cmdline:
                os.kill(pid, signal.SIGKILL)  # the trainer
        time.sleep(3)
        assert proc.poll() is None, "the app lives on after its trainer died"
        proc.send_signal(signal.SIGTERM)
        err = finish(proc, timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert "Traceback" not in err
    kept = list((temp if blocked else data).rglob("run-*.npz"))
    assert len(kept) == 1, err  # kept once, when the trainer died; not again on the way out
    assert load_run(kept[0]).step > 0
