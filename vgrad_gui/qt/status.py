"""The status bar's fields: state, step, speed, loss, test accuracy and device, as painted text
of fixed widths (labels that changed five times a second would re-lay-out, and repaint, the
whole window each time). The widths follow the text size; invalid builder settings show in
the error colour (show_problems)."""

from __future__ import annotations

import math

from PySide6.QtWidgets import QStatusBar
from shiboken6 import isValid

from vgrad_gui.core import readings
from vgrad_gui.core.history import RunHistory
from vgrad_gui.qt import theme
from vgrad_gui.qt.plots.banner import readable
from vgrad_gui.qt.session import TrainingSession
from vgrad_gui.qt.text import PaintedText

STATE_TEXT = {
    "starting": "Starting the trainer…",
    "building": "Building the network…",
    "idle": "Ready",
    "ready": "Ready",
    "running": "Training",
    "paused": "Paused",
    "finished": "Finished (max steps)",
    "viewing": "Viewing a saved run",
    "invalid": "Settings invalid",
    "stopped": "Trainer stopped: run kept",
}


class StatusFields:
    def __init__(self, bar: QStatusBar, session: TrainingSession) -> None:
        self.session = session
        self.state = PaintedText("")
        self.step = PaintedText("step 0")
        self.rate = PaintedText("")
        self.loss = PaintedText("")
        self.acc = PaintedText("")
        self.grad = PaintedText("")  # hidden layer 1's current gradient (readings)
        self.device = PaintedText("")
        self.samples = {self.state: "Starting the trainer…", self.step: "step 100,000,000",
                        self.rate: "99,999 steps/s", self.loss: "loss 9.99×10⁻¹⁰",
                        self.acc: "test accuracy 100.0%", self.device: "cuda:0"}
        for w in self.samples:
            if w is not self.device:
                bar.addWidget(w)
        # The gradient field takes what is left and elides: fixed widths summed past a
        # 1024-pixel projector's width and the fields overlapped.
        self.grad.setMinimumWidth(60)
        bar.addWidget(self.grad, 1)
        bar.addPermanentWidget(self.device)
        self.update_fonts()
        self._version: tuple[int, ...] = ()
        self._state = ""
        self.problems = ""  # what to fix in the builder; "" when its settings are valid
        theme.notifier.changed.connect(self._restyle)

    def update_fonts(self) -> None:
        """Widths for the current text size (the fields' fonts follow it themselves)."""
        for w, sample in self.samples.items():
            w.setFixedWidth(w.fontMetrics().horizontalAdvance(sample) + 24)

    def _restyle(self) -> None:
        if isValid(self.state):
            self.update_fonts()
            self._paint_problems()

    def show_problems(self, summary: str) -> None:
        """The builder's settings are invalid (``summary``: what to fix, from
        BuilderPanel.problem_summary()), or valid again (""): the state field says "Settings
        invalid" and the gradient field what to fix, both in the error colour."""
        self.problems = summary
        self._paint_problems()

    def _paint_problems(self) -> None:
        colour = theme.ERROR if self.problems else None
        self.state.set_colour(colour)
        self.grad.set_colour(colour)
        self.grad.setText(self.problems)  # the reading comes back with the next update
        self.grad.setToolTip(self.problems)
        self.show_state(self._state)

    def show_state(self, state: str) -> None:
        self._state = state
        if self.problems:
            self.state.setText(STATE_TEXT["invalid"])
            self.state.setToolTip(self.problems)
        else:
            self.state.setText(STATE_TEXT.get(state, state))
            self.state.setToolTip("Raise 'Max steps' to go on, or press Start to run again."
                                  if state == "finished" else "")
        self.update()

    def show_device(self, device: str) -> None:
        self.device.setText(device)
        self.update()

    def frame(self, index: int) -> None:
        """At 5 Hz, when the data changed."""
        version = self.session.workspace.data_version()
        if index % 12 == 11 and self._version != version:
            self._version = version
            self.update()

    def update(self) -> None:
        run = self.session.run
        if run is None:
            return
        h = run.history
        cursor = self.session.workspace.cursor
        # The step the views show: the timeline's when it is moved back (training goes on).
        at = None if cursor.follows_live else cursor.step_for(run)
        self.step.setText(f"step {h.step:,}" if at is None else f"step {at:,} of {h.step:,}")
        rate = self.session.rate if self.session.state == "running" else 0.0
        self.rate.setText(f"{rate:,.0f} steps/s" if rate else "")
        loss = h.latest("steps", "loss") if at is None else \
            readings.record_value(h, "steps", "loss", at)
        self.loss.setText(f"loss {theme.format_value(float(loss[0]))}"
                          if loss is not None else "")
        if not self.problems:
            self.grad.setText(grad_text(h, at))
            self.grad.setToolTip("Hidden layer 1's current gradient (the median of the last "
                                 f"{readings.WINDOW} steps) and its ratio to the output "
                                 "layer's: the numbers the diagram, the flow bars and the "
                                 "banner quote.")
        acc = h.latest("evals", "test_accuracy") if at is None else \
            readings.record_value(h, "evals", "test_accuracy", at)
        self.acc.setText(f"test accuracy {float(acc[0]):.1%}"
                         if acc is not None and math.isfinite(float(acc[0])) else "")


def grad_text(history: RunHistory, step: int | None = None) -> str:
    """'hidden 1: ‖∇W‖ 1.23e-05 · 1/300 of out' from ``readings`` (at ``step``, default the
    latest); the first NaN/Inf step instead once there is one."""
    reading = readings.grad_reading(history, step)
    if reading is None or len(reading.norms) < 2:
        return ""
    first = readings.first_nonfinite_step(history, reading.step)
    if first is not None:
        return f"NaN/Inf at step {first:,}"
    norm = readable(readings.norm_label(reading, 0))
    if reading.classes[0] in (readings.ZERO, readings.UNDERFLOW):
        return f"hidden 1: ‖∇W‖ {norm}"
    return f"hidden 1: ‖∇W‖ {norm} · {readable(readings.ratio_label(reading, 0))} of out"
