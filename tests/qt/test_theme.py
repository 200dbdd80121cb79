"""Issue 11, parts 2 and 4: a light, high-contrast theme switchable at any time; every piece
of text follows Ctrl++ / Ctrl+-; the wheel never edits the builder; invalid settings show in
the banner and the status bar."""

from __future__ import annotations

import re
import string
from types import SimpleNamespace

import pyqtgraph as pg
import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QColor, QPalette, QWheelEvent
from PySide6.QtWidgets import (
    QAbstractSlider,
    QAbstractSpinBox,
    QApplication,
    QComboBox,
    QScrollBar,
    QStatusBar,
    QToolBar,
    QToolButton,
    QWidget,
)

from vgrad_gui.core.workspace import Workspace
from vgrad_gui.qt import theme
from vgrad_gui.qt.builder_panel import BuilderPanel
from vgrad_gui.qt.clock import FrameClock
from vgrad_gui.qt.plots.banner import DiagnosisBanner
from vgrad_gui.qt.status import StatusFields


@pytest.fixture
def restore(app):
    """Every test leaves the app as the others expect it: dark, text at 100%."""
    yield app
    if theme.current() != "dark":
        theme.set_theme(app, "dark")
    theme.set_font_scale(app, 1.0)
    app.processEvents()


def _lightness(colour: QColor | str) -> int:
    return QColor(colour).lightness()


# -- palettes -----------------------------------------------------------------------------------
def test_each_palette_names_the_same_colours_and_the_style_sheet_fills_in(restore):
    app = restore
    assert set(theme.PALETTES["dark"]) == set(theme.PALETTES["light"])
    for name in theme.THEMES:
        theme.set_theme(app, name)
        sheet = theme.stylesheet()
        assert "$" not in sheet, name
        assert "pt;" not in sheet and "font-size" not in sheet  # sizes: the app's font
        assert app.styleSheet() == sheet
        assert theme.current() == name
        assert theme.PALETTES[name]["TEXT"] == theme.TEXT


def test_a_palette_colour_translates_to_the_other_theme_keeping_its_alpha(restore):
    app = restore
    theme.set_theme(app, "light")
    dim = QColor(theme.PALETTES["dark"]["BACKGROUND"])
    dim.setAlpha(200)
    light = theme.translate(dim)
    assert light is not None and light.alpha() == 200
    assert light.name() == theme.PALETTES["light"]["BACKGROUND"]
    assert theme.translate("#0072B2") is None  # a data colour (a class, a run) is left alone
    theme.set_theme(app, "dark")
    assert theme.translate(theme.PALETTES["light"]["ERROR"]).name() == theme.ERROR


def test_light_text_and_status_colours_read_on_the_light_background(restore):
    theme.set_theme(restore, "light")
    background = _lightness(theme.BACKGROUND)
    assert background > 240
    for name in ("TEXT", "TEXT_DIM", "ACCENT", "OK", "WARN", "ERROR"):
        assert background - _lightness(theme.colour(name)) > 110, name


def test_the_heatmap_fades_into_the_background_in_both_themes(restore):
    app = restore
    for name in theme.THEMES:
        theme.set_theme(app, name)
        lut = theme.heat_lut()
        vanished, strong = QColor(*lut[0][:3]), QColor(*lut[theme.HEAT_TOP][:3])
        distance = abs(vanished.lightness() - _lightness(theme.BACKGROUND))
        assert distance < abs(strong.lightness() - _lightness(theme.BACKGROUND)), name
        levels = theme.level_colours()  # the network diagram: level 0 is the vanished end
        assert (abs(levels[0].lightness() - _lightness(theme.BACKGROUND))
                < abs(levels[-1].lightness() - _lightness(theme.BACKGROUND))), name


def test_the_theme_comes_from_the_environment_and_a_bad_name_says_what_is_allowed(
        restore, monkeypatch, capsys):
    app = restore
    monkeypatch.setenv(theme.ENV_THEME, "light")
    theme.apply(app)
    assert theme.current() == "light"
    monkeypatch.setenv(theme.ENV_THEME, "sepia")
    theme.apply(app)
    assert theme.current() == "dark"
    err = capsys.readouterr().err
    assert "'sepia'" in err and "dark, light" in err
    with pytest.raises(ValueError, match="allowed: dark, light"):
        theme.set_theme(app, "sepia")


# -- dropdowns ---------------------------------------------------------------------------------
@pytest.mark.parametrize("name", theme.THEMES)
def test_dropdowns_show_their_current_item_in_both_themes(restore, qtbot, name):
    theme.set_theme(restore, name)
    panel = BuilderPanel(debounce_ms=0)
    qtbot.addWidget(panel)
    panel.show()
    qtbot.waitExposed(panel)
    for box in (panel.editors["activation"], panel.preset_box):
        assert isinstance(box, QComboBox)
        box.setCurrentIndex(1)
        box.showPopup()
        restore.processEvents()
        view = box.view()
        image = view.viewport().grab().toImage()
        for row in (1, 2):  # the current row and another
            rect = view.visualRect(view.model().index(row, 0)).intersected(image.rect())
            lightness = [image.pixelColor(x, y).lightness()
                         for x in range(rect.left(), rect.right(), 2)
                         for y in range(rect.top(), rect.bottom())]
            assert max(lightness) - min(lightness) > 100, (name, box.objectName(), row)
        box.hidePopup()


# -- the builder: the wheel ---------------------------------------------------------------------
def _wheel_down(widget: QWidget) -> QWheelEvent:
    centre = QPointF(widget.rect().center())
    return QWheelEvent(centre, QPointF(widget.mapToGlobal(centre.toPoint())), QPoint(),
                       QPoint(0, -120), Qt.MouseButton.NoButton,
                       Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase, False)


def test_the_wheel_over_any_builder_control_scrolls_the_panel_and_changes_nothing(
        app, qtbot):
    panel = BuilderPanel(debounce_ms=0)
    qtbot.addWidget(panel)
    panel.resize(380, 320)
    panel.show()
    qtbot.waitExposed(panel)
    panel.apply_preset(panel.presets[0].name)
    controls = [w for kind in (QComboBox, QAbstractSpinBox, QAbstractSlider)
                for w in panel.findChildren(kind) if not isinstance(w, QScrollBar)]
    assert len(controls) >= len(panel.editors) - 1  # every editor but the check box
    bar = panel.verticalScrollBar()
    assert bar.maximum() > 0
    values, preset = panel.values(), panel.preset_box.currentIndex()
    scrolled = 0
    for control in controls:
        panel.ensureWidgetVisible(control)
        panel.setFocus()
        if bar.value() == bar.maximum():
            bar.setValue(0)
        position = bar.value()
        # A real wheel turn goes to the child under the pointer (a spin box's line edit),
        # which passes it on to the control; a test's event is never passed on (Qt
        # propagates only real ones), so: the child lets it pass, the control gets it.
        child = control.childAt(control.rect().center())
        if child is not None:
            event = _wheel_down(child)
            QApplication.sendEvent(child, event)
            assert not event.isAccepted(), control.objectName()
        QApplication.sendEvent(control, _wheel_down(control))
        assert panel.values() == values, control.objectName()
        assert panel.preset_box.currentIndex() == preset
        scrolled += bar.value() > position
    assert scrolled == len(controls)  # each turn went to the panel


# -- invalid settings -----------------------------------------------------------------------------
def test_an_invalid_setting_puts_the_banner_and_status_bar_in_an_error_state(restore, qtbot):
    workspace = Workspace()
    banner = DiagnosisBanner(workspace, FrameClock())
    qtbot.addWidget(banner)
    bar = QStatusBar()
    qtbot.addWidget(bar)
    status = StatusFields(bar, SimpleNamespace(run=None))  # type: ignore[arg-type]
    status.show_state("ready")
    builder = BuilderPanel(debounce_ms=0)
    qtbot.addWidget(builder)
    builder.problemsChanged.connect(lambda _: banner.set_invalid(builder.problem_summary()))
    builder.problemsChanged.connect(lambda _: status.show_problems(builder.problem_summary()))
    assert banner.headline.text().startswith("Press Start")
    builder.editors["lr"].setValue(0.0)  # type: ignore[attr-defined]
    summary = builder.problem_summary()
    assert "Learning rate" in summary
    assert banner.headline.text().startswith("Settings invalid") and summary in \
        banner.headline.text()
    assert banner.icon.text() == "●" and theme.ERROR in banner.icon.styleSheet()
    assert "✓" not in banner.icon.text()
    assert status.state.text() == "Settings invalid" and summary in status.grad.text()
    assert status.state.colour().name() == theme.ERROR
    banner.set_message("warning", "Paused at a NaN")  # an app message waits its turn
    assert banner.headline.text().startswith("Settings invalid")
    theme.set_theme(restore, "light")  # and the error state follows the theme
    assert theme.ERROR in banner.icon.styleSheet()
    assert status.state.colour().name() == theme.ERROR
    builder.editors["lr"].setValue(0.01)  # type: ignore[attr-defined]
    assert builder.valid
    assert banner.headline.text() == "Paused at a NaN" and banner.icon.text() == "▲"
    assert status.state.text() == "Ready" and status.state.colour().name() == theme.TEXT


def test_painted_text_in_a_palette_colour_follows_the_theme(restore, qtbot):
    from vgrad_gui.qt.text import PaintedText

    own, dim = PaintedText("a"), PaintedText("b", colour=theme.TEXT_DIM)
    data = PaintedText("c", colour="#0072B2")
    for w in (own, dim, data):
        qtbot.addWidget(w)
    theme.set_theme(restore, "light")
    assert own.colour().name() == theme.TEXT == theme.PALETTES["light"]["TEXT"]
    assert dim.colour().name() == theme.PALETTES["light"]["TEXT_DIM"]
    assert data.colour().name() == "#0072b2"
    size = own.font().pointSizeF()
    theme.set_font_scale(restore, 1.5)
    assert own.font().pointSizeF() == pytest.approx(1.5 * size)


def test_the_style_sheet_template_names_only_palette_colours():
    from importlib import resources

    text = resources.files("vgrad_gui.resources").joinpath("style.qss").read_text("utf-8")
    names = {m.group("named") or m.group("braced")
             for m in string.Template.pattern.finditer(text) if m.group("named")}
    allowed = set(theme.PALETTES["dark"]) | {
        "ARROW_UP", "ARROW_DOWN", "ARROW_UP_OFF", "ARROW_DOWN_OFF", "CHECK"}
    assert names and names <= allowed
    body = text.split("*/", 1)[1]
    assert not re.search(r"#[0-9a-fA-F]{3,8}\b", body)  # every colour comes from a palette


# -- the window (last: the tests above switch themes faster without it) -------------------------
def _axes(window) -> list[pg.AxisItem]:
    return [item for view in window.findChildren(pg.GraphicsView)
            for item in view.scene().items()
            if isinstance(item, pg.AxisItem) and item.isVisible()]


def _look(window) -> dict:
    heatmap = window.views["heatmap"]
    corner = heatmap.graphics.grab().toImage().pixelColor(2, 2).name()
    return {"window": window.palette().color(QPalette.ColorRole.Window).name(),
            "toolbar": window.findChild(QToolBar).grab().toImage().pixelColor(1, 1).name(),
            "plot background": corner,
            "axis pens": {a.pen().color().name() for a in _axes(window)},
            "axis text": {a.textPen().color().name() for a in _axes(window)},
            "legend": window.views["loss"].loss_plot.legend.opts["brush"].color().name(),
            "banner": window.banner.frame.styleSheet(),
            "heat": tuple(theme.heat_lut()[100])}


def test_switching_dark_light_dark_restyles_the_window_and_every_plot_and_back(
        restore, window, qtbot):
    app = restore
    changed: list[str] = []

    def seen() -> None:
        changed.append(theme.current())

    theme.notifier.changed.connect(seen)
    qtbot.waitUntil(lambda: window.session.run is not None)
    dark = _look(window)
    assert dark["axis pens"] == {theme.TEXT_DIM} and dark["axis text"] == {theme.TEXT}
    theme.set_theme(app, "light")
    app.processEvents()
    light = _look(window)
    assert changed == ["light"]
    assert light["window"] == theme.PANEL and _lightness(light["window"]) > 200
    assert _lightness(light["toolbar"]) > 200
    assert _lightness(light["plot background"]) > 240
    assert light["axis pens"] == {theme.TEXT_DIM} and light["axis text"] == {theme.TEXT}
    assert _lightness(light["legend"]) > 200
    assert theme.PANEL_LIGHT in light["banner"]
    assert light["heat"] != dark["heat"]
    theme.set_theme(app, "dark")
    theme.notifier.changed.disconnect(seen)
    app.processEvents()
    assert _look(window) == dark


def _sizes(window) -> dict[str, list[float]]:
    toolbar = window.findChild(QToolBar)
    axes = _axes(window)
    legends = [item for view in window.findChildren(pg.GraphicsView)
               for item in view.scene().items() if isinstance(item, pg.LegendItem)]
    status = window.status
    return {
        "ticks": [a.style["tickFont"].pointSizeF() for a in axes],
        "axis labels": [float(a.labelStyle["font-size"][:-2]) for a in axes
                        if "font-size" in a.labelStyle],
        "legends": [float(label.opts["size"][:-2]) for legend in legends
                    for _sample, label in legend.items if label.opts.get("size")],
        "docks": [d.font().pointSizeF() for d in window.docks.values()],
        "toolbar": [b.font().pointSizeF() for b in toolbar.findChildren(QToolButton)],
        "start": [window.controls.start_button.font().pointSizeF()],
        "status": [w.font().pointSizeF() for w in (status.state, status.step, status.loss,
                                                   status.grad, status.device)]
        + [window.statusBar().font().pointSizeF()],
        "menu": [window.menuBar().font().pointSizeF()],
        "builder": [window.builder.labels["depth"].font().pointSizeF(),
                    window.builder.editors["activation"].font().pointSizeF()],
        "banner": [window.banner.headline.font().pointSizeF()],
    }


def test_ctrl_plus_three_times_enlarges_every_text_and_ctrl_minus_brings_it_back(
        restore, window, qtbot):
    app = restore
    qtbot.waitUntil(lambda: window.session.run is not None)
    before = _sizes(window)
    assert before["ticks"] and before["legends"] and before["axis labels"]
    width = window.status.step.width()
    for _ in range(3):
        window.controls["bigger"].trigger()
    # Start and pause while the text is large: the Start button's look changes with the
    # state, and it once kept its large text after Ctrl+-.
    window.controls["start"].trigger()
    qtbot.waitUntil(lambda: window.session.state != "ready")
    window.controls["start"].trigger()
    qtbot.waitUntil(lambda: window.session.state != "running")
    app.processEvents()
    bigger = _sizes(window)
    for key, sizes in bigger.items():
        assert all(b > 1.4 * a for a, b in zip(before[key], sizes, strict=True)), (key, sizes)
    assert window.status.step.width() > width  # the fields make room for their text
    for _ in range(3):
        window.controls["smaller"].trigger()
    app.processEvents()
    assert theme.font_scale() == 1.0
    after = _sizes(window)
    for key, sizes in after.items():
        assert sizes == pytest.approx(before[key], abs=1e-6), key
    assert window.status.step.width() == width
