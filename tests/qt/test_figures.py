"""Figures (issue 10, item 5): every view drawn offscreen from a Run opens as SVG (XML with an
<svg> root whose paths carry the plotted numbers) and as PNG at the scale asked for; a live
plot is exported only when shown, never when a paint failed; the export command writes SVG
and PNG with no display at all."""

from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pyqtgraph as pg
import pytest
from PySide6.QtGui import QColor, QImage

from tests.core.runfile_kit import synthetic_history
from vgrad_gui import export_cmd
from vgrad_gui.core import export, readings
from vgrad_gui.core.export import ExportError
from vgrad_gui.core.history import RunHistory
from vgrad_gui.core.run import DataSample, Run
from vgrad_gui.core.runfile import save_run
from vgrad_gui.core.spec import Config
from vgrad_gui.qt import figures, theme

SVG = "{http://www.w3.org/2000/svg}"
FIGURE_VIEWS = ("heatmap", "lines", "bars", "loss", "signal", "health")


@pytest.fixture(scope="module")
def run() -> Run:
    history = synthetic_history(depth=3, n_steps=300)
    history.extra["source"] = "synthetic"
    return Run.from_history(history)


def boundary_run() -> Run:
    cfg = Config(depth=1, width=4)
    run = Run.from_config(cfg, ["hidden 1", "output"], "saturated")
    rng = np.random.default_rng(1)
    run.history.extend("steps", np.arange(1, 41), rng.uniform(0.1, 1, (40, 6)))
    run.set_data(DataSample(rng.normal(size=(30, 2)), rng.integers(0, 2, 30),
                            (-3.0, 3.0, -3.0, 3.0)))
    run.add_boundary(20, (np.arange(16)[None, :] > 7).repeat(16, 0).astype(np.uint8),
                     np.full((16, 16), 0.9, np.float32))
    return run


def parse_svg(path: Path) -> ET.Element:
    root = ET.parse(path).getroot()
    assert root.tag == f"{SVG}svg"
    return root


def groups(root: ET.Element, prefix: str) -> list[ET.Element]:
    """The SVG groups pyqtgraph names after the items drawn: 'BarGraphItem_1', ..."""
    return [g for g in root.iter(f"{SVG}g") if g.get("id", "").startswith(prefix)]


def points(path: ET.Element) -> np.ndarray:
    """The x, y of every vertex of an SVG path ('M1,2 L3,4 ... Z')."""
    pairs = [t.lstrip("MLC") for t in path.get("d", "").split() if "," in t]
    return np.array([[float(v) for v in p.split(",")] for p in pairs])


def affine(x: np.ndarray, y: np.ndarray) -> bool:
    """y = a x + b, exactly up to the SVG's rounding."""
    a, b = np.polyfit(x, y, 1)
    return bool(np.allclose(a * x + b, y, atol=0.05)) and abs(a) > 0


@pytest.mark.parametrize("view", FIGURE_VIEWS)
def test_every_view_is_an_svg_a_browser_opens(app, run, tmp_path, view):
    out = figures.render_figure(run, view, 250, "svg", tmp_path / f"{view}.svg")
    root = parse_svg(out)
    assert root.get("viewBox", "").split() == ["0", "0", "800", "500"]
    assert len(list(root.iter(f"{SVG}path"))) >= 3
    texts = [t.text.strip() for t in root.iter(f"{SVG}text") if t.text and t.text.strip()]
    assert export.caption(run, 250) in texts
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"{view}.svg"]


def test_bar_heights_in_the_svg_are_the_readings_on_a_log_scale(app, run, tmp_path):
    step = 180
    root = parse_svg(figures.render_figure(run, "bars", step, "svg", tmp_path / "b.svg"))
    (bars,) = groups(root, "BarGraphItem")
    rects = [points(p) for p in bars.iter(f"{SVG}path")]
    assert len(rects) == run.n_layers
    tops = np.array([r[:, 1].min() for r in rects])
    reading = readings.grad_reading(run.history, step)
    assert reading is not None
    assert affine(np.log10(reading.norms), tops)
    # the colours are the depth colours, input first
    fills = [p.get("fill") or g.get("fill") for g in bars.iter(f"{SVG}g")
             for p in g.findall(f"{SVG}path")]
    assert fills == [c.name() for c in theme.depth_colours(run.n_layers)]


def test_gradient_lines_in_the_svg_hold_every_recorded_step(app, run, tmp_path):
    root = parse_svg(figures.render_figure(run, "lines", 300, "svg", tmp_path / "l.svg"))
    curves = [points(p) for g in groups(root, "PlotCurveItem") for p in g.iter(f"{SVG}path")]
    full = [c for c in curves if len(c) == 300]
    assert len(full) == run.n_layers  # one line per layer, a vertex per step
    h = run.history
    _, raw = h.steps.raw(h.cols("steps", "grad_norm"))
    out_line = max(full, key=lambda c: abs(np.corrcoef(c[:, 1], np.log10(raw[:, -1]))[0, 1]))
    assert affine(np.log10(raw[:, -1].astype(np.float64)), out_line[:, 1])
    assert np.all(np.diff(out_line[:, 0]) > 0)  # steps left to right


def centre(path: ET.Element) -> np.ndarray:
    return points(path).mean(axis=0)


def test_svg_data_sits_where_its_axis_says(app, run, tmp_path):
    """Each test-accuracy dot is at its value on the accuracy axis (0 to 1.02): the SVG's
    curves and its axes agree."""
    root = parse_svg(figures.render_figure(run, "loss", None, "svg", tmp_path / "l.svg"))
    (acc_box,) = [g for g in root.iter(f"{SVG}g") if g.get("id") == "ViewBox_2"]
    (clip,) = [p for c in acc_box.iter(f"{SVG}clipPath") if c.get("id") == "ViewBox_2_clip"
               for p in c.iter(f"{SVG}path")]
    top, bottom = points(clip)[:, 1].min(), points(clip)[:, 1].max()
    dots = [centre(p) for g in acc_box.iter(f"{SVG}g") if g.get("id", "").startswith(
        "ScatterPlotItem") for p in g.iter(f"{SVG}path")]
    h = run.history
    _, acc = h.evals.raw(h.cols("evals", "test_accuracy"))
    assert len(dots) == len(acc) >= 3
    want = top + (1.02 - acc[:, 0]) / 1.02 * (bottom - top)
    np.testing.assert_allclose([d[1] for d in dots], want, atol=1.0)


@pytest.mark.parametrize("scale", [1.0, 1.5, 3.0])
def test_png_has_the_scaled_size(app, run, tmp_path, scale):
    out = figures.render_figure(run, "loss", None, "png", tmp_path / "l.png", scale=scale)
    image = QImage(str(out))
    assert (image.width(), image.height()) == (round(800 * scale), round(500 * scale))


def test_heatmap_png_shows_a_layer_without_gradient_in_the_zero_colour(app, tmp_path):
    h = RunHistory(Config(depth=2, width=4), ["hidden 1", "hidden 2", "output"], "saturated")
    rows = np.tile(np.array([[0.0, 1e-3, 0.5, 0, 0, 0, 0.69, 0.5]], np.float32), (60, 1))
    h.extend("steps", np.arange(1, 61), rows)
    out = figures.render_figure(Run.from_history(h), "heatmap", None, "png",
                                tmp_path / "h.png", caption=False)
    image = QImage(str(out)).convertToFormat(QImage.Format.Format_RGB32)
    pixels = np.frombuffer(image.constBits(), np.uint8).reshape(
        image.height(), image.bytesPerLine() // 4, 4)[:, : image.width(), :3]
    zero = QColor(theme.ZERO)
    bgr = np.array([zero.blue(), zero.green(), zero.red()], np.uint8)
    assert (pixels == bgr).all(axis=2).sum() > 5_000  # a whole row of the map


def test_boundary_figure_and_a_run_without_one(app, tmp_path):
    run = boundary_run()
    root = parse_svg(figures.render_figure(run, "boundary", 30, "svg", tmp_path / "b.svg"))
    assert groups(root, "ImageItem") and len(groups(root, "ScatterPlotItem")) == 2
    assert "step 20" in [t.text.strip() for t in root.iter(f"{SVG}text") if t.text]
    plain = Run.from_history(synthetic_history(depth=1, n_steps=20))
    with pytest.raises(ExportError, match="no decision boundary recorded"):
        figures.render_figure(plain, "boundary", None, "png", tmp_path / "x.png")
    assert not (tmp_path / "x.png").exists()


def test_bad_format_scale_view_and_output_are_refused(app, run, tmp_path):
    with pytest.raises(ExportError, match="format 'jpg'"):
        figures.render_figure(run, "bars", None, "jpg", tmp_path / "x.jpg")
    for scale in (0, -1, float("nan"), 100):
        with pytest.raises(ExportError, match="scale"):
            figures.render_figure(run, "bars", None, "png", tmp_path / "x.png", scale=scale)
    with pytest.raises(ExportError, match="unknown view 'flow'"):
        figures.render_figure(run, "flow", None, "png", tmp_path / "x.png")
    with pytest.raises(ExportError, match="does not exist"):
        figures.render_figure(run, "bars", None, "png", tmp_path / "no" / "x.png")
    assert list(tmp_path.iterdir()) == []


def test_a_live_plot_is_exported_only_when_shown(app, qtbot, tmp_path):
    widget = pg.GraphicsLayoutWidget()
    qtbot.addWidget(widget)
    plot = widget.addPlot()
    plot.plot(np.arange(50.0), np.sin(np.arange(50.0)))
    widget.resize(400, 300)
    with pytest.raises(ExportError, match="not shown"):
        figures.export_widget_plot(plot, tmp_path / "hidden.png", "png")
    assert not (tmp_path / "hidden.png").exists()
    widget.show()
    qtbot.waitExposed(widget)
    rect = plot.sceneBoundingRect()
    out = figures.export_widget_plot(plot, tmp_path / "plot.png", "png", scale=2.0)
    image = QImage(str(out))
    assert (image.width(), image.height()) == (round(rect.width() * 2), round(rect.height() * 2))
    root = parse_svg(figures.export_widget_plot(widget, tmp_path / "w.svg", "svg"))
    curves = [points(p) for g in groups(root, "PlotCurveItem") for p in g.iter(f"{SVG}path")]
    assert [len(c) for c in curves] == [50]
    widget.hide()
    with pytest.raises(ExportError, match="not shown"):
        figures.export_widget_plot(widget, tmp_path / "again.svg", "svg")


FAILING_PAINT = """
import os, sys
import pyqtgraph as pg
from vgrad_gui.qt import figures
from vgrad_gui.core.export import ExportError
app = figures.ensure_app()
w = pg.GraphicsLayoutWidget()
plot = w.addPlot()
# 3 bars, 2 brushes: pyqtgraph raises while painting (the guard catches it)
plot.addItem(pg.BarGraphItem(x=[0, 1, 2], height=[1, 2, 3], width=0.5,
                             brushes=[pg.mkBrush("r"), pg.mkBrush("g")]))
w.resize(300, 200)
w.show()
app.processEvents()
for fmt in ("png", "svg"):
    out = os.path.join(sys.argv[1], "f." + fmt)
    try:
        figures.export_widget_plot(plot, out, fmt)
        print("WROTE", fmt)
    except ExportError as exc:
        print("REFUSED", fmt, os.path.exists(out), exc)
w.close()
print("ALIVE")
"""


def test_a_plot_whose_paint_fails_is_not_written(tmp_path):
    # In a child process: if the guard regressed, the crash would end this test run.
    done = subprocess.run([sys.executable, "-c", FAILING_PAINT, str(tmp_path)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stdout.splitlines()
    assert lines[-1] == "ALIVE"
    for fmt in ("png", "svg"):
        assert f"REFUSED {fmt} False drawing the view failed" in "\n".join(lines)
    assert list(tmp_path.iterdir()) == []


def test_export_command_writes_svg_and_png_without_a_display(app, tmp_path):
    path = tmp_path / "run.npz"
    save_run(synthetic_history(depth=2, n_steps=150), path)
    env = {k: v for k, v in os.environ.items()
           if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    svg, png = tmp_path / "heat.svg", tmp_path / "sig.png"
    script = ("import sys; from vgrad_gui import cli, export_cmd; "
              "sys.exit(cli.main(sys.argv[1:]) if 'export' in cli.SUBCOMMANDS "
              "else export_cmd.main(sys.argv[2:]))")
    done = subprocess.run([sys.executable, "-c", script, "export", str(path), "--view",
                           "heatmap", "--format", "svg", "-o", str(svg)],
                          capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    root = parse_svg(svg)
    assert groups(root, "ImageItem")  # the map itself
    texts = [t.text for t in root.iter(f"{SVG}text") if t.text]
    assert any("— step 150" in t for t in texts)
    # PNG in this process (Qt is already up): the format from the suffix, the scale applied.
    assert export_cmd.main([str(path), "--view", "signal", "-o", str(png), "--scale", "2",
                            "--step", "120"]) == 0
    image = QImage(str(png))
    assert (image.width(), image.height()) == (1600, 1000)
