"""Export from the window: figures open as SVG/PNG, data as CSV, only what can be drawn
honestly (a hidden view is drawn as a figure, never grabbed garbled)."""

from __future__ import annotations

import csv
import xml.etree.ElementTree as ET

import numpy as np
import pyqtgraph as pg

from tests.qt.conftest import SMALL, configure


def trained(app, qtbot, window, steps=40):
    if window.session.comparing:
        window.toggle_compare()
    configure(app, window, SMALL)
    window.session.step(steps)
    qtbot.waitUntil(lambda: window.session.run.history.step == steps, timeout=20_000)
    return window.session.run


def test_a_view_exports_as_svg_png_and_csv(app, qtbot, window, tmp_path):
    run = trained(app, qtbot, window)
    ex = window.exporter
    ex.write("bars", "svg", run.run_id, None, str(tmp_path / "bars.svg"))
    root = ET.parse(tmp_path / "bars.svg").getroot()
    assert root.tag.endswith("svg")
    window.docks["heatmap"].raise_()
    qtbot.waitUntil(lambda: window.views["heatmap"].is_shown())
    ex.write("heatmap", "png", run.run_id, None, str(tmp_path / "heat.png"), scale=2.0,
             caption=False)
    assert (tmp_path / "heat.png").stat().st_size > 1000
    # A view in a hidden tab is drawn as a figure, not grabbed from the screen.
    window.docks["health"].hide()
    qtbot.waitUntil(lambda: not window.views["health"].is_shown())
    ex.write("health", "png", run.run_id, None, str(tmp_path / "health.png"), caption=False)
    assert (tmp_path / "health.png").stat().st_size > 1000
    window.docks["health"].show()
    ex.write("loss", "csv", run.run_id, None, str(tmp_path / "loss.csv"))
    ex.write("run", "csv", run.run_id, None, str(tmp_path / "run.csv"))
    qtbot.waitUntil(lambda: (tmp_path / "run.csv").exists() and (tmp_path / "loss.csv").exists(),
                    timeout=10_000)
    with open(tmp_path / "run.csv") as fh:
        header = next(csv.reader(fh))
    data = np.genfromtxt(tmp_path / "run.csv", delimiter=",", skip_header=1)
    assert data.shape[0] == 40 and header[0] == "step"
    assert sum(h.startswith("grad_norm") for h in header) == run.n_layers


def test_a_plot_right_click_offers_our_export(app, qtbot, window):
    for key in ("heatmap", "lines", "bars", "loss"):
        for graphics in window.views[key].findChildren(pg.GraphicsView):
            menu = graphics.scene().contextMenu
            assert [a.text() for a in menu] == ["Export…"]


def test_an_export_that_cannot_be_written_is_one_message(app, qtbot, window, tmp_path):
    run = trained(app, qtbot, window, 5)
    window.exporter.write("bars", "svg", run.run_id, None, str(tmp_path / "no" / "x.svg"))
    box = window.last_message
    assert box is not None and "\n" not in box.text()
    box.close()
