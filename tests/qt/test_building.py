"""While a network is built the window says so, with progress; the budget's warning about a
slow net shows in the banner once it is built."""

from __future__ import annotations

from tests.qt.conftest import SMALL, configure


def test_building_progress_shows_in_the_status_and_the_banner(app, qtbot, window):
    stages: list[tuple[str, float, list]] = []
    window.session.building.connect(lambda *a: stages.append(a))
    configure(app, window, SMALL.replace(depth=5))
    assert [s for s, _, _ in stages] == ["Preparing the data", "Building the network"]
    window._building("Building the network", 0.3, ["slow: roughly 8 s per step"])
    assert window.status_state.text() == "Building the network… 30%"
    assert window.banner.headline.text().startswith("Building the network… 30%")
    assert "8 s per step" in window.banner.details.text()


def test_a_slow_net_is_named_in_the_banner_once_built(app, qtbot, window):
    info = window.session.info
    info.extra["warnings"] = ["slow: roughly 8 s per step on the CPU"]
    window.banner.override = None
    window.banner.on_run(info)
    assert "8 s per step" in window.banner.headline.text()
    assert "Press Start" in window.banner.details.text()
