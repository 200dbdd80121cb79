"""A run saved and reopened draws the same picture as it did live, at the same step: the
diagram, the flow bars, the heatmap, the banner, the boundary, the loss and the signal views
(deep sigmoid, an exploding run that hits NaN, a digits run)."""

from __future__ import annotations

import numpy as np
import pytest

from tests.qt.conftest import configure
from tests.qt.helpers import views_follow
from vgrad_gui.core.presets import get_preset


def settled(qtbot, view) -> None:
    """``view`` shown and drawn for its run's data at its current size."""
    qtbot.waitUntil(lambda: view.is_shown() and view._pending is None
                    and view._seen == view.data_version(), timeout=10_000)


def picture(window, qtbot) -> dict:
    """What each view shows, as numbers and text, each view raised and drawn in turn."""
    qtbot.waitUntil(lambda: views_follow(window), timeout=10_000)
    out: dict = {}
    v = window.views
    for key in ("heatmap", "bars", "loss", "boundary"):
        window.docks[key].show()
        window.docks[key].raise_()
        settled(qtbot, v[key])
        if key == "heatmap":
            image = v[key].image.image
            out[key] = None if image is None else np.asarray(image).copy()
        elif key == "bars":
            out[key] = list(v[key].values)
        elif key == "loss":
            x, y = v[key].train_loss.getData()
            out[key] = (np.asarray(x).copy(), np.asarray(y).copy())
        else:
            b = v[key]._drawn
            out[key] = None if b is None else (b.step, b.classes.copy())
    settled(qtbot, window.diagram)
    settled(qtbot, window.banner)
    out["diagram"] = (window.diagram.step, np.asarray(window.diagram.levels, float),
                      window.diagram.caption)
    out["banner"] = window.banner.headline.text()
    out["shape"] = (window.session.run.input_dim, window.session.run.n_classes)
    return out


def same(a, b) -> None:
    assert a.keys() == b.keys()
    for key in a:
        x, y = a[key], b[key]
        if key == "diagram":
            assert x[0] == y[0] and x[2] == y[2], key
            np.testing.assert_array_equal(x[1], y[1])
        elif key == "heatmap":
            assert (x is None) == (y is None)
            if x is not None:
                np.testing.assert_array_equal(x, y)
        elif key == "boundary":
            assert (x is None) == (y is None), key
            if x is not None:
                assert x[0] == y[0]
                np.testing.assert_array_equal(x[1], y[1])
        elif key == "loss":
            np.testing.assert_array_equal(x[0], y[0])
            np.testing.assert_array_equal(x[1], y[1])
        else:
            assert x == y, key


@pytest.mark.parametrize("preset,steps", [("deep_sigmoid", 150), ("exploding", 60),
                                          ("digits_sigmoid", 120)])
def test_a_reopened_run_draws_what_it_drew_live(app, qtbot, window, tmp_path, preset, steps):
    if window.session.comparing:
        window.toggle_compare()
    window.speed.setValue(len(window.speed_values()) - 1)
    configure(app, window, get_preset(preset).config.replace(steps=steps))
    window.start_training()
    qtbot.waitUntil(lambda: window.session.state in ("finished", "paused"), timeout=60_000)
    live = window.session.run
    if preset == "exploding":
        assert live.history.first_nonfinite_step is not None
    qtbot.wait(700)  # the last boundary snapshot arrives after the last rows
    before = picture(window, qtbot)
    path = tmp_path / f"{preset}.npz"
    assert window.save_run(str(path))
    window.open_run(str(path))
    qtbot.waitUntil(lambda: window.session.state == "viewing", timeout=20_000)
    assert window.session.run is not live
    after = picture(window, qtbot)
    same(before, after)
    if preset == "digits_sigmoid":
        assert after["shape"] == (64, 10)
