"""Lessons in the window and presenter mode: the keys a clicker sends step through a lesson and
build each step's runs; presenter mode hides everything but the lesson, the runs and the
step's view, and leaving it gives the window back as it was; a predict-first question shows
its answers before the run and the right one after it; the evidence fills from the run; B
blanks the screen until any key; the headline reads from the back of a room."""

from __future__ import annotations

import json
import re

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QFontInfo
from PySide6.QtWidgets import QToolBar, QWidget

from vgrad_gui.core.lessons import fill_evidence, parse_lesson_text
from vgrad_gui.qt.controls import SPEEDS
from vgrad_gui.qt.lesson_panel import MIN_HEADLINE_PX
from vgrad_gui.qt.presenter import install, pace_index

NET = {"depth": 3, "width": 8, "activation": "tanh", "init": "xavier_uniform"}
TINY = {
    "title": "A tiny lesson",
    "steps": [
        {"title": "One small tanh net", "text": "A small net. It trains in a moment.",
         "runs": [NET], "spotlight": "heatmap", "steps": 30,
         "predict": {"question": "Does hidden layer 1 get a gradient?",
                     "answers": ["No", "Yes, a healthy share", "Only NaN"], "correct": 2,
                     "explanation": "Three tanh layers with Xavier weights pass it on."},
         "evidence": "Hidden layer 1 gets {ratio} after {step} steps; the loss is {loss}."},
        {"title": "Two nets", "text": "The same net, and one with ReLU.",
         "runs": [NET, {**NET, "activation": "relu", "init": "he_normal",
                        "label": "the ReLU one"}],
         "spotlight": "bars", "steps": 30, "evidence": "{ratio} against {ratio.B}."},
        {"title": "Three nets", "text": "Three depths.",
         "runs": [NET, {**NET, "depth": 2}, {**NET, "depth": 4}],
         "spotlight": "diagram", "steps": 30, "evidence": "{label.C}: {ratio.C}."},
    ],
}


@pytest.fixture(scope="module")
def tiny():
    return parse_lesson_text(json.dumps(TINY), "tiny.json")


@pytest.fixture
def presenter(app, qtbot, window, tiny):
    p = install(window)
    p.pace_seconds = None  # tests do not wait for a room
    window.speed.setValue(len(SPEEDS) - 1)
    window.activateWindow()
    p.open_lesson(tiny)
    yield p
    p.set_presenting(False)
    p.close_lesson()


def key(qtbot, window, k) -> None:
    window.diagram.setFocus()
    qtbot.keyClick(window.diagram, k)


def wait_step_built(qtbot, presenter) -> None:
    qtbot.waitUntil(lambda: presenter.step_runs() is not None
                    and all(lane.state == "ready" for lane in presenter.window.session.lanes),
                    timeout=30_000)


def dock_layout(window) -> dict:
    return {key: (d.isVisible(), d.isFloating(), window.dockWidgetArea(d),
                  sorted(t.objectName() for t in window.tabifiedDockWidgets(d)))
            for key, d in window.docks.items()}


def test_pace_gives_a_lesson_step_seconds_not_a_blink():
    assert SPEEDS[pace_index(500)] == 50  # 10 s
    assert SPEEDS[pace_index(300)] == 50  # 6 s (20 steps/s would be 15 s)
    assert SPEEDS[pace_index(30)] == 5
    assert SPEEDS[pace_index(100_000)] == 500  # as fast as a rate may be set


def test_page_keys_step_through_the_lesson_and_build_each_steps_runs(qtbot, window,
                                                                     presenter, tiny):
    wait_step_built(qtbot, presenter)
    assert [lane.config for lane in window.session.lanes] == list(tiny.steps[0].runs)
    # Normal mode: a tab beside the builder, its text wrapped to the dock's width (nothing
    # cut off at the right), the answers one to a row.
    assert window.dockWidgetArea(presenter.dock) == window.dockWidgetArea(
        window.docks["builder"])
    qtbot.waitUntil(lambda: presenter.dock.isVisible())
    assert presenter.panel.width() <= presenter.scroll.viewport().width()
    answers = presenter.panel.answers
    assert len({a.geometry().x() for a in answers}) == 1
    assert answers[0].width() > presenter.panel.width() * 0.8  # one to a row takes the row
    key(qtbot, window, Qt.Key.Key_PageDown)
    assert presenter.index == 1
    wait_step_built(qtbot, presenter)
    assert [lane.config for lane in window.session.lanes] == list(tiny.steps[1].runs)
    # The step's own labels, not the ones compare mode makes up.
    qtbot.waitUntil(lambda: [r.label for r in window.workspace.runs] == ["tanh + Xavier init",
                                                                        "the ReLU one"])
    assert "the ReLU one" in window.panels.panels[1].title.text()
    assert window.docks["bars"].isVisible()  # the step's view, brought forward
    key(qtbot, window, Qt.Key.Key_PageDown)
    wait_step_built(qtbot, presenter)
    assert len(window.workspace) == 3
    assert [lane.config for lane in window.session.lanes] == list(tiny.steps[2].runs)
    key(qtbot, window, Qt.Key.Key_PageDown)  # the last step: stays
    assert presenter.index == 2
    key(qtbot, window, Qt.Key.Key_PageUp)
    assert presenter.index == 1
    wait_step_built(qtbot, presenter)
    assert [lane.config for lane in window.session.lanes] == list(tiny.steps[1].runs)
    # Outside presenter mode the arrows are the timeline's, not the lesson's.
    key(qtbot, window, Qt.Key.Key_Right)
    assert presenter.index == 1


def test_presenter_mode_shows_the_lesson_and_leaving_restores_the_window(qtbot, window,
                                                                         presenter):
    presenter.go(1)
    before = dock_layout(window)
    bars = window.findChildren(QToolBar)
    assert window.menuBar().isVisible() and all(b.isVisible() for b in bars)
    shortcuts = {a: a.shortcuts() for a in window.actions()}
    state = window.saveState()
    # What shares the centre with the run panels (the timeline) gives the room its height.
    centre = window.centralWidget()
    extras = [] if centre is window.panels else [
        c for c in centre.findChildren(QWidget, options=Qt.FindChildOption.FindDirectChildrenOnly)
        if c is not window.panels]
    assert all(x.isVisible() for x in extras)

    key(qtbot, window, Qt.Key.Key_P)
    assert presenter.presenting
    assert not window.menuBar().isVisible() and not window.statusBar().isVisible()
    assert not any(b.isVisible() for b in bars)
    assert not window.docks["builder"].isVisible()
    assert window.docks["bars"].isVisible()  # the step's view, and no other
    assert [k for k, d in window.docks.items() if d.isVisible()] == ["bars"]
    assert presenter.dock.isVisible()
    assert window.dockWidgetArea(presenter.dock) == Qt.DockWidgetArea.TopDockWidgetArea
    assert window.panels.isVisible()
    assert not any(x.isVisible() for x in extras)
    # Clickers: the arrows step through the lesson in presenter mode.
    key(qtbot, window, Qt.Key.Key_Right)
    assert presenter.index == 2
    assert not any(d.isVisible() for d in window.docks.values())  # "diagram": run panels
    key(qtbot, window, Qt.Key.Key_Left)
    assert presenter.index == 1
    assert window.docks["bars"].isVisible()

    key(qtbot, window, Qt.Key.Key_Escape)
    assert not presenter.presenting
    assert window.menuBar().isVisible() and window.statusBar().isVisible()
    assert all(b.isVisible() for b in bars)
    assert dock_layout(window) == before
    assert {a: a.shortcuts() for a in window.actions()} == shortcuts  # keys given back
    assert all(x.isVisible() for x in extras)
    window.restoreState(state)


def claimed_twice(window) -> list[str]:
    """Keys that two enabled actions of the window share (Qt then fires neither)."""
    seen: dict[str, int] = {}
    for action in window.actions():
        if action.isEnabled():
            for k in action.shortcuts():
                seen[k.toString()] = seen.get(k.toString(), 0) + 1
    return [k for k, n in seen.items() if n > 1]


def test_every_key_has_one_action_in_either_mode(window, presenter):
    presenter.go(1)
    assert claimed_twice(window) == []
    presenter.set_presenting(True)
    assert claimed_twice(window) == []
    for name in ("next", "previous", "present", "leave", "blank", "next_arrow",
                 "previous_arrow", "open"):
        assert not presenter.actions[name].shortcut().isEmpty(), name
    assert presenter.actions["next"].shortcut().toString() == "PgDown"


def test_predict_first_answers_before_the_run_the_right_one_after_it(qtbot, window,
                                                                    presenter, tiny):
    step = tiny.steps[0]
    wait_step_built(qtbot, presenter)
    panel = presenter.panel
    assert panel.predict_box.isVisible()
    assert [b.text().split(maxsplit=1)[1] for b in panel.answers] == list(step.predict.answers)
    assert not panel.revealed and "Three tanh layers" not in panel.reveal_line.text()
    assert presenter.evidence == ""  # nothing trained yet
    qtbot.mouseClick(panel.answers[0], Qt.MouseButton.LeftButton)  # the room says "No"
    assert panel.answers[0].mark == "chosen"

    window.start_training()
    qtbot.waitUntil(lambda: presenter.finished, timeout=30_000)
    assert panel.revealed
    assert [b.mark for b in panel.answers] == ["wrong", "correct", "other"]
    assert "Answer B" in panel.reveal_line.text()
    assert "Three tanh layers" in panel.reveal_line.text()
    # The evidence is the run's, in numbers.
    runs = presenter.step_runs()
    assert runs is not None and all(r.step == 30 for r in runs)
    assert presenter.evidence == fill_evidence(step, runs)
    assert "n/a" not in presenter.evidence and "after 30 steps" in presenter.evidence
    assert re.search(r"the loss is \d\.\d{3}", presenter.evidence)
    assert panel.evidence.text().startswith("Evidence: ")


def test_b_blanks_the_screen_and_any_key_brings_it_back(qtbot, window, presenter):
    wait_step_built(qtbot, presenter)
    key(qtbot, window, Qt.Key.Key_B)
    assert not presenter.blanked  # only in presenter mode
    presenter.set_presenting(True)
    key(qtbot, window, Qt.Key.Key_B)
    assert presenter.blanked
    assert presenter.overlay.geometry() == window.rect()
    state = window.session.state
    qtbot.keyClick(presenter.overlay, Qt.Key.Key_Space)  # any key; it does not start a run
    assert not presenter.blanked
    qtbot.wait(200)
    assert window.session.state == state
    assert presenter.presenting


def test_headline_reads_from_the_back_row_at_1024x768_and_follows_text_size(
        qtbot, window, presenter):
    window.resize(1024, 768)
    presenter.set_presenting(True)
    qtbot.waitUntil(lambda: window.height() == 768)
    headline = presenter.panel.headline
    px = QFontInfo(headline.font()).pixelSize()
    assert px >= MIN_HEADLINE_PX
    text_px = QFontInfo(presenter.panel.text.font()).pixelSize()
    window.scale_text(1.5)  # Ctrl++ reaches the lesson's text
    try:
        assert QFontInfo(headline.font()).pixelSize() >= px * 1.4
        assert QFontInfo(presenter.panel.text.font()).pixelSize() > text_px
    finally:
        window.scale_text(1 / 1.5)
    assert QFontInfo(headline.font()).pixelSize() == px
    presenter.set_presenting(False)
    assert QFontInfo(headline.font()).pixelSize() < px  # normal mode: the theme's sizes
    window.resize(1600, 1000)


def test_closing_the_lesson_gives_back_the_users_speed(qtbot, window, tiny):
    p = install(window)
    assert install(window) is p  # one presenter per window
    p.close_lesson()
    window.speed.setValue(3)
    p.pace_seconds = 9.0
    p.open_lesson(tiny)
    assert window.speed.value() == pace_index(30)
    p.close_lesson()
    assert window.speed.value() == 3
    assert not p.dock.isVisible()
    assert not p.actions["next"].isEnabled()
    window.speed.setValue(len(SPEEDS) - 1)
