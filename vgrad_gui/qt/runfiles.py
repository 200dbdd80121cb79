"""The window's run files: Save, Open (read in a thread: a large or damaged file never freezes
the window), and the autosave that keeps a run when the window closes or the training process
dies. An autosave that cannot be written says where it tried and why, and offers Save As.

Autosaves share one folder with the recent runs (qt/recent.py) and one rule: a file is named
``run-YYYYmmdd-HHMMSS-<title>-<steps>steps.npz`` (``-<n>`` before ``.npz`` for the n-th of one
second), so a list of the folder says what each holds without opening it, and only the
newest AUTOSAVES_KEPT stay. ``RunFiles.kept`` notes the step each run was last written at
(by Save, an autosave or the recent runs), so no run is written twice unless it trained
further."""

from __future__ import annotations

import contextlib
import datetime
import re
import tempfile
import threading
import traceback
import weakref
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, QStandardPaths, Signal
from PySide6.QtWidgets import QFileDialog, QMessageBox

from vgrad_gui.core.run import Run
from vgrad_gui.core.runfile import RunFileError, load_runs, runs_arrays, write_arrays
from vgrad_gui.core.spec import Config
from vgrad_gui.core.workspace import MAX_RUNS, describe

if TYPE_CHECKING:
    from vgrad_gui.qt.main_window import MainWindow

AUTOSAVES_KEPT = 20  # per folder: the close/crash autosaves and the recent runs together
MAX_TITLE = 60  # characters of the title in an autosave's file name
STAMP = "%Y%m%d-%H%M%S"
# run-<stamp>[-<title>]-<steps>steps[-<n>].npz; names of version 1 had no title.
AUTOSAVE_NAME = re.compile(r"run-(\d{8}-\d{6})(?:-(.+?))?-(\d+)steps(?:-(\d+))?\.npz")
_UNSAFE = re.compile(r"[^A-Za-z0-9+.,()]+")  # becomes "-" in a file name (safe on every system)
_WRITING = threading.Lock()  # picking a free name and writing it, by any thread


@dataclass
class Autosaved:
    """Where a run was kept, or why it could not be."""

    steps: int
    path: Path | None = None
    failed: list[tuple[Path, str]] = field(default_factory=list)  # folder, why

    def why(self) -> str:
        return "; ".join(f"{folder}: {reason}" for folder, reason in self.failed)


def _reason(exc: OSError) -> str:
    return exc.strerror or str(exc) or type(exc).__name__


# -- autosave names and the folder's index -------------------------------------------------------

def run_title(run: Run) -> str:
    """What a kept run is, on its own: 'sigmoid, depth 10', 'ReLU + He init, depth 30,
    digits' (its run label would be relative to run A in a comparison)."""
    config = run.config
    if config is None:
        return run.label or "run"
    title = f"{describe(config)}, depth {config.depth}"
    if config.dataset != Config().dataset:
        title += f", {config.dataset}"
    return title


def autosave_title(runs: Sequence[Run]) -> str:
    if len(runs) == 1:
        return run_title(runs[0])
    return f"{len(runs)} runs, " + " vs ".join(r.label or run_title(r) for r in runs)


def title_slug(title: str) -> str:
    """The title as a file-name part: words joined by '_', anything a file name may trouble
    over replaced by '-'; ``slug_title`` reads it back."""
    words = (_UNSAFE.sub("-", word).strip("-") for word in title.split())
    return "_".join(w for w in words if w)[:MAX_TITLE].strip("_-")


def slug_title(slug: str) -> str:
    return slug.replace("_", " ")


@dataclass(frozen=True)
class Kept:
    """One autosave, read from its file name alone (the file is never opened)."""

    path: Path
    when: datetime.datetime  # local time it was written
    title: str  # "" for the autosaves of older versions
    steps: int
    nth: int = 1  # of the files written in the same second

    @property
    def order(self) -> tuple[datetime.datetime, int, str]:
        return self.when, self.nth, self.path.name


def parse_name(path: Path) -> Kept | None:
    match = AUTOSAVE_NAME.fullmatch(path.name)
    if match is None:
        return None
    stamp, slug, steps, nth = match.groups()
    try:
        when = datetime.datetime.strptime(stamp, STAMP)
    except ValueError:
        return None
    return Kept(path, when, slug_title(slug or ""), int(steps), int(nth or 1))


def autosaves(folders: Sequence[Path]) -> list[Kept]:
    """The autosaves in ``folders``, newest first: a listing, no file read. A folder that is
    missing or cannot be listed holds none."""
    found: list[Kept] = []
    for folder in folders:
        try:
            names = list(folder.glob("run-*.npz"))
        except OSError:
            continue
        found += [k for k in map(parse_name, names) if k is not None]
    return sorted(found, key=lambda k: k.order, reverse=True)


def prune(folder: Path, keep: int = AUTOSAVES_KEPT) -> None:
    """Keep the newest ``keep`` autosaves of ``folder``; files named otherwise are left."""
    try:
        for old in autosaves([folder])[keep:]:
            old.path.unlink(missing_ok=True)
    except OSError:
        pass  # a stale old autosave is no reason to report a failure


def _free_path(folder: Path, stamp: str, slug: str, steps: int) -> Path:
    same_second = [k.nth for k in autosaves([folder]) if k.when.strftime(STAMP) == stamp]
    nth = max(same_second) + 1 if same_second else 1
    title = f"-{slug}" if slug else ""
    suffix = f"-{nth}" if nth > 1 else ""
    return folder / f"run-{stamp}{title}-{steps}steps{suffix}.npz"


def keep_arrays(arrays: dict[str, Any], title: str, steps: int, folders: Sequence[Path],
                when: datetime.datetime | None = None, compress: bool = False) -> Autosaved:
    """Write a snapshot (``runs_arrays``) as an autosave into the first of ``folders`` that
    takes it, then prune that folder. Never raises OSError: where it could not write, and
    why, is in the result. Safe from any thread."""
    result = Autosaved(steps)
    stamp = (when or datetime.datetime.now()).strftime(STAMP)
    with _WRITING:
        for folder in folders:
            try:
                folder.mkdir(parents=True, exist_ok=True)
                path = _free_path(folder, stamp, title_slug(title), steps)
                write_arrays(arrays, path, compress=compress)
            except OSError as exc:
                result.failed.append((folder, _reason(exc)))
                continue
            result.path = path
            prune(folder)
            break
    return result


class RunFiles(QObject):
    """Owned by the main window; talks to the user through it."""

    loaded = Signal(int, str, object, str)  # ticket, path(s), list of Runs or message, details

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.window = window
        self.loading: str | None = None  # the path being read, if any
        self._ticket = 0
        self._threads: list[threading.Thread] = []
        # The step each run was last written at (Save, an autosave, the recent runs) and where.
        self.kept: weakref.WeakKeyDictionary[Run, tuple[int, str | None]] = (
            weakref.WeakKeyDictionary())
        self.loaded.connect(self._loaded)

    # -- folders --------------------------------------------------------------------------
    def default_dir(self) -> str:
        saved = self.window.settings.value("last_dir")
        if isinstance(saved, str) and Path(saved).is_dir():
            return saved
        docs = QStandardPaths.writableLocation(
            QStandardPaths.StandardLocation.DocumentsLocation)
        return docs or str(Path.home())

    @staticmethod
    def autosave_dir() -> Path:
        base = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.AppDataLocation)
        return Path(base or Path.home() / ".vgrad_gui") / "autosave"

    @staticmethod
    def fallback_dir() -> Path:
        return Path(tempfile.gettempdir()) / "vgrad_gui-autosave"

    def autosave_dirs(self) -> list[Path]:
        """Where autosaves go, in the order tried."""
        return [self.autosave_dir(), self.fallback_dir()]

    # -- what is kept -----------------------------------------------------------------------
    def needs_keeping(self, run: Run) -> bool:
        """Trained here, and not written since its last step."""
        if not run.recorded_here or run.step == 0:
            return False
        kept = self.kept.get(run)
        if kept is None:
            return not run.saved_to  # saved by a way this window did not note: kept
        return kept[0] != run.step

    def note_kept(self, run: Run, step: int, path: str | Path | None = None) -> None:
        self.kept[run] = (step, None if path is None else str(path))

    def kept_path(self, run: Run) -> str | None:
        """Where the run was last written, if it was."""
        kept = self.kept.get(run)
        return run.saved_to or (kept[1] if kept is not None else None)

    # -- save -----------------------------------------------------------------------------
    def save_dialog(self) -> None:
        info = self.window.session.run
        if info is None or info.history.step == 0:
            self.window.statusBar().showMessage("Nothing to save yet: train a few steps "
                                                "first.", 4000)
            return
        name = (self.window.builder.preset_name or "run") + datetime.datetime.now().strftime(
            "-%Y%m%d-%H%M") + f"-{info.history.step}steps.npz"
        path, _ = QFileDialog.getSaveFileName(self.window, "Save run",
                                              str(Path(self.default_dir()) / name),
                                              "vgrad_gui runs (*.npz)")
        if path:
            self.save(path if path.endswith(".npz") else path + ".npz")

    def _runs(self) -> list[Run]:
        """What Save writes: the run, or every run of the comparison (one file)."""
        return [r for r in self.window.session.workspace.runs if r.history.step > 0]

    def save(self, path: str) -> bool:
        info = self.window.session.run
        runs = self._runs()
        if info is None or not runs:
            return False
        try:
            write_arrays(runs_arrays(runs), path)
        except OSError as exc:
            self.window.show_message("Could not save the run",
                                     f"{path}: {_reason(exc)}. Nothing was written; try "
                                     "another folder.")
            return False
        self.window.settings.setValue("last_dir", str(Path(path).parent))
        self.window.session.mark_saved(path, runs)
        for run in runs:
            self.note_kept(run, run.step, path)
        what = f"{info.history.step:,} steps" if len(runs) == 1 else f"{len(runs)} runs"
        self.window.statusBar().showMessage(f"Saved {what} to {path}", 5000)
        return True

    # -- open -----------------------------------------------------------------------------
    def open_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self.window, "Open run", self.default_dir(),
                                              "vgrad_gui runs (*.npz);;All files (*)")
        if path:
            self.open(path)

    def open(self, path: str) -> None:
        """Read ``path`` in a thread; its runs are shown (or the problem said) when read.
        Opening another file first forgets this one."""
        self.open_many([path])

    def open_many(self, paths: list[str]) -> None:
        """Read one to four run files (or one saved comparison) and show them side by
        side."""
        if not paths:
            return
        self._ticket += 1
        ticket = self._ticket
        self.loading = paths[0]
        names = ", ".join(Path(p).name for p in paths[:MAX_RUNS])
        self.window.statusBar().showMessage(f"Opening {names}…")
        self._threads = [t for t in self._threads if t.is_alive()]
        thread = threading.Thread(target=self._read, args=(ticket, list(paths)), daemon=True,
                                  name="vgrad-open-run")
        self._threads.append(thread)
        thread.start()

    def _read(self, ticket: int, paths: list[str]) -> None:
        # In the thread: every outcome goes back as a signal, queued to the GUI thread.
        runs: list[Run] = []
        result: Any = runs
        details = ""
        for path in paths:
            try:
                runs += load_runs(path)
            except RunFileError as exc:
                result = str(exc)
                break
            except Exception as exc:  # a loader bug must become a message, never a crash
                result = f"{path}: could not be read ({type(exc).__name__}: {exc})"
                details = traceback.format_exc()
                break
        if isinstance(result, list) and len(runs) > MAX_RUNS:
            result = (f"{len(runs)} runs in {len(paths)} files: a comparison shows at most "
                      f"{MAX_RUNS}; open fewer files")
        with contextlib.suppress(RuntimeError):  # the window closed while reading
            self.loaded.emit(ticket, paths[0], result, details)

    def _loaded(self, ticket: int, path: str, result: object, details: str) -> None:
        if ticket != self._ticket:
            return  # another file was opened since
        self.loading = None
        self.window.statusBar().clearMessage()
        if not isinstance(result, list):
            self.window.show_message("Could not open the run", str(result)[:2000], details)
            return
        self.window.settings.setValue("last_dir", str(Path(path).parent))
        self.window.show_runs(result, path)

    def track(self, thread: threading.Thread) -> None:
        """A thread of this window's files (the recent runs' writer): ``wait`` waits for it."""
        self._threads = [t for t in self._threads if t.is_alive()] + [thread]

    def wait(self, timeout: float = 5.0) -> None:
        """Let a read or write in progress finish (on close, and in tests)."""
        for thread in list(self._threads):
            thread.join(timeout)

    # -- autosave -------------------------------------------------------------------------
    def autosave(self) -> Autosaved | None:
        """Keep the runs recorded here (not ones opened from a file) unless each is written
        at its last step already: in the autosave folder, else in the temporary folder. None:
        nothing to keep."""
        info = self.window.session.run
        runs = self._runs()
        if info is None or not runs or not any(self.needs_keeping(r) for r in runs):
            return None
        result = keep_arrays(runs_arrays(runs), autosave_title(runs),
                             max(r.step for r in runs), self.autosave_dirs())
        if result.path is not None:
            self.window.session.mark_saved(result.path, runs)
            for run in runs:
                self.note_kept(run, run.step, result.path)
        return result

    def keep_after_crash(self, code: int | None) -> Autosaved | None:
        """The training process died: keep what it recorded and say where it is."""
        kept = self.autosave()
        what = f"The training process stopped unexpectedly (exit code {code})."
        if code == -9:
            what += (" It was killed (SIGKILL), which is what the system does when memory "
                     "runs out: a smaller network may fit.")
        again = "Press Start to train this configuration afresh."
        info = self.window.session.run
        if kept is None:  # nothing new to keep: recorded nothing, or saved already
            steps = info.history.step if info is not None else 0
            path = self.kept_path(info) if info is not None else None
            where = f" (saved to {path})" if path else ""
            held = f" The {steps:,} steps recorded are kept on screen{where}." if steps else ""
            self.window.show_message("Training stopped", f"{what}{held} {again}")
        elif kept.path is not None:
            self.window.show_message(
                "Training stopped",
                f"{what} The {kept.steps:,} steps recorded are kept on screen and saved to "
                f"{kept.path}. {again}",
                f"Could not write: {kept.why()}" if kept.failed else "")
        else:
            self.failed_message(kept, what)
        return kept

    def failed_message(self, kept: Autosaved, what: str = "") -> QMessageBox:
        """Non-modal: where the autosave tried and why it failed, with Save As…"""
        box = self.window.show_message(
            "The run is not saved",
            f"{what} The {kept.steps:,} steps recorded are on screen but could not be "
            f"saved: {kept.why()}. Use Save As… to choose another place.".strip())
        button = box.addButton("Save As…", QMessageBox.ButtonRole.AcceptRole)
        button.clicked.connect(self.save_dialog)
        return box

