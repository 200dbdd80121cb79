"""Recent runs: every run trained in the window is kept (once) when it is replaced or
finishes, in the autosave folder (the temporary folder when that fails), the newest 20 stay,
and the "Recent runs" menu lists them newest first and reopens them."""

from __future__ import annotations

import datetime
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtWidgets import QMenu, QMessageBox

from tests.core.runfile_kit import synthetic_history
from tests.qt.conftest import SMALL, configure
from vgrad_gui.core.run import Run
from vgrad_gui.core.runfile import load_runs
from vgrad_gui.qt import runfiles
from vgrad_gui.qt.recent import RecentRuns, add_to_menu, entry_text, when_text
from vgrad_gui.qt.runfiles import AUTOSAVES_KEPT, autosaves, parse_name, run_title


@pytest.fixture
def folders(tmp_path, monkeypatch) -> tuple[Path, Path]:
    auto, fallback = tmp_path / "autosave", tmp_path / "fallback"
    monkeypatch.setattr(runfiles.RunFiles, "autosave_dir", staticmethod(lambda: auto))
    monkeypatch.setattr(runfiles.RunFiles, "fallback_dir", staticmethod(lambda: fallback))
    return auto, fallback


@pytest.fixture
def recent(app, window, folders):
    installed = getattr(window, "recent", None)
    rec = installed if isinstance(installed, RecentRuns) else RecentRuns(window)
    yield rec
    settle(app, rec)
    if rec is not installed:
        rec.detach()
        rec.menu.deleteLater()
        rec.deleteLater()


def settle(app, rec: RecentRuns) -> None:
    """Every write queued so far done, and its result handled on the GUI thread."""
    rec.wait()
    app.processEvents()


def synthetic(steps: int) -> Run:
    return Run.from_history(synthetic_history(depth=2, n_steps=steps))


def files_in(folder: Path) -> list[Path]:
    return sorted(folder.glob("run-*.npz"))


def test_a_reset_after_training_keeps_the_old_run_and_it_loads_back(app, qtbot, window,
                                                                     recent, folders):
    configure(app, window, SMALL.replace(steps=10_000))
    window.session.step(30)
    qtbot.waitUntil(lambda: window.session.run.step == 30, timeout=30_000)
    old = window.session.run
    with qtbot.waitSignal(recent.kept, timeout=30_000) as kept:
        window.session.reset()
    (path,) = files_in(folders[0])
    assert kept.args == [str(path)]
    entry = parse_name(path)
    assert entry is not None and entry.steps == 30 and entry.title == run_title(old)
    (again,) = load_runs(path)
    assert again.step == 30 and again.config == old.config
    np.testing.assert_array_equal(again.history.steps.raw()[1], old.history.steps.raw()[1])
    assert window.session.run is not old  # and the window went on to the fresh run


def test_a_finished_run_is_kept_once_even_when_start_replaces_it(app, qtbot, window, recent,
                                                                 folders):
    configure(app, window, SMALL.replace(steps=40))
    with qtbot.waitSignal(recent.kept, timeout=60_000):
        window.session.start()
        qtbot.waitUntil(lambda: window.session.state == "finished", timeout=60_000)
    finished = window.session.run
    assert finished.step == 40
    (path,) = files_in(folders[0])
    # Start after Finished trains afresh; the finished run leaves the screen, written already.
    window.session.start()
    qtbot.waitUntil(lambda: window.session.run is not finished, timeout=30_000)
    window.session.pause()
    settle(app, recent)
    assert files_in(folders[0]) == [path]
    assert load_runs(path)[0].step == 40
    assert recent.keep(finished) is False


def test_a_run_saved_by_the_user_is_rewritten_only_after_training_further(app, recent,
                                                                          folders, tmp_path):
    run = synthetic(50)
    recent.files.note_kept(run, 50, tmp_path / "mine.npz")  # what Save notes
    run.saved_to = str(tmp_path / "mine.npz")
    assert recent.keep(run) is False
    more = synthetic(80)
    recent.files.note_kept(more, 50, tmp_path / "mine.npz")  # saved at 50, now at 80
    more.saved_to = str(tmp_path / "mine.npz")
    assert recent.keep(more) is True
    settle(app, recent)
    assert [parse_name(p).steps for p in files_in(folders[0])] == [80]


def test_25_kept_runs_leave_the_newest_20_listed_newest_first(app, window, recent, folders):
    for i in range(25):
        window.session.runRetired.emit(synthetic(10 + i))
    settle(app, recent)
    kept = autosaves([folders[0]])
    assert len(files_in(folders[0])) == AUTOSAVES_KEPT == 20
    assert [k.steps for k in kept] == [10 + i for i in reversed(range(5, 25))]
    recent.menu.aboutToShow.emit()
    texts = [a.text() for a in recent.menu.actions() if a.text()]
    assert texts[:20] == [entry_text(k).replace("&", "&&") for k in kept]
    assert texts[0].startswith(run_title(synthetic(34)))
    assert "34 steps" in texts[0] and "15 steps" in texts[19]
    assert texts[20:] == ["Open autosave folder", "Clear recent runs…"]


def test_the_close_time_autosave_shares_the_pruning(app, folders):
    auto = folders[0]
    auto.mkdir(parents=True)
    old = datetime.datetime(2020, 1, 1, 12, 0, 0)
    for i in range(AUTOSAVES_KEPT + 3):  # named as version 1 named them
        (auto / f"run-{(old + datetime.timedelta(minutes=i)):%Y%m%d-%H%M%S}-{i}steps.npz"
         ).write_bytes(b"")
    result = runfiles.keep_arrays({"x": np.zeros(2)}, "sigmoid, depth 10", 7, [auto])
    assert result.path is not None and result.path.name.endswith(
        "-sigmoid,_depth_10-7steps.npz")
    left = autosaves([auto])
    assert len(left) == AUTOSAVES_KEPT and left[0].path == result.path
    assert left[0].title == "sigmoid, depth 10"
    assert {k.steps for k in left[1:]} == set(range(4, AUTOSAVES_KEPT + 3))


def test_an_unwritable_folder_falls_back_and_a_total_failure_never_raises(
        app, window, recent, folders, tmp_path, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setattr(runfiles.RunFiles, "autosave_dir",
                        staticmethod(lambda: blocker / "autosave"))
    run = synthetic(60)
    window.session.runRetired.emit(run)
    settle(app, recent)
    (path,) = files_in(folders[1])
    assert load_runs(path)[0].step == 60
    assert recent.files.kept_path(run) == str(path)
    assert str(blocker / "autosave") in window.statusBar().currentMessage()
    # Neither folder takes it: said in the status bar, and the run may be kept later.
    monkeypatch.setattr(runfiles.RunFiles, "fallback_dir",
                        staticmethod(lambda: blocker / "fallback"))
    lost = synthetic(70)
    window.session.runFinished.emit(lost)
    settle(app, recent)
    assert "Could not keep the run" in window.statusBar().currentMessage()
    assert recent.files.needs_keeping(lost)


def test_clear_asks_first(app, recent, folders, monkeypatch):
    for steps in (11, 12):
        recent.keep(synthetic(steps))
    settle(app, recent)
    answers = iter([QMessageBox.StandardButton.Cancel, QMessageBox.StandardButton.Yes])
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: next(answers))
    assert recent.ask_clear() == 0 and len(files_in(folders[0])) == 2
    assert recent.ask_clear() == 2 and files_in(folders[0]) == []
    recent.fill_menu()
    texts = [a.text() for a in recent.menu.actions()]
    assert "No recent runs yet" in texts


def test_install_puts_the_menu_after_open_in_the_file_menu(app, window):
    menu = QMenu("Recent runs (test)", window)
    assert add_to_menu(window, menu)
    opener = window.controls.actions["open"]
    (file_menu,) = [a.menu() for a in window.menuBar().actions()
                    if a.menu() is not None and opener in a.menu().actions()]
    actions = file_menu.actions()
    assert actions[actions.index(opener) + 1] is menu.menuAction()
    file_menu.removeAction(menu.menuAction())


def test_dates_read_as_people_say_them():
    now = datetime.datetime(2024, 3, 8, 18, 0)
    assert when_text(datetime.datetime(2024, 3, 8, 14, 32), now) == "today 14:32"
    assert when_text(datetime.datetime(2024, 3, 7, 9, 5), now) == "yesterday 09:05"
    assert when_text(datetime.datetime(2024, 3, 4, 9, 5), now) == "Mon 09:05"
    assert when_text(datetime.datetime(2024, 1, 3, 9, 5), now) == "3 Jan 09:05"
    assert when_text(datetime.datetime(2023, 1, 3, 9, 5), now) == "3 Jan 2023"


def test_choosing_an_entry_opens_it(app, qtbot, window, recent, folders):
    for steps in (21, 22, 23):
        recent.keep(synthetic(steps))
    settle(app, recent)
    recent.menu.aboutToShow.emit()
    newest = recent.menu.actions()[0]
    assert "23 steps" in newest.text()
    newest.trigger()
    qtbot.waitUntil(lambda: window.session.state == "viewing"
                    and window.session.run is not None and window.session.run.step == 23,
                    timeout=30_000)
    assert window.session.run.source == newest.toolTip()
