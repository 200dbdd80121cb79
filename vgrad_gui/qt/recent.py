"""Recent runs: every run trained in this window is kept when it leaves the screen or
finishes, and a "Recent runs" menu reopens it.

The session says when: ``runRetired`` (replaced by a reset, a changed setting or Start after
Finished; removed from a comparison; cleared by opening files) and ``runFinished``. Each run is
written once: ``RunFiles.kept`` notes the step it was written at, so a run kept when it
finished is not written again when it is replaced, and a run the user saved is rewritten only
if it trained further.

Never blocking the window: the snapshot (``runs_arrays``) is taken on the GUI thread, where the
run cannot change under it, and is fast; the write (compressed) and the pruning happen in one
writer thread, one job after another in the order the runs left, so names and pruning are
deterministic. The files go where the close-time autosave puts its own (``RunFiles``), the
temporary folder when that fails, and share its naming and pruning (the newest
AUTOSAVES_KEPT stay).

The menu is the folder itself: it is listed when the menu opens and each file's name says
what it holds (title, steps, time), so no index can go stale and no file is read to build it.
"""

from __future__ import annotations

import collections
import contextlib
import datetime
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, QUrl, Signal
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QMenu, QMessageBox

from vgrad_gui.core.run import Run
from vgrad_gui.core.runfile import runs_arrays
from vgrad_gui.qt.runfiles import AUTOSAVES_KEPT, Autosaved, Kept, autosaves, keep_arrays, run_title

if TYPE_CHECKING:
    from vgrad_gui.qt.main_window import MainWindow

MESSAGE_MS = 8000  # how long a status-bar line about keeping a run stays


@dataclass
class _Job:
    run: Run
    arrays: dict[str, Any]
    title: str
    steps: int
    folders: list[Path]
    when: datetime.datetime
    before: tuple[int, str | None] | None  # what RunFiles.kept held, restored if writing fails


def when_text(when: datetime.datetime, now: datetime.datetime | None = None) -> str:
    """'today 14:32', 'yesterday 09:05', 'Mon 14:32' (this week), '3 Mar 14:32' (this year),
    else '3 Mar 2023'."""
    now = now or datetime.datetime.now()
    days = (now.date() - when.date()).days
    clock = when.strftime("%H:%M")
    if days == 0:
        return f"today {clock}"
    if days == 1:
        return f"yesterday {clock}"
    if 1 < days < 7:
        return f"{when.strftime('%a')} {clock}"
    if when.year == now.year:
        return f"{when.day} {when.strftime('%b')} {clock}"
    return f"{when.day} {when.strftime('%b %Y')}"


def entry_text(kept: Kept, now: datetime.datetime | None = None) -> str:
    """'sigmoid, depth 10 · 2,000 steps · today 14:32'."""
    title = kept.title or "run"
    return f"{title} · {kept.steps:,} steps · {when_text(kept.when, now)}"


class RecentRuns(QObject):
    """Keeps the window's runs as they leave (see the module notes) and offers them in
    ``menu``. ``detach`` stops listening to the session."""

    kept = Signal(str)  # the path a run was just written to
    _written = Signal(object, object)  # from the writer thread: _Job, Autosaved

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.window = window
        self.files = window.files
        self.menu = QMenu("Recent runs", window)
        self.menu.setToolTipsVisible(True)
        self.menu.aboutToShow.connect(self.fill_menu)
        self._jobs: collections.deque[_Job] = collections.deque()
        self._lock = threading.Lock()
        self._writing = False
        self._thread: threading.Thread | None = None
        self._written.connect(self._done)
        window.session.runRetired.connect(self.keep)
        window.session.runFinished.connect(self.keep)

    def detach(self) -> None:
        session = self.window.session
        for signal in (session.runRetired, session.runFinished):
            with contextlib.suppress(RuntimeError, TypeError):
                signal.disconnect(self.keep)

    # -- keeping --------------------------------------------------------------------------
    def keep(self, run: Run) -> bool:
        """Write ``run`` (in the background) unless it is written at its last step already.
        True when a write was queued."""
        if not self.files.needs_keeping(run):
            return False
        job = _Job(run, runs_arrays([run]), run_title(run), run.step, self.files.autosave_dirs(),
                   datetime.datetime.now(), self.files.kept.get(run))
        # Noted now, not when written: the finish and the replacement that follows a moment
        # later must not both be written.
        self.files.note_kept(run, run.step)
        with self._lock:
            self._jobs.append(job)
            if self._writing:
                return True
            self._writing = True
        thread = threading.Thread(target=self._write_all, name="vgrad-recent-runs")
        self._thread = thread
        self.files.track(thread)
        thread.start()
        return True

    def _write_all(self) -> None:
        # In the writer thread. Not a daemon: a run leaving as the app quits is still written.
        while True:
            with self._lock:
                if not self._jobs:
                    self._writing = False
                    return
                job = self._jobs.popleft()
            try:
                result = keep_arrays(job.arrays, job.title, job.steps, job.folders, job.when,
                                     compress=True)
            except Exception as exc:  # a bug must become a message, never a dead writer
                result = Autosaved(job.steps, failed=[(job.folders[0], f"{type(exc).__name__}: "
                                                       f"{exc}")])
            job.arrays = {}
            with contextlib.suppress(RuntimeError):  # the window is gone
                self._written.emit(job, result)

    def _done(self, job: _Job, result: Autosaved) -> None:
        bar = self.window.statusBar()
        if result.path is None:
            if self.files.kept.get(job.run) == (job.steps, None):
                if job.before is None:
                    self.files.kept.pop(job.run, None)
                else:
                    self.files.kept[job.run] = job.before
            bar.showMessage(f"Could not keep the run in Recent runs ({result.why()}); use "
                            "Save As… to keep it.", MESSAGE_MS)
            return
        if self.files.kept.get(job.run) == (job.steps, None):
            self.files.note_kept(job.run, job.steps, result.path)
        if result.failed:
            bar.showMessage(f"Recent runs: could not write {result.why()}; kept in "
                            f"{result.path}", MESSAGE_MS)
        self.kept.emit(str(result.path))

    def wait(self, timeout: float = 10.0) -> None:
        """Let the writes queued so far finish (tests; closing waits through RunFiles)."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)

    # -- the index ------------------------------------------------------------------------
    def entries(self) -> list[Kept]:
        """The kept runs, newest first (the autosave folder and the fallback together)."""
        return autosaves(self.files.autosave_dirs())[:AUTOSAVES_KEPT]

    def fill_menu(self) -> None:
        """Build the menu from the folder (on aboutToShow: a listing, no file is opened)."""
        menu = self.menu
        menu.clear()
        now = datetime.datetime.now()
        entries = self.entries()
        for kept in entries:
            action = menu.addAction(entry_text(kept, now).replace("&", "&&"))
            action.setToolTip(str(kept.path))
            action.setStatusTip(f"Open {kept.path}")
            action.triggered.connect(lambda _=False, p=kept.path: self.open(p))
        if not entries:
            menu.addAction("No recent runs yet").setEnabled(False)
        menu.addSeparator()
        menu.addAction("Open autosave folder", self.open_folder)
        clear = menu.addAction("Clear recent runs…", self.ask_clear)
        clear.setEnabled(bool(entries))

    def open(self, path: str | Path) -> None:
        self.files.open(str(path))

    def open_folder(self) -> bool:
        folder = self.files.autosave_dir()
        with contextlib.suppress(OSError):
            folder.mkdir(parents=True, exist_ok=True)
        return QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder)))

    def ask_clear(self) -> int:
        """Ask, then delete every kept run; returns how many were deleted."""
        entries = self.entries()
        if not entries:
            return 0
        answer = QMessageBox.question(
            self.window, "Clear recent runs",
            f"Delete the {len(entries)} recent runs kept in {self.files.autosave_dir()}? "
            "Runs you saved yourself elsewhere are not touched.",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Cancel)
        if answer != QMessageBox.StandardButton.Yes:
            return 0
        return self.clear()

    def clear(self) -> int:
        deleted = 0
        for kept in autosaves(self.files.autosave_dirs()):
            try:
                kept.path.unlink()
            except OSError:
                continue
            deleted += 1
        self.window.statusBar().showMessage(f"Deleted {deleted} recent runs.", MESSAGE_MS)
        return deleted


def install(window: MainWindow, place: bool = True) -> RecentRuns:
    """Keep the window's runs; with ``place``, put "Recent runs" in the menu that holds
    Open run… (File), right after it."""
    recent = RecentRuns(window)
    if place:
        add_to_menu(window, recent.menu)
    return recent


def add_to_menu(window: MainWindow, menu: QMenu) -> bool:
    """Insert ``menu`` after the Open run… action of the menu bar; False if there is none."""
    opener = window.controls.actions.get("open")
    for top in window.menuBar().actions():
        parent = top.menu()
        if not isinstance(parent, QMenu) or opener not in parent.actions():
            continue
        actions = parent.actions()
        after = actions.index(opener) + 1
        if after < len(actions):
            parent.insertMenu(actions[after], menu)
        else:
            parent.addMenu(menu)
        return True
    return False
