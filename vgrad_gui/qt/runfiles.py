"""The window's run files: Save, Open (read in a thread: a large or damaged file never freezes
the window), and the autosave that keeps a run when the window closes or the training process
dies. An autosave that cannot be written says where it tried and why, and offers Save As."""

from __future__ import annotations

import contextlib
import datetime
import tempfile
import threading
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, QStandardPaths, Signal
from PySide6.QtWidgets import QFileDialog, QMessageBox

from vgrad_gui.core.run import Run
from vgrad_gui.core.runfile import RunFileError, load_runs, runs_arrays, write_arrays
from vgrad_gui.core.workspace import MAX_RUNS

if TYPE_CHECKING:
    from vgrad_gui.qt.main_window import MainWindow

AUTOSAVES_KEPT = 5


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


class RunFiles(QObject):
    """Owned by the main window; talks to the user through it."""

    loaded = Signal(int, str, object, str)  # ticket, path(s), list of Runs or message, details

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.window = window
        self.loading: str | None = None  # the path being read, if any
        self._ticket = 0
        self._threads: list[threading.Thread] = []
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

    def wait(self, timeout: float = 5.0) -> None:
        """Let a read in progress finish (on close, and in tests)."""
        for thread in self._threads:
            thread.join(timeout)

    # -- autosave -------------------------------------------------------------------------
    def autosave(self) -> Autosaved | None:
        """Keep the run recorded here (not one opened from a file) unless it is saved
        already: in the autosave folder, else in the temporary folder. None: nothing to keep."""
        info = self.window.session.run
        runs = self._runs()
        if info is None or not runs or not any(r.recorded_here and not r.saved_to
                                               for r in runs):
            return None
        result = Autosaved(info.history.step)
        stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
        arrays = None
        for folder in (self.autosave_dir(), self.fallback_dir()):
            path = folder / f"run-{stamp}-{info.history.step}steps.npz"
            try:
                if arrays is None:
                    arrays = runs_arrays(runs)
                folder.mkdir(parents=True, exist_ok=True)
                write_arrays(arrays, path, compress=False)
            except OSError as exc:
                result.failed.append((folder, _reason(exc)))
                continue
            result.path = path
            self.window.session.mark_saved(path, runs)
            _prune(folder)
            break
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
            where = f" (saved to {info.saved_to})" if info is not None and info.saved_to else ""
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


def _prune(folder: Path) -> None:
    """Keep the newest AUTOSAVES_KEPT autosaves."""
    try:
        for old in sorted(folder.glob("run-*.npz"))[:-AUTOSAVES_KEPT]:
            old.unlink(missing_ok=True)
    except OSError:
        pass  # a stale old autosave is no reason to report a failure
