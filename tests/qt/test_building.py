"""While a network is built the window says so, with progress; the budget's warning about a
slow net shows in the banner once it is built."""

from __future__ import annotations

from tests.qt.conftest import SMALL, configure


def test_building_progress_shows_in_the_status_and_the_banner(app, qtbot, window):
    stages: list[tuple[str, float, list]] = []
    window.session.building.connect(lambda *a: stages.append(a))
    configure(app, window, SMALL.replace(depth=5))
    assert [s for _, s, _, _ in stages] == ["Preparing the data", "Building the network"]
    window.notices.building(window.session.run_id, "Building the network", 0.3,
                            ["slow: roughly 8 s per step"])
    assert window.status_state.text() == "Building the network… 30%"
    assert window.banner.headline.text().startswith("Building the network… 30%")
    assert "8 s per step" in window.banner.details.text()


def test_a_slow_net_is_named_in_the_banner_once_built(app, qtbot, window):
    info = window.session.run
    info.warnings = ["slow: roughly 8 s per step on the CPU"]
    window.banner.override = None
    window.banner.on_run(info)
    assert "8 s per step" in window.banner.headline.text()
    assert "Press Start" in window.banner.details.text()


def test_a_view_that_cannot_follow_a_run_says_so_and_the_rest_go_on(app, qtbot, window,
                                                                     monkeypatch, capfd):
    from tests.qt.helpers import paint_failures
    from vgrad_gui.qt.plots.heatmap import HeatmapView

    heatmap = window.views["heatmap"]
    window.docks["heatmap"].raise_()
    note = heatmap.note.text()
    before = paint_failures()

    def broken(self):
        raise IndexError("steps in reverse order")

    monkeypatch.setattr(HeatmapView, "refresh", broken)
    window.session.step(3)
    qtbot.waitUntil(lambda: "could not follow" in heatmap.note.text(), timeout=10_000)
    window.session.step(3)
    qtbot.wait(300)
    assert paint_failures() >= before + 1
    assert capfd.readouterr().err.count("HeatmapView.refresh failed") == 1  # reported once
    assert window.session.worker.alive and window.errors.shown == 0
    monkeypatch.undo()
    window.session.reset()
    qtbot.waitUntil(lambda: heatmap.note.text() == note, timeout=10_000)
