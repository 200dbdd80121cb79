"""Compare mode in the window: runs trained together in lockstep, each on screen in its own
panel; a run changed, reset or removed while the others go on; saved comparisons and digits
runs reopened as they were."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from tests.qt.conftest import SMALL, configure
from vgrad_gui.core import worker as w
from vgrad_gui.core.runfile import load_runs

RELU = SMALL.replace(activation="relu", init="he_normal")


def grad_rows(run) -> np.ndarray:
    _steps, rows = run.history.steps.raw(run.history.cols("steps", "grad_norm"))
    return rows


def leave_compare(window) -> None:
    if window.session.comparing:
        window.toggle_compare()


def wait_built(qtbot, window, lanes: int) -> None:
    qtbot.waitUntil(lambda: len(window.workspace) == lanes and all(
        lane.shown is not None and lane.shown.run_id == lane.run_id
        and lane.state in ("ready", "paused", "finished") for lane in window.session.lanes),
        timeout=30_000)


def test_compare_trains_runs_in_lockstep_and_a_compared_run_equals_it_trained_alone(
        app, qtbot, window):
    leave_compare(window)
    configure(app, window, SMALL)
    window.session.step(25)
    qtbot.waitUntil(lambda: window.session.run.history.step == 25, timeout=20_000)
    alone = grad_rows(window.session.run).copy()

    window.toggle_compare()  # C: B is a copy of A, selected in the builder
    assert window.lane == 1 and len(window.session.lanes) == 2
    window.builder.set_config(RELU)  # the builder now edits B only
    wait_built(qtbot, window, 2)
    assert window.session.lanes[1].config == RELU
    assert window.session.lanes[0].config == SMALL
    window.session.reset()  # both from step 0, together
    wait_built(qtbot, window, 2)
    window.session.step(25)
    qtbot.waitUntil(lambda: all(r.history.step == 25 for r in window.workspace.runs),
                    timeout=30_000)
    a, b = window.workspace.runs
    np.testing.assert_array_equal(grad_rows(a), alone)  # bit-identical to A alone
    assert not np.array_equal(grad_rows(b)[:, :2], alone[:, :2])
    assert len(window.panels.panels) == 2 and window.panels.headline.isVisible()
    # Computed from the data: names both runs and the step (or says they are alike).
    qtbot.waitUntil(lambda: "step 25" in window.panels.headline.text(), timeout=10_000)
    assert "ReLU + He init" in window.panels.headline.text()
    assert "A (tanh + Xavier init)" in window.panels.headline.text()
    assert b.label and "ReLU" in b.label
    leave_compare(window)
    assert len(window.workspace) == 1 and len(window.panels.panels) == 1


def test_changing_removing_a_run_mid_training_leaves_the_other_going(app, qtbot, window):
    leave_compare(window)
    configure(app, window, SMALL.replace(steps=100_000))
    window.add_run(RELU.replace(steps=100_000))
    wait_built(qtbot, window, 2)
    window.speed.setValue(len(window.speed_values()) - 1)
    window.start_training()
    qtbot.waitUntil(lambda: all(r.history.step > 30 for r in window.workspace.runs),
                    timeout=30_000)
    a = window.workspace.runs[0]
    old_b = window.workspace.runs[1]
    # Change B while both train: B is rebuilt under a new id, A never stops.
    window.select_lane(1)
    window.builder.set_config(RELU.replace(steps=100_000, width=12))
    qtbot.waitUntil(lambda: window.workspace.runs[1] is not old_b, timeout=30_000)
    before = a.history.step
    qtbot.waitUntil(lambda: a.history.step > before + 20, timeout=30_000)
    assert window.workspace.runs[0] is a
    # A late message for the replaced run is dropped.
    rows = np.zeros((1, 2 * 5 + 2))
    late = w.Rows(old_b.run_id, np.array([10**6]), rows, np.empty(0, np.int64),
                  np.empty((0, 1)), np.empty(0, np.int64), np.empty((0, 2)), 0.0, 0.0, 0.0)
    window.session._handle(late)
    assert old_b.history.step < 10**6
    assert all(r.history.step < 10**6 for r in window.workspace.runs)
    # Remove B mid-training: A goes on, B's panel goes.
    window.remove_run()
    assert len(window.workspace) == 1 and window.lane == 0
    before = a.history.step
    qtbot.waitUntil(lambda: a.history.step > before + 20, timeout=30_000)
    qtbot.waitUntil(lambda: len(window.panels.panels) == 1, timeout=5_000)
    window.session.pause()
    qtbot.waitUntil(lambda: window.session.state == "paused", timeout=10_000)


MAKE = """
import sys
from vgrad_gui.core.lockstep import data_sample
from vgrad_gui.core.run import Run
from vgrad_gui.core.runfile import save_runs
from vgrad_gui.core.spec import Config
from vgrad_gui.core.trainer import Trainer
runs = []
for cfg in (Config(depth=3, width=8, dataset="digits", steps=100),
            Config(depth=3, width=8, activation="relu", init="he_normal", steps=100)):
    tr = Trainer(cfg)
    run = Run.from_config(cfg, tr.layer_names, tr.probe.inactive_kind,
                          input_dim=tr.data.input_dim, n_classes=tr.data.n_classes)
    if tr.data.input_dim == 2:
        run.set_data(data_sample(tr))
    run.append(tr.run_block(20))
    runs.append(run)
save_runs(runs[:1], sys.argv[1] + "/digits.npz")
save_runs(runs, sys.argv[1] + "/pair.npz")
"""


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    folder = tmp_path_factory.mktemp("compare")
    subprocess.run([sys.executable, "-c", MAKE, str(folder)], check=True, timeout=300)
    return folder


def test_a_digits_run_reopens_with_its_true_shape(app, qtbot, window, saved):
    leave_compare(window)
    window.open_run(str(saved / "digits.npz"))
    qtbot.waitUntil(lambda: window.session.state == "viewing", timeout=20_000)
    run = window.session.run
    assert (run.input_dim, run.n_classes) == (64, 10)
    qtbot.waitUntil(lambda: window.diagram.run is run, timeout=5_000)
    window.diagram.grab()
    assert window.diagram.widths[0] == 64 and window.diagram.widths[-1] == 10


def test_a_saved_comparison_reopens_side_by_side_and_saves_as_one_file(app, qtbot, window,
                                                                       saved, tmp_path):
    window.open_run(str(saved / "pair.npz"))
    qtbot.waitUntil(lambda: window.session.state == "viewing" and len(window.workspace) == 2,
                    timeout=20_000)
    qtbot.waitUntil(lambda: len(window.panels.panels) == 2, timeout=5_000)
    assert [r.input_dim for r in window.workspace.runs] == [64, 2]
    assert window.workspace.runs[1].data is not None  # the 2-D run's data sample came back
    out = tmp_path / "again.npz"
    assert window.save_run(str(out))
    again = load_runs(out)
    assert len(again) == 2
    for a, b in zip(again, window.workspace.runs, strict=True):
        np.testing.assert_array_equal(grad_rows(a), grad_rows(b))
    # Start trains the comparison afresh, together.
    window.start_training()
    qtbot.waitUntil(lambda: all(r.live for r in window.workspace.runs), timeout=30_000)
    window.session.pause()
    qtbot.waitUntil(lambda: window.session.state in ("paused", "finished"), timeout=10_000)
    leave_compare(window)


def test_the_command_line_refuses_a_comparison_it_cannot_open(capsys):
    from vgrad_gui.cli import main

    assert main(["--compare", "relu"]) == 2
    assert "compare 2 to 4" in capsys.readouterr().err
    assert main(["--compare", "relu", "nonesuch"]) == 2
    assert "nonesuch" in capsys.readouterr().err


def test_a_setup_copied_and_pasted_opens_the_same_comparison(app, qtbot, window):
    from PySide6.QtGui import QGuiApplication

    from vgrad_gui.core.setups import from_string
    from vgrad_gui.qt import setup_actions

    leave_compare(window)
    configure(app, window, SMALL)
    window.add_run(RELU)
    wait_built(qtbot, window, 2)
    window.docks["health"].hide()
    setup_actions.copy_setup(window)
    text = QGuiApplication.clipboard().text()
    assert text.startswith("vgrad1:") and len(text) < 120
    shared = from_string(text)
    assert shared.runs == (SMALL, RELU) and "health" in shared.hidden_views
    leave_compare(window)
    window.docks["health"].show()
    configure(app, window, SMALL.replace(depth=6))
    setup_actions.paste_setup(window)
    wait_built(qtbot, window, 2)
    assert [lane.config for lane in window.session.lanes] == [SMALL, RELU]
    assert window.docks["health"].isHidden()
    window.docks["health"].show()
    QGuiApplication.clipboard().setText("vgrad1:garbage!")
    setup_actions.paste_setup(window)  # a damaged text: one message, nothing changes
    assert "setup string" in window.last_message.text()
    window.last_message.close()
    assert [lane.config for lane in window.session.lanes] == [SMALL, RELU]
    leave_compare(window)


def test_the_command_line_refuses_a_damaged_setup(capsys):
    from vgrad_gui.cli import main

    assert main(["--setup", "vgrad1:AAAA"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("vgrad-gui: error: setup string") and err.count("\n") == 1
