"""Painted text shows its short form where the whole text would be cut: a compare panel's
banner on a 1024 x 768 projector read "Vanishing: hidden layers 1-7 receive less tha…"."""

from __future__ import annotations

from vgrad_gui.qt.text import PaintedText

LONG = ("Vanishing: hidden layers 1-7 receive less than 1/1000 of the output layer's "
        "gradient (hidden layer 1: 10⁻⁸). They barely learn.")
SHORT = "Vanishing: hidden layers 1-7"


def test_the_short_form_where_the_text_would_be_cut(app, qtbot):
    for lines in (1, 3):
        text = PaintedText(lines=lines)
        qtbot.addWidget(text)
        text.setText(LONG, SHORT)
        text.resize(2400, text.height())
        assert " ".join(text.shown_lines()) == LONG  # room for all of it: all of it
        text.resize(240, text.height())
        shown = text.shown_lines()
        assert shown and " ".join(shown) == SHORT and not shown[-1].endswith("…")


def test_without_a_short_form_the_text_is_elided_as_before(app, qtbot):
    text = PaintedText(lines=2)
    qtbot.addWidget(text)
    text.setText(LONG)
    text.resize(240, text.height())
    shown = text.shown_lines()
    assert len(shown) == 2 and shown[-1].endswith("…")


def test_a_short_form_that_does_not_fit_either_is_elided(app, qtbot):
    text = PaintedText(lines=1)
    qtbot.addWidget(text)
    text.setText(LONG, SHORT)
    text.resize(60, text.height())
    shown = text.shown_lines()
    assert shown[0].endswith("…") and shown[0].startswith("V")


def test_the_first_shorter_form_that_fits(app, qtbot):
    first = LONG.split(". ")[0] + "."
    longer = LONG + " Hidden layers 1-2 did not change at all over the last 500 steps."
    text = PaintedText(lines=2)
    qtbot.addWidget(text)
    text.setText(longer, first, SHORT)
    text.resize(2400, text.height())
    assert " ".join(text.shown_lines()) == longer
    # Two lines of 60% of the first sentence: room for it, not for all of it.
    text.resize(int(0.6 * text.fontMetrics().horizontalAdvance(first)), text.height())
    assert " ".join(text.shown_lines()) == first
    text.resize(200, text.height())
    assert " ".join(text.shown_lines()) == SHORT


def test_a_one_line_banner_too_narrow_for_the_few_words_names_the_kind(app, qtbot):
    from tests.core.test_workspace import run
    from vgrad_gui.core.diagnose import Finding
    from vgrad_gui.core.workspace import Workspace
    from vgrad_gui.qt.clock import FrameClock
    from vgrad_gui.qt.plots.banner import DiagnosisBanner

    workspace = Workspace()
    workspace.add(run(1, steps=5))
    banner = DiagnosisBanner(workspace, FrameClock())
    qtbot.addWidget(banner)
    banner.set_compact(True)  # a grid's banner: one line
    finding = Finding("vanishing", "error", LONG, (0, 1, 2, 3, 4, 5, 6), 1e-8)
    banner._paint("error", finding.message, "", finding.short(11), finding.title)  # as refresh
    headline = banner.headline
    headline.resize(headline.fontMetrics().horizontalAdvance("Vanishing") + 12,
                    headline.height())
    assert headline.shown_lines() == ["Vanishing"]
    assert LONG in banner.toolTip()  # all of it, a hover away
    banner.release()
