"""The main window driving a real training process: start, pause, step, reset, views, NaN."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt

from tests.qt.conftest import SMALL, configure
from vgrad_gui.core.presets import get_preset
from vgrad_gui.qt import theme


def test_a_short_run_reaches_n_steps_and_updates_every_view(app, qtbot, window):
    configure(app, window, SMALL.replace(steps=300))
    window.start_training()
    qtbot.waitUntil(lambda: window.session.state == "finished", timeout=60_000)
    history = window.session.run.history
    assert history.step == 300
    n = history.n_layers
    for _key, dock in window.docks.items():  # show every view, tabbed or not
        dock.show()
        dock.raise_()
        qtbot.wait(50)
    views = window.views
    qtbot.waitUntil(lambda: views["heatmap"].image.image is not None)
    assert views["heatmap"].image.image.shape[0] == n
    x, _y = views["lines"].lines.data(0)
    assert len(x) > 10 and x[-1] > 250
    assert len(views["lines"].lines) == n
    assert len(views["bars"].bars.opts["height"]) == n
    lx, _ly = views["loss"].train_loss.getData()
    assert len(lx) > 10
    tx, _ = views["loss"].test_loss.getData()
    assert len(tx) >= 3  # steps 1, 100, 200, 300
    qtbot.waitUntil(lambda: views["boundary"].image.image is not None)
    qtbot.waitUntil(lambda: len(views["health"].inactive_bars.opts["height"]) == n - 1)
    assert len(window.diagram.levels) == n
    qtbot.waitUntil(lambda: window.banner.headline.text() != "")
    assert "step 300" in window.status_step.text().replace(",", "") or \
        window.status_step.text() == "step 300"


def test_pause_step_and_reset(app, qtbot, window):
    configure(app, window, SMALL.replace(steps=100_000))
    window.speed.setValue(4)  # 20 steps a second
    window.start_training()
    qtbot.waitUntil(lambda: window.session.state == "running")
    qtbot.waitUntil(lambda: window.session.run.history.step >= 5, timeout=10_000)
    window.toggle_training()
    qtbot.waitUntil(lambda: window.session.state == "paused")
    qtbot.wait(300)
    held = window.session.run.history.step
    qtbot.wait(400)
    assert window.session.run.history.step == held  # nothing trains while paused
    window.step_once()
    qtbot.waitUntil(lambda: window.session.run.history.step == held + 1)
    qtbot.wait(300)
    assert window.session.run.history.step == held + 1  # exactly one
    old = window.session.run.history
    window.reset_training()
    qtbot.waitUntil(lambda: window.session.run is not None
                    and window.session.run.history is not old)
    assert window.session.run.history.step == 0
    window.speed.setValue(len(window.speed_values()) - 1)


def test_keyboard_space_starts_and_pauses(app, qtbot, window):
    configure(app, window, SMALL.replace(steps=100_000))
    window.speed.setValue(5)
    window.activateWindow()
    window.diagram.setFocus()
    qtbot.keyClick(window.diagram, Qt.Key.Key_Space)
    qtbot.waitUntil(lambda: window.session.state == "running")
    qtbot.keyClick(window.diagram, Qt.Key.Key_Space)
    qtbot.waitUntil(lambda: window.session.state == "paused")
    step = window.session.run.history.step
    qtbot.keyClick(window.diagram, Qt.Key.Key_N)
    qtbot.waitUntil(lambda: window.session.run.history.step == step + 1)
    window.speed.setValue(len(window.speed_values()) - 1)


def test_changing_the_config_while_training_rebuilds_cleanly(app, qtbot, window):
    configure(app, window, SMALL.replace(steps=100_000))
    window.speed.setValue(6)
    window.start_training()
    qtbot.waitUntil(lambda: window.session.state == "running")
    window.builder.editors["depth"].setValue(7)
    qtbot.waitUntil(lambda: window.session.run is not None
                    and window.session.run.history.n_layers == 8, timeout=10_000)
    assert window.session.state == "ready"
    assert window.views["heatmap"].layer_axis.count == 8
    assert window.session.run.history.step == 0
    window.speed.setValue(len(window.speed_values()) - 1)


def test_exploding_pauses_shows_nan_and_explains(app, qtbot, window):
    configure(app, window, get_preset("exploding").config)
    window.start_training()
    qtbot.waitUntil(lambda: window.session.state == "paused", timeout=20_000)
    history = window.session.run.history
    assert history.first_nonfinite_step is not None
    # The banner says it as the diagnosis does, at its next turn (3 Hz).
    qtbot.waitUntil(lambda: "NaN/Inf" in window.banner.headline.text(), timeout=5_000)
    headline = window.banner.headline.text()
    # One number everywhere: the banner, the diagram and the status bar name the same step.
    first = f"step {history.first_nonfinite_step:,}"
    assert first in headline
    qtbot.waitUntil(lambda: first in window.diagram.caption)
    window.status.update()
    assert first in window.status.grad.text()
    window.docks["heatmap"].raise_()
    qtbot.waitUntil(lambda: window.views["heatmap"].image.image is not None)
    img = window.views["heatmap"].image.image
    assert (img == theme.HEAT_NONFINITE).any()
    qtbot.waitUntil(lambda: any(np.isnan(v) for v in window.diagram.levels))
    # Still usable: a healthy config trains afterwards.
    configure(app, window, get_preset("relu_he").config.replace(steps=50))
    window.start_training()
    qtbot.waitUntil(lambda: window.session.state == "finished", timeout=30_000)


def test_one_and_two_hundred_layers_draw(app, qtbot, window):
    for depth in (1, 200):
        configure(app, window, SMALL.replace(depth=depth, width=4, steps=30))
        window.start_training()
        qtbot.waitUntil(lambda: window.session.state == "finished", timeout=60_000)
        for dock in window.docks.values():
            dock.raise_()
            qtbot.wait(30)
        n = depth + 1

        def drawn(n: int = n) -> bool:
            image = window.views["heatmap"].image.image
            return image is not None and image.shape[0] == n and len(window.diagram.levels) == n

        qtbot.waitUntil(drawn)
        assert len(window.views["lines"].lines) == min(n, 24)


def test_save_and_open_a_run(app, qtbot, window, tmp_path):
    configure(app, window, SMALL.replace(steps=120))
    window.start_training()
    qtbot.waitUntil(lambda: window.session.state == "finished", timeout=30_000)
    path = tmp_path / "run.npz"
    assert window.save_run(str(path))
    assert window.session.run.saved_to == str(path)
    window.open_run(str(path))  # read in a thread: the window goes on meanwhile
    assert "Opening run.npz" in window.statusBar().currentMessage()
    qtbot.waitUntil(lambda: window.session.state == "viewing")
    assert window.session.run.history.step == 120
    assert window.builder.config().depth == SMALL.depth
    bad = tmp_path / "bad.npz"
    bad.write_text("not a run")
    shown = window.last_message
    window.open_run(str(bad))
    qtbot.waitUntil(lambda: window.last_message is not shown)
    assert "not a run file" in window.last_message.text()
    assert window.session.state == "viewing"  # the run shown stays
    window.last_message.close()
    # Start trains the viewed config afresh.
    window.start_training()
    qtbot.waitUntil(lambda: window.session.state in ("running", "finished"), timeout=20_000)
    assert window.session.run.live


def test_export_views(app, qtbot, window, tmp_path):
    saved = window.exporter.views_to(str(tmp_path))
    assert any(p.endswith("vgrad-diagram.png") for p in saved)
    assert all((tmp_path / p.split("/")[-1]).stat().st_size > 1000 for p in saved)
