"""Notices: what the session reports (building, NaN/Inf, a failure, a dead trainer) said in
the banner of the run it concerns, the status bar and, for errors, a non-blocking message."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtWidgets import QMessageBox

from vgrad_gui.core import readings
from vgrad_gui.qt.plots.banner import DiagnosisBanner
from vgrad_gui.qt.session import TrainingSession
from vgrad_gui.qt.status import StatusFields

ShowMessage = Callable[[str, str, str, QMessageBox.Icon], object]


class Notices:
    def __init__(self, session: TrainingSession,
                 banner_for: Callable[[int], DiagnosisBanner | None], status: StatusFields,
                 show_message: ShowMessage,
                 keep_after_crash: Callable[[int | None], object],
                 show_status: Callable[[str, int], object]) -> None:
        self.session = session
        self.banner_for = banner_for  # lane index -> its banner
        self.status = status
        self.show_message = show_message
        self.keep_after_crash = keep_after_crash
        self.show_status = show_status
        session.failed.connect(self.failed)
        session.building.connect(self.building)
        session.nonfinite.connect(self.nonfinite)
        session.workerDied.connect(self.worker_died)

    def _banner(self, run_id: int) -> DiagnosisBanner | None:
        lane = self.session.lane_of(run_id)
        return self.banner_for(lane) if lane is not None else None  # None: no panel yet

    def failed(self, run_id: int, message: str, details: str, kind: str) -> None:
        banner = self._banner(run_id)
        if banner is not None:
            banner.set_message("error", message,
                               "Change the settings to try again." if kind == "config"
                               else "The app is still usable: reset, or change the settings.")
        if kind == "error":
            self.show_message("Training stopped", message, details, QMessageBox.Icon.Critical)

    def building(self, run_id: int, stage: str, fraction: float, warnings: list[str]) -> None:
        text = f"{stage}… {fraction:.0%}"
        self.status.state.setText(text)
        banner = self._banner(run_id)
        if banner is not None:
            banner.set_message("warning" if warnings else "ok", text, "\n".join(warnings[:2]))

    def worker_died(self, code: int | None) -> None:
        for lane in range(len(self.session.lanes)):
            banner = self.banner_for(lane)
            if banner is None:
                continue
            banner.set_message(
                "error", "The training process stopped unexpectedly.",
                "The steps recorded are kept. Press Start to train this configuration afresh.")
        self.keep_after_crash(code)

    def nonfinite(self, run_id: int, step: int, layers: list[int]) -> None:
        """The banner says it as the diagnosis does (live and reopened alike: the NaN/Inf
        finding comes first); the status bar says that this run stopped training."""
        lane = self.session.lane_of(run_id)
        run = self.session.lanes[lane].shown if lane is not None else None
        banner = self._banner(run_id)
        if run is None or banner is None:
            return
        # The step the views and ``summary`` quote (readings' one rule); the worker's own
        # report only until the history holds that step.
        first = readings.first_nonfinite_step(run.history)
        step = first if first is not None else step
        banner.mark_dirty()
        name = f"Run {'ABCD'[lane]}" if self.session.comparing and lane is not None else \
            "Training"
        others = "; the other runs go on" if self.session.comparing else ""
        self.show_status(f"{name} stopped at step {step:,}: NaN/Inf{others}. "
                                    "Lower the learning rate or the initial weights, then R.",
                                    15000)
