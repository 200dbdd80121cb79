"""The builder panel edits a config, validates it inline and gates Start."""

from PySide6.QtWidgets import QCheckBox, QComboBox, QDoubleSpinBox, QSpinBox

from vgrad_gui.core.presets import get_preset
from vgrad_gui.core.spec import FIELDS, Config
from vgrad_gui.qt.builder_panel import CUSTOM, BuilderPanel


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
