"""The network builder: one editor per config field (made from the spec's field table), a
preset picker with its lesson, a schematic, and inline validation. Emits ``configChanged``
(debounced) with a valid Config, ``validityChanged`` so Start can follow, and
``problemsChanged`` (with ``problem_summary()``) so the window can say what to fix."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtGui import QFont, QGuiApplication, QResizeEvent, QWheelEvent
from PySide6.QtWidgets import (
    QAbstractScrollArea,
    QAbstractSpinBox,
    QApplication,
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QLabel,
    QScrollArea,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)
from shiboken6 import isValid

from vgrad_gui.core.presets import Preset, all_presets
from vgrad_gui.core.spec import FIELD_BY_NAME, RULES, Config, Field, validate_each
from vgrad_gui.qt import theme
from vgrad_gui.qt.schematic import NetworkSchematic

GROUPS = {
    "Network": ("depth", "width", "activation", "init", "norm", "residual"),
    "Training": ("optimizer", "lr", "batch_size", "steps", "device"),
    "Data": ("dataset", "samples", "noise", "seed"),
}
CUSTOM = "Custom settings"
# Keys a cross-field rule marks only because another key depends on them: the summary names
# the key the rule is about first ("Batch size", not "Normalisation").
SECONDARY = frozenset(other for rule in RULES for other in rule.others)


class WheelGuard(QObject):
    """The wheel scrolls ``area``; it changes a value only in the editor the user clicked into
    (issue 11: scrolling past the optimizer turned sgd into adam)."""

    def __init__(self, area: QAbstractScrollArea) -> None:
        super().__init__(area)
        self.area = area

    def guard(self, editor: QWidget) -> None:
        editor.setFocusPolicy(Qt.FocusPolicy.StrongFocus)  # never focused by the wheel
        editor.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if (event.type() == QEvent.Type.Wheel and isinstance(watched, QWidget)
                and not watched.hasFocus()):
            assert isinstance(event, QWheelEvent)
            self.area.wheelEvent(event)
            return True
        return super().eventFilter(watched, event)


def summarise(problems: dict[str, str], order: list[str]) -> str:
    """One line naming the first setting to fix (in ``order``) and why; "" when none."""
    if not problems:
        return ""
    keys = sorted(problems, key=lambda k: (k in SECONDARY,
                                           order.index(k) if k in order else len(order)))
    first = keys[0]
    label = FIELD_BY_NAME[first].label if first in FIELD_BY_NAME else first
    # A broken rule marks both its keys, but it is one thing to fix.
    count = sum(k not in SECONDARY for k in keys) or 1
    more = f" (and {count - 1} more)" if count > 1 else ""
    return f"Fix '{label}': {problems[first]}{more}"


def make_editor(field: Field) -> QWidget:
    """The editor of one config field, with its range and tooltip (signals unconnected)."""
    editor: QWidget
    if field.kind == "choice":
        box = QComboBox()
        box.addItems(list(field.choices))
        box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        box.setMinimumContentsLength(8)
        editor = box
    elif field.kind == "bool":
        check = QCheckBox("on")
        editor = check
    elif field.kind == "int":
        spin = QSpinBox()
        spin.setRange(int(field.minimum or 0), int(min(field.maximum or 2**31 - 1,
                                                       2**31 - 1)))
        spin.setGroupSeparatorShown(field.name in ("steps", "samples"))
        if field.name == "steps":
            spin.setSingleStep(500)
        editor = spin
    else:
        dspin = QDoubleSpinBox()
        dspin.setDecimals(5 if field.name == "lr" else 3)
        # The low end is 0 even where 0 is not allowed, so the error can be shown inline.
        dspin.setRange(0.0, float(field.maximum or 1e9))
        dspin.setStepType(QAbstractSpinBox.StepType.AdaptiveDecimalStepType)
        dspin.setSingleStep(0.05)
        editor = dspin
    editor.setToolTip(f"<b>{field.label}</b> (<code>{field.name}</code>)<br>{field.help}"
                      f"<br><i>Allowed: {field.allowed()}</i>")
    editor.setObjectName(f"field_{field.name}")
    return editor


class BuilderPanel(QScrollArea):
    configChanged = Signal(object)  # Config
    validityChanged = Signal(bool)
    problemsChanged = Signal(dict)  # {field name: message}; empty when every setting is valid
    editingDone = Signal()  # an editor finished editing (focus may go back to the views)

    def __init__(self, parent: QWidget | None = None, debounce_ms: int = 300) -> None:
        super().__init__(parent)
        self.setWidgetResizable(True)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        body = QWidget()
        self._body = body
        self.setWidget(body)
        outer = QVBoxLayout(body)
        outer.setContentsMargins(8, 8, 8, 8)
        outer.setSpacing(8)
        self.presets: list[Preset] = list(all_presets())
        self.available_devices: list[str] | None = None
        self._emitting = False
        self._valid = True
        self._problems: dict[str, str] = {}

        lesson = QGroupBox("Lesson")
        lesson_layout = QVBoxLayout(lesson)
        self.preset_box = QComboBox()
        self.preset_box.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.preset_box.setMinimumContentsLength(12)
        self.preset_box.addItem(CUSTOM)
        for p in self.presets:
            self.preset_box.addItem(p.title, p.name)
        self.preset_box.setToolTip("Load a preset: a network that shows one cause or one fix "
                                   "of vanishing (or exploding) gradients.")
        self.preset_box.activated.connect(self._preset_chosen)
        self.wheel_guard = WheelGuard(self)
        self.wheel_guard.guard(self.preset_box)
        self.lesson_text = QLabel("")
        self.lesson_text.setObjectName("lesson")
        self.lesson_text.setWordWrap(True)
        self.lesson_text.setTextFormat(Qt.TextFormat.RichText)
        lesson_layout.addWidget(self.preset_box)
        lesson_layout.addWidget(self.lesson_text)
        outer.addWidget(lesson)

        self.editors: dict[str, QWidget] = {}
        self.labels: dict[str, QLabel] = {}
        self._forms: list[QFormLayout] = []
        self.errors: dict[str, QLabel] = {}
        self.schematic = NetworkSchematic()
        for title, names in GROUPS.items():
            outer.addWidget(self._group(title, names))
            if title == "Network":
                outer.addWidget(self.schematic)
        self.notice = QLabel("")
        self.notice.setObjectName("fieldError")
        self.notice.setWordWrap(True)
        self.notice.hide()
        outer.addWidget(self.notice)
        outer.addStretch(1)

        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(debounce_ms)
        self._debounce.timeout.connect(self._emit_config)
        self.set_config(Config(), emit=False)
        app = QApplication.instance()
        if isinstance(app, QGuiApplication):
            # With an application style sheet, QApplication.setFont reaches only top-level
            # windows: the panel's labels and editors would keep their old size (issue 11).
            app.fontChanged.connect(self.update_fonts)
        theme.notifier.changed.connect(self._restyle)

    def _restyle(self) -> None:
        """After a theme or text-size change (the schematic paints in the theme's colours)."""
        if isValid(self):
            self.update_fonts()
            self.schematic.update()

    # -- wheel and fonts ----------------------------------------------------------------------
    def event(self, event: QEvent) -> bool:
        if event.type() == QEvent.Type.ApplicationFontChange:
            self.update_fonts()
        return super().event(event)

    def update_fonts(self) -> None:
        """Give every label, title and editor the app's current text size (after Ctrl++/-)."""
        size = theme.point_size()
        body = self._body
        widgets = [body, *body.findChildren(QWidget)]
        widgets += [box.view() for box in body.findChildren(QComboBox)]
        for w in widgets:
            f = QFont(w.font())
            if f.pointSizeF() != size:
                f.setPointSizeF(size)
                w.setFont(f)
        self.schematic.update_fonts()
        self._fit_rows()

    def _fit_rows(self) -> None:
        # A narrow dock (1024x768, large text) puts every label above its editor rather than
        # cutting the editors off at the right edge; all rows alike, so the form stays tidy.
        needed = max(max(self.labels[n].sizeHint().width() for n in names)
                     + max(self.editors[n].minimumSizeHint().width() for n in names)
                     for names in GROUPS.values())
        needed += 48  # form spacing, group frame and margins, panel margins
        policy = (QFormLayout.RowWrapPolicy.WrapAllRows if self.viewport().width() < needed
                  else QFormLayout.RowWrapPolicy.DontWrapRows)
        for form in self._forms:
            if form.rowWrapPolicy() != policy:
                form.setRowWrapPolicy(policy)

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._fit_rows()

    # -- editors ------------------------------------------------------------------------------
    def _group(self, title: str, names: tuple[str, ...]) -> QGroupBox:
        group = QGroupBox(title)
        form = QFormLayout(group)
        self._forms.append(form)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        for name in names:
            field = FIELD_BY_NAME[name]
            editor = make_editor(field)
            self._connect(editor)
            label = QLabel(field.label)
            label.setToolTip(field.help)
            label.setBuddy(editor)
            error = QLabel("")
            error.setObjectName("fieldError")
            error.setWordWrap(True)
            error.hide()
            holder = QWidget()
            col = QVBoxLayout(holder)
            col.setContentsMargins(0, 0, 0, 0)
            col.setSpacing(1)
            col.addWidget(editor)
            col.addWidget(error)
            form.addRow(label, holder)
            self.editors[name] = editor
            self.labels[name] = label
            self.errors[name] = error
        return group

    def _connect(self, editor: QWidget) -> None:
        if isinstance(editor, QComboBox):
            editor.currentIndexChanged.connect(self._edited)
        elif isinstance(editor, QCheckBox):
            editor.toggled.connect(self._edited)
        elif isinstance(editor, (QSpinBox, QDoubleSpinBox)):
            editor.valueChanged.connect(self._edited)
            editor.editingFinished.connect(self.editingDone)
        if not isinstance(editor, QCheckBox):
            self.wheel_guard.guard(editor)

    def _value(self, name: str) -> Any:
        editor = self.editors[name]
        if isinstance(editor, QComboBox):
            return editor.currentText()
        if isinstance(editor, QCheckBox):
            return editor.isChecked()
        if isinstance(editor, QSpinBox):
            return editor.value()
        assert isinstance(editor, QDoubleSpinBox)
        return round(editor.value(), editor.decimals())

    def values(self) -> dict[str, Any]:
        return {name: self._value(name) for name in self.editors}

    def set_config(self, config: Config, emit: bool = True) -> None:
        """Show ``config`` in the editors (one change, not one per field)."""
        self._emitting = True
        try:
            for name, value in config.to_dict().items():
                editor = self.editors[name]
                editor.blockSignals(True)
                if isinstance(editor, QComboBox):
                    editor.setCurrentText(value)
                elif isinstance(editor, QCheckBox):
                    editor.setChecked(value)
                else:
                    editor.setValue(value)  # type: ignore[attr-defined]
                editor.blockSignals(False)
        finally:
            self._emitting = False
        self._validate()
        if emit:
            self._debounce.stop()
            self._emit_config()

    def set_available_devices(self, devices: list[str]) -> None:
        self.available_devices = devices
        box = self.editors["device"]
        assert isinstance(box, QComboBox)
        for i in range(box.count()):
            name = box.itemText(i)
            ok = name == "auto" or name in devices
            box.setItemData(i, None if ok else f"{name} is not available on this machine",
                            Qt.ItemDataRole.ToolTipRole)
        self._validate()

    # -- validation ---------------------------------------------------------------------------
    def _edited(self) -> None:
        if self._emitting:
            return
        self._validate()
        self._debounce.start()

    def problems(self) -> dict[str, str]:
        values = self.values()
        problems = validate_each(values)
        device = values["device"]
        if (self.available_devices is not None and device != "auto"
                and device not in self.available_devices):
            problems["device"] = (f"{device} is not available on this machine; choose "
                                  + " or ".join(["auto", *self.available_devices]))
        return problems

    def _validate(self) -> bool:
        problems = self.problems()
        for name, label in self.errors.items():
            text = problems.get(name, "")
            label.setText(text)
            label.setVisible(bool(text))
            editor = self.editors[name]
            editor.setProperty("invalid", bool(text))
            editor.style().unpolish(editor)
            editor.style().polish(editor)
        if problems != self._problems:
            self._problems = dict(problems)
            self.problemsChanged.emit(dict(problems))
        valid = not problems
        if valid:
            config = Config.from_dict(self.values())
            self.schematic.set_config(config)
            self._sync_preset(config)
            self._notice(config)
        if valid != self._valid:
            self._valid = valid
            self.validityChanged.emit(valid)
        return valid

    def _notice(self, config: Config) -> None:
        train = int(config.samples * 0.8) if config.dataset != "digits" else 1437
        text = ""
        if config.batch_size > train:
            text = (f"Batch size {config.batch_size} is larger than the {train} training "
                    "examples; each step will use all of them.")
        self.notice.setText(text)
        self.notice.setVisible(bool(text))

    def problem_summary(self) -> str:
        """One line naming the setting to fix and why, for the window's banner or status bar
        (e.g. "Fix 'Batch size': got 1; allowed: at least 2 when norm is ..."); empty when
        every setting is valid."""
        return summarise(self._problems, list(self.editors))

    @property
    def valid(self) -> bool:
        return self._valid

    def config(self) -> Config | None:
        return Config.from_dict(self.values()) if self._valid else None

    def _emit_config(self) -> None:
        config = self.config()
        if config is not None:
            self.configChanged.emit(config)

    # -- presets ------------------------------------------------------------------------------
    def _preset_chosen(self, index: int) -> None:
        name = self.preset_box.itemData(index)
        if name:
            self.apply_preset(name)

    def apply_preset(self, name: str) -> None:
        for p in self.presets:
            if p.name == name:
                self.set_config(p.config)
                return
        raise KeyError(name)

    def _sync_preset(self, config: Config) -> None:
        # A lesson stays a lesson when only its length, seed or device change.
        def same(p: Preset) -> bool:
            return p.config == config.replace(steps=p.config.steps, seed=p.config.seed,
                                              device=p.config.device)

        match = next((p for p in self.presets if same(p)), None)
        self.preset_box.blockSignals(True)
        self.preset_box.setCurrentIndex(0 if match is None else
                                        self.presets.index(match) + 1)
        self.preset_box.blockSignals(False)
        if match is None:
            self.lesson_text.setText("Your own network. Pick a lesson above to start from one "
                                     "of the classic cases, then change one thing at a time.")
        else:
            self.lesson_text.setText(f"<b>{match.summary}</b><br><br>{match.watch}")

    @property
    def preset_name(self) -> str | None:
        return self.preset_box.currentData()
