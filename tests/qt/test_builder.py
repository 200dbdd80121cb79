"""The builder panel edits a config, validates it inline and gates Start."""

from PySide6.QtCore import QEvent, QPoint, QPointF, Qt
from PySide6.QtGui import QFontMetricsF, QWheelEvent
from PySide6.QtWidgets import (
    QApplication,
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QGroupBox,
    QLabel,
    QSpinBox,
)

from vgrad_gui.core.presets import get_preset
from vgrad_gui.core.spec import FIELDS, Config
from vgrad_gui.qt import theme
from vgrad_gui.qt.builder_panel import CUSTOM, BuilderPanel
from vgrad_gui.qt.schematic import NetworkSchematic, fitting_font


def test_every_config_field_has_an_editor_with_a_tooltip(qtbot):
    panel = BuilderPanel(debounce_ms=0)
    qtbot.addWidget(panel)
    assert set(panel.editors) == {f.name for f in FIELDS}
    kinds = {"int": QSpinBox, "float": QDoubleSpinBox, "choice": QComboBox, "bool": QCheckBox}
    for f in FIELDS:
        assert isinstance(panel.editors[f.name], kinds[f.kind])
        assert f.help.split(".")[0] in panel.editors[f.name].toolTip()


def test_round_trip_of_a_config_through_the_editors(qtbot):
    panel = BuilderPanel(debounce_ms=0)
    qtbot.addWidget(panel)
    cfg = Config(depth=17, width=48, activation="gelu", init="orthogonal", norm="layer",
                 residual=True, optimizer="adam", lr=0.003, batch_size=32, dataset="spirals",
                 samples=800, noise=0.2, seed=7, steps=1234)
    with qtbot.waitSignal(panel.configChanged) as sig:
        panel.set_config(cfg)
    assert sig.args[0] == cfg
    assert panel.config() == cfg


def test_invalid_value_is_shown_inline_and_blocks(qtbot):
    panel = BuilderPanel(debounce_ms=0)
    qtbot.addWidget(panel)
    panel.show()
    lr = panel.editors["lr"]
    with qtbot.waitSignal(panel.validityChanged) as sig:
        lr.setValue(0.0)
    assert sig.args == [False]
    assert panel.errors["lr"].isVisible()
    assert "greater than 0" in panel.errors["lr"].text()
    assert panel.config() is None
    with qtbot.waitSignal(panel.validityChanged) as sig:
        lr.setValue(0.01)
    assert sig.args == [True]
    assert not panel.errors["lr"].isVisible()


def test_unavailable_device_is_an_inline_error(qtbot):
    panel = BuilderPanel(debounce_ms=0)
    qtbot.addWidget(panel)
    panel.show()
    panel.set_available_devices(["cpu"])
    panel.editors["device"].setCurrentText("cuda")
    assert not panel.valid
    assert "not available on this machine" in panel.errors["device"].text()


def test_preset_shows_its_lesson_and_editing_makes_it_custom(qtbot):
    panel = BuilderPanel(debounce_ms=0)
    qtbot.addWidget(panel)
    panel.apply_preset("residual")
    assert panel.config() == get_preset("residual").config
    assert panel.preset_name == "residual"
    assert "shortcut" in panel.lesson_text.text()
    panel.editors["steps"].setValue(5000)  # a longer run is still the same lesson
    assert panel.preset_name == "residual"
    panel.editors["depth"].setValue(3)
    assert panel.preset_box.currentText() == CUSTOM
    assert panel.schematic.config.depth == 3


def test_changes_are_debounced_into_one_config(qtbot):
    panel = BuilderPanel(debounce_ms=50)
    qtbot.addWidget(panel)
    seen = []
    panel.configChanged.connect(seen.append)
    for depth in (3, 4, 5, 6):
        panel.editors["depth"].setValue(depth)
    qtbot.waitUntil(lambda: len(seen) == 1)
    qtbot.wait(100)
    assert len(seen) == 1 and seen[0].depth == 6


# -- issue 11's rough edges ---------------------------------------------------------------------
def _wheel_down(widget) -> QWheelEvent:
    centre = QPointF(widget.rect().center())
    return QWheelEvent(centre, QPointF(widget.mapToGlobal(centre.toPoint())), QPoint(),
                       QPoint(0, -120), Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier,
                       Qt.ScrollPhase.NoScrollPhase, False)


def test_the_wheel_scrolls_past_editors_without_changing_them(app, qtbot):
    panel = BuilderPanel(debounce_ms=0)
    qtbot.addWidget(panel)
    panel.resize(360, 300)
    panel.show()
    qtbot.waitExposed(panel)
    bar = panel.verticalScrollBar()
    assert bar.maximum() > 0
    for name in ("optimizer", "depth", "lr", "activation"):
        editor = panel.editors[name]
        panel.ensureWidgetVisible(editor)
        editor.clearFocus()
        assert editor.focusPolicy() == Qt.FocusPolicy.StrongFocus  # no focus by wheel
        before = panel.values()[name]
        position = bar.value()
        if position == bar.maximum():
            bar.setValue(0)
            position = 0
        QApplication.sendEvent(editor, _wheel_down(editor))
        assert panel.values()[name] == before, name
        assert bar.value() > position, name  # the wheel went to the panel


def test_dropdowns_show_their_current_item(app, qtbot):
    """The current row of an open dropdown used to be blank: highlighted-text colour on the
    combo's own background. Its text must now stand out from its background."""
    panel = BuilderPanel(debounce_ms=0)
    qtbot.addWidget(panel)
    panel.show()
    qtbot.waitExposed(panel)
    for box in (panel.editors["activation"], panel.editors["optimizer"], panel.preset_box):
        assert isinstance(box, QComboBox)
        box.setCurrentIndex(1)
        box.showPopup()
        app.processEvents()
        view = box.view()
        image = view.viewport().grab().toImage()
        rect = view.visualRect(view.model().index(1, 0)).intersected(image.rect())
        assert not rect.isEmpty()
        lightness = [image.pixelColor(x, y).lightness()
                     for x in range(rect.left(), rect.right(), 2)
                     for y in range(rect.top(), rect.bottom())]
        box.hidePopup()
        assert max(lightness) - min(lightness) > 100, box.objectName()


def test_problems_are_summarised_for_the_window_both_fields_of_a_rule_marked(qtbot):
    panel = BuilderPanel(debounce_ms=0)
    qtbot.addWidget(panel)
    panel.show()
    seen: list[dict] = []
    panel.problemsChanged.connect(seen.append)
    assert panel.problem_summary() == ""
    panel.editors["batch_size"].setValue(1)
    panel.editors["norm"].setCurrentText("batch")
    assert set(seen[-1]) == {"batch_size", "norm"}
    assert panel.errors["batch_size"].isVisible() and panel.errors["norm"].isVisible()
    summary = panel.problem_summary()
    assert summary.startswith("Fix 'Batch size': ")
    assert "at least 2" in summary and "(and" not in summary and "\n" not in summary
    panel.editors["lr"].setValue(0.0)
    assert set(seen[-1]) == {"batch_size", "norm", "lr"}
    assert panel.problem_summary().endswith("(and 1 more)")
    panel.editors["lr"].setValue(0.01)
    panel.editors["norm"].setCurrentText("none")
    assert seen[-1] == {} and panel.problem_summary() == ""
    assert panel.valid and not panel.errors["norm"].isVisible()


def test_builder_text_follows_the_app_text_size(app, qtbot):
    panel = BuilderPanel(debounce_ms=0)
    qtbot.addWidget(panel)
    panel.show()
    label = panel.findChildren(QGroupBox)[1].findChildren(QLabel)[0]
    watched = [label, panel.findChildren(QGroupBox)[1], panel.editors["depth"],
               panel.editors["activation"], panel.lesson_text]
    before = [w.font().pointSizeF() for w in watched]
    height = panel.schematic.height()
    try:
        theme.set_font_scale(app, 1.5)
        # A style sheet keeps QApplication.setFont from reaching child widgets; the panel
        # follows anyway (and also on the event a window gets).
        QApplication.sendEvent(panel, QEvent(QEvent.Type.ApplicationFontChange))
        app.processEvents()
        after = [w.font().pointSizeF() for w in watched]
        assert all(a >= 1.45 * b for a, b in zip(after, before, strict=True)), after
        assert panel.editors["activation"].view().font().pointSizeF() == after[0]
        assert panel.schematic.height() > height
        theme.set_font_scale(app, 1.0)  # and back (Ctrl+- after Ctrl++)
        app.processEvents()
        assert [w.font().pointSizeF() for w in watched] == before
    finally:
        theme.set_font_scale(app, 1.0)
        app.processEvents()


def test_a_narrow_panel_puts_labels_above_editors_instead_of_cutting_them_off(app, qtbot):
    panel = BuilderPanel(debounce_ms=0)
    qtbot.addWidget(panel)
    panel.show()
    depth, label = panel.editors["depth"], panel.labels["depth"]
    panel.resize(600, 500)
    app.processEvents()
    assert panel.widget().minimumSizeHint().width() <= panel.viewport().width()
    assert label.geometry().right() < panel.editors["depth"].mapTo(
        label.parentWidget(), depth.rect().topLeft()).x()  # side by side
    panel.resize(250, 500)
    app.processEvents()
    assert panel.widget().minimumSizeHint().width() <= panel.viewport().width()
    top = depth.mapTo(label.parentWidget(), depth.rect().topLeft()).y()
    assert label.geometry().bottom() <= top  # the label above its editor


def test_the_wheel_still_changes_the_editor_the_user_clicked_into(app, qtbot):
    panel = BuilderPanel(debounce_ms=0)
    qtbot.addWidget(panel)
    panel.show()
    qtbot.waitExposed(panel)
    panel.activateWindow()
    depth = panel.editors["depth"]
    assert isinstance(depth, QSpinBox)
    depth.setFocus()
    qtbot.waitUntil(depth.hasFocus)
    before = depth.value()
    QApplication.sendEvent(depth, _wheel_down(depth))
    assert depth.value() == before - 1


def test_schematic_words_fit_their_boxes_and_follow_the_text_size(app, qtbot):
    words = ["LReLU", "out", "×26"]
    wide = fitting_font(words, 500, 0.9)
    assert wide.pointSizeF() == theme.point_size(0.9)
    narrow = fitting_font(words, 20, 0.9)
    assert QFontMetricsF(narrow).horizontalAdvance("LReLU") <= 20 or narrow.pointSizeF() == 6
    schematic = NetworkSchematic()
    qtbot.addWidget(schematic)
    schematic.set_config(Config(depth=30, width=256, norm="batch", residual=True,
                                activation="leaky_relu", dataset="digits"))
    schematic.resize(200, schematic.height())
    schematic.show()
    assert not schematic.grab().isNull()  # draws at a narrow width without failing
    height = schematic.height()
    try:
        theme.set_font_scale(app, 1.5)
        schematic.update_fonts()
        assert schematic.height() > height
    finally:
        theme.set_font_scale(app, 1.0)
