"""The network diagram's unit count ("32 units") stays clear of the residual shortcuts' arcs,
which run over the columns from the first hidden one on (the residual preset in a compare
panel wrote the arcs across it)."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QFontMetricsF

from tests.core.test_workspace import BASE, run
from tests.qt.test_view_turns import _shown
from vgrad_gui.core.workspace import Workspace
from vgrad_gui.qt import theme
from vgrad_gui.qt.clock import FrameClock
from vgrad_gui.qt.plots.network import NetworkDiagramView


@pytest.mark.parametrize("size", [(426, 217), (600, 320), (1200, 520)])
@pytest.mark.parametrize("residual", [False, True])
def test_the_unit_count_is_clear_of_every_arc(qtbot, size, residual):
    workspace = Workspace()
    workspace.add(run(1, BASE.replace(residual=residual), steps=20))
    view = _shown(qtbot, NetworkDiagramView(workspace, FrameClock()), size)
    xs, ys, r = view._geometry()
    rect, align = view.count_rect(1, xs, ys, r)
    text = QFontMetricsF(theme.font(0.8)).horizontalAdvance(f"{view.widths[1]} units")
    right_aligned = bool(align & Qt.AlignmentFlag.AlignRight)
    assert right_aligned == residual  # beside the arcs, or centred over the column
    left = rect.right() - text if right_aligned else rect.center().x() - text / 2
    drawn = QRectF(left, rect.top(), text, rect.height())
    assert drawn.left() >= 0 and drawn.right() <= view.width()
    assert view.residual == residual
    arcs = [view.arc_rect(i, xs, ys) for i in range(2, len(view.widths) - 1)] if residual \
        else []
    for arc in arcs:
        upper = QRectF(arc.left(), arc.top(), arc.width(), arc.height() / 2)  # what is drawn
        assert not drawn.intersects(upper), (drawn, upper)
    view.release()


@pytest.mark.parametrize("height", [100, 120, 150, 217, 320])
def test_the_units_end_above_the_column_names_in_a_short_panel(qtbot, height):
    """Two runs side by side at 1280 x 720 leave each diagram ~110 px: the legend line gives
    its room to the units, which used to run under the column names."""
    workspace = Workspace()
    workspace.add(run(1, BASE, steps=20))
    view = _shown(qtbot, NetworkDiagramView(workspace, FrameClock()), (430, height))
    xs, ys, r = view._geometry()
    names_top = view.height() - 44  # where the column names are written
    assert max(y for col in ys for y in col) + r <= names_top
    count, _ = view.count_rect(1, xs, ys, r)
    assert count.top() >= 0
    if not view.shows_legend():
        assert height < 160
    else:
        # Under the legend line (6-26 px); the count is centred in an 18 px box, its
        # glyphs ~3 px inside it.
        assert count.top() >= 26 - 3
    view.release()
