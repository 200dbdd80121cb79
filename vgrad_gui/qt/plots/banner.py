"""View 8: the diagnosis banner: the core's plain-language findings, most serious first."""

from __future__ import annotations

import re

from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QVBoxLayout
from shiboken6 import isValid

from vgrad_gui.core.diagnose import Finding, diagnose
from vgrad_gui.core.run import Run
from vgrad_gui.core.workspace import Workspace
from vgrad_gui.qt import theme
from vgrad_gui.qt.clock import FrameClock
from vgrad_gui.qt.plots.base import View
from vgrad_gui.qt.text import PaintedText


def readable(text: str) -> str:
    """The core writes powers as '10^-8' (plain text for terminals); show '10⁻⁸'."""
    return re.sub(r"10\^(-?\d+)", lambda m: theme.decade_label(int(m.group(1))), text)


SEVERITY_COLOURS = {"error": "ERROR", "warning": "WARN", "ok": "OK"}  # theme palette names
ICONS = {"error": "●", "warning": "▲", "ok": "✓"}
INVALID_DETAILS = "Start is off until the setting is fixed in the network builder."


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def severity_colour(severity: str) -> str:
    """The current theme's colour of a severity ("error", "warning", "ok")."""
    return theme.colour(SEVERITY_COLOURS.get(severity, "TEXT"))


class DiagnosisBanner(View):
    title = "Diagnosis"
    yields = False  # what a comparison is read from (View.yields)
    every, phase = 20, 7  # 3 Hz: words need time to be read
    rebuild_on_theme = False  # restyles itself; a rebuild would drop the message shown

    def __init__(self, workspace: Workspace, clock: FrameClock, position: int = 0) -> None:
        super().__init__(workspace, clock, position)
        self.setMinimumSize(200, 40)
        self.frame = QFrame()
        self.frame.setObjectName("banner")
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(self.frame)
        row = QHBoxLayout(self.frame)
        row.setContentsMargins(14, 8, 14, 8)
        self.icon = QLabel("")
        self.icon.setFont(theme.font(1.5, bold=True))
        row.addWidget(self.icon)
        text = QVBoxLayout()
        self.headline = PaintedText("Press Start (Space) to train and watch the gradient "
                                    "reach each layer.", lines=2, relative_size=1.25, bold=True)
        self.details = PaintedText("", lines=2, relative_size=0.95)
        text.addWidget(self.headline)
        text.addWidget(self.details)
        row.addLayout(text, 1)
        self.findings: list[Finding] = []
        self.override: str | None = None
        self._override_shown: tuple[str, str, str] = ("", "", "")
        self.invalid = ""  # what to fix in the builder; "" when its settings are valid
        # severity, headline, details, then shorter headlines
        self._shown: tuple[str, ...] = ("", "", "")
        self._severity = ""
        self._headline_lines = 2
        self.compact = False
        self.update_fonts()
        self._paint("ok", self.headline.text(), "")
        theme.notifier.changed.connect(self._restyle)

    def _restyle(self) -> None:
        """After a theme or text-size change: fonts, height and colours."""
        if not isValid(self):
            return
        self.update_fonts()
        self._severity = ""  # set the style sheets again, in the new colours
        self._paint(*self._shown)

    def update_fonts(self) -> None:
        """Fonts and a fixed height for the current text size. Fixed, and painted text:
        a banner that re-laid itself out whenever the diagnosis changed would re-lay-out
        (and repaint) the whole window."""
        self.icon.setFont(theme.font(1.5, bold=True))
        self.headline.update_font()
        self.details.update_font()
        details = 0 if self.compact else self.details.height()
        self.setFixedHeight(self.headline.height() + details + 22)

    def set_compact(self, on: bool) -> None:
        """One line of headline (all of it, and the details, in the tooltip): four runs in a
        grid on a 1280x720 projector."""
        self.compact = on
        self.details.setVisible(not on)
        lines = 1 if on else 3 if self.width() < 760 else 2
        if lines != self._headline_lines:
            self._headline_lines = lines
            self.headline.set_lines(lines)
        self.update_fonts()

    def resizeEvent(self, event) -> None:
        # A narrow window (a 1280-pixel projector) gets a third line for the headline; the
        # height changes only here, never with the text.
        super().resizeEvent(event)
        lines = 1 if self.compact else 3 if event.size().width() < 760 else 2
        if lines != self._headline_lines:
            self._headline_lines = lines
            self.headline.set_lines(lines)
            self.update_fonts()

    def new_runs(self, runs: tuple[Run, ...]) -> None:
        # At once, not at the deferred rebuild: a message set right after a new run
        # starts (NaN at step 3) must not be wiped by the rebuild a few frames later.
        self.override = None
        super().new_runs(runs)

    def on_run(self, run: Run) -> None:
        self.findings = []
        if self.override is not None or self.invalid:
            return
        warnings = run.warnings
        if run.live and warnings:
            hint = "Press Start (Space) to train, or N for one step."
            self._paint("warning", warnings[0], "\n".join([*warnings[1:2], hint]))
        elif run.live:
            self._paint("ok", "Press Start (Space) to train, or N for one step.", "")
        else:
            self._paint("ok", f"Viewing a saved run ({run.history.step:,} steps).",
                        "Press Start to train this configuration afresh.")

    def set_message(self, severity: str, headline: str, details: str = "") -> None:
        """Show a message of the app's own (an error, a paused run) until the next run."""
        self.override = headline
        self._override_shown = (severity, headline, details)
        if not self.invalid:
            self._paint(severity, headline, details)

    def set_invalid(self, summary: str) -> None:
        """The builder's settings are invalid (``summary``: what to fix, from
        BuilderPanel.problem_summary()); "" when they are valid again. While invalid the
        banner says so in the error colour, above any diagnosis or message; afterwards it
        shows again what it showed before."""
        if summary == self.invalid:
            return
        self.invalid = summary
        if summary:
            self._paint("error", f"Settings invalid. {summary}", INVALID_DETAILS)
        elif self.override is not None:
            self._paint(*self._override_shown)
        else:
            self.findings = []
            if self.run is not None:
                self.on_run(self.run)
            self.mark_dirty()

    def refresh(self) -> None:
        if self.run is None or self.override is not None or self.invalid:
            return
        findings = diagnose(self.run.history, self.workspace.cursor.step_for(self.run))
        if not findings or findings == self.findings:
            return
        self.findings = findings
        top = findings[0]
        rest = "\n".join(f"{ICONS[f.severity]} {f.message}" for f in findings[1:3])
        # Where the headline would be cut: the finding in a few words, or its title alone
        # (a grid's one-line banner: "Vanishing").
        self._paint(top.severity, top.message, rest,
                    top.short(len(self.run.history.layer_names)), top.title)

    def _paint(self, severity: str, headline: str, details: str, *shorter: str) -> None:
        """``shorter``: the headline in fewer words, the first that fits shown where the whole
        one (or its first sentence) would be cut."""
        self._shown = (severity, headline, details, *shorter)
        headline, details = readable(headline), readable(details)
        if severity != self._severity:  # style sheets are slow to apply: only on a change
            self._severity = severity
            colour = severity_colour(severity)
            self.frame.setStyleSheet(f"QFrame#banner {{ background: {theme.PANEL_LIGHT}; "
                                     f"border-left: 8px solid {colour}; }}")
            self.icon.setText(ICONS.get(severity, ""))
            self.icon.setStyleSheet(f"color: {colour};")
        head = _capital(headline)
        first = head.split(". ", 1)[0] + "." if ". " in head else ""
        self.headline.setText(head, first, *(_capital(readable(s)) for s in shorter))
        self.details.setText(details)
        self.setToolTip(f"{head}\n{details}" if details else head)
