"""The step axis labels only as many ticks as fit: a compare panel's heatmap at 1024 × 768 is
~80 pixels wide, and pyqtgraph's own axis printed "5001000 1500" there."""

from __future__ import annotations

from itertools import pairwise

import pyqtgraph as pg
import pytest
from PySide6.QtGui import QImage, QPainter

from vgrad_gui.qt import theme
from vgrad_gui.qt.plots.axes import StepAxis, nice_spacings, step_label


def drawn_labels(qtbot, width: int, lo: float, hi: float) -> list[tuple[float, float, str]]:
    """(left, right, text) of each label the step axis draws, in a plot ``width`` wide."""
    widget = pg.GraphicsLayoutWidget()
    qtbot.addWidget(widget)
    axis = StepAxis()
    plot = widget.addPlot(axisItems={"bottom": axis})
    plot.hideAxis("left")
    theme.style_axis(axis)  # the app's tick font, as every view has it
    plot.setXRange(lo, hi, padding=0)
    widget.resize(width, 160)
    widget.show()
    qtbot.waitExposed(widget)
    image = QImage(8, 8, QImage.Format.Format_ARGB32)
    painter = QPainter(image)
    try:
        _, _, texts = axis.generateDrawSpecs(painter)
    finally:
        painter.end()
    labels = [(rect.left(), rect.right(), text) for rect, _, text in texts]
    return sorted(labels)


@pytest.mark.parametrize("width", [70, 90, 120, 200, 400, 900])
@pytest.mark.parametrize("hi", [10.0, 2_000.0, 37_500.0, 1_000_000.0])
def test_step_labels_never_touch(app, qtbot, width, hi):
    labels = drawn_labels(qtbot, width, 0.0, hi)
    assert labels, "every axis keeps at least one label"
    for (_, right, text), (left, _, following) in pairwise(labels):
        assert right < left, f"{text!r} runs into {following!r} at {width} px"


def test_a_wide_axis_still_labels_several_steps(app, qtbot):
    labels = drawn_labels(qtbot, 600, 0.0, 2_000.0)
    values = [float(text) for _, _, text in labels]
    assert len(values) >= 3
    assert len({b - a for a, b in pairwise(values)}) == 1, values


def test_large_step_counts_read_as_k_and_m():
    assert [step_label(v) for v in (0, 800, 5000, 25_000, 1_500_000, 2e6)] == \
        ["0", "800", "5000", "25k", "1.5M", "2M"]


def test_spacings_are_one_two_five_and_whole_steps():
    first = list(zip(range(7), nice_spacings(0.3), strict=False))
    assert [s for _, s in first] == [1, 2, 5, 10, 20, 50, 100]
    assert next(nice_spacings(130.0)) == 200


def test_a_narrow_axis_still_labels_one_step(app, qtbot):
    """The single-run heatmap dock at 1024 x 768 is ~75 pixels wide: 0-1,250 steps there
    read "500", not nothing."""
    for width in (60, 70, 75, 80, 90):
        for hi in (1_100.0, 1_250.0, 1_375.0, 1_562.0):
            labels = drawn_labels(qtbot, width, 0.0, hi)
            assert len(labels) == 1, (width, hi, labels)
