"""The timeline: scrubbing every view back while training goes on, replay, End to follow
live again; a learning rate or optimizer changed mid-run is recorded and marked."""

from __future__ import annotations

from PySide6.QtCore import Qt

from tests.qt.conftest import SMALL, configure
from vgrad_gui.core import readings
from vgrad_gui.core.run import SETTING
from vgrad_gui.qt import theme
from vgrad_gui.qt.timeline import MARK_COLOURS


def test_scrubbing_back_shows_that_step_while_training_goes_on(app, qtbot, window):
    if window.session.comparing:
        window.toggle_compare()
    configure(app, window, SMALL.replace(steps=100_000))
    window.speed.setValue(len(window.speed_values()) - 1)
    window.start_training()
    run = window.session.run
    qtbot.waitUntil(lambda: run.history.step > 300, timeout=30_000)
    window.timeline.set_step(100)
    assert window.workspace.cursor.fixed == 100
    at = readings.grad_reading(run.history, 100)
    qtbot.waitUntil(lambda: window.diagram.step == at.step, timeout=5_000)
    bars = window.views["bars"]
    window.docks["bars"].raise_()
    qtbot.waitUntil(lambda: bars.reading is not None and bars.reading.step == at.step,
                    timeout=5_000)
    before = run.history.step
    qtbot.waitUntil(lambda: run.history.step > before + 50, timeout=20_000)  # still training
    assert window.diagram.step == at.step  # ... while the views stay at step 100
    assert "step 100 of" in window.timeline.label.text()
    window.status.update()  # the status bar quotes the step shown, and its numbers
    assert window.status.step.text().startswith("step 100 of")
    from vgrad_gui.qt.status import grad_text
    assert window.status.grad.text() == grad_text(run.history, 100)
    # Left/Right move one step, End follows live again.
    window.diagram.setFocus()
    qtbot.keyClick(window.diagram, Qt.Key.Key_Right)
    assert window.workspace.cursor.fixed == 101
    qtbot.keyClick(window.diagram, Qt.Key.Key_End)
    assert window.workspace.cursor.follows_live
    qtbot.waitUntil(lambda: window.diagram.step > before, timeout=5_000)
    window.session.pause()
    qtbot.waitUntil(lambda: window.session.state == "paused", timeout=10_000)


def test_replay_runs_the_cursor_forward_to_the_end(app, qtbot, window):
    run = window.session.run
    assert run is not None and run.step > 100
    window.timeline.rate.setCurrentIndex(window.timeline.rate.count() - 1)  # fastest
    window.timeline.home()
    assert window.workspace.cursor.fixed == run.first_step
    window.timeline.toggle_play()
    qtbot.waitUntil(lambda: not window.timeline.playing, timeout=20_000)
    assert window.workspace.cursor.fixed == run.step
    window.timeline.follow_live()


def test_a_learning_rate_changed_mid_run_goes_on_and_is_marked(app, qtbot, window):
    configure(app, window, SMALL.replace(steps=100_000))
    window.start_training()
    run = window.session.run
    qtbot.waitUntil(lambda: run.history.step > 50, timeout=30_000)
    window.builder.set_config(SMALL.replace(steps=100_000, lr=0.01))
    qtbot.waitUntil(lambda: any(e.kind == SETTING for e in run.events), timeout=10_000)
    assert window.session.run is run  # the same run: weights kept, not rebuilt
    event = next(e for e in run.events if e.kind == SETTING)
    assert event.key == "lr" and "0.1 -> 0.01" in event.text and event.step > 50
    assert run.config.lr == 0.01
    before = run.history.step
    qtbot.waitUntil(lambda: run.history.step > before + 20, timeout=20_000)
    window.timeline.sync()
    assert (event.step, theme.colour(MARK_COLOURS[SETTING])) in window.timeline.marks()
    window.session.pause()
    qtbot.waitUntil(lambda: window.session.state == "paused", timeout=10_000)
