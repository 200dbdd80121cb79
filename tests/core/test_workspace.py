import pytest

from tests.core.test_run_model import block, names
from vgrad_gui.core.run import Run
from vgrad_gui.core.spec import Config
from vgrad_gui.core.workspace import (
    MAX_LABEL_CHARS,
    MAX_RUNS,
    Cursor,
    Workspace,
    WorkspaceError,
    auto_label,
    describe,
    differences,
)

BASE = Config(depth=10, width=32, activation="sigmoid")


def run(run_id: int, config: Config = BASE, steps: int = 0) -> Run:
    r = Run.from_config(config, names(config.depth), run_id=run_id)
    if steps:
        r.append(block(1, steps, config.depth + 1))
    return r


@pytest.mark.parametrize("changes, label", [
    ({}, "same as A"),
    ({"activation": "relu", "init": "he_normal"}, "ReLU + He init"),
    ({"norm": "batch"}, "batch norm"),
    ({"depth": 30}, "depth 30"),
    ({"residual": True}, "residual"),
    ({"lr": 0.01}, "lr 0.01"),
    ({"activation": "relu"}, "ReLU"),
    ({"init": "xavier_uniform", "depth": 30}, "Xavier init + depth 30"),
    ({"device": "cpu"}, "same as A"),
])
def test_auto_label_names_what_differs(changes, label):
    assert auto_label(BASE, BASE.replace(**changes)) == label


def test_auto_label_is_short_and_counts_what_does_not_fit():
    other = BASE.replace(activation="leaky_relu", init="orthogonal", norm="layer",
                         residual=True, depth=31, lr=0.003, seed=5)
    label = auto_label(BASE, other)
    assert len(label) <= MAX_LABEL_CHARS
    assert label.startswith("leaky ReLU") and label.endswith(")")
    shown = label.count(" + ") + 1
    assert int(label.rsplit("(+", 1)[1][:-1]) == len(differences(BASE, other)) - shown


def test_differences_follow_the_priority_order():
    other = BASE.replace(lr=0.5, activation="tanh", depth=3)
    assert differences(BASE, other) == ["activation", "depth", "lr"]


def test_describe_names_run_a():
    assert describe(BASE) == "sigmoid"
    assert describe(BASE.replace(activation="relu", init="he_normal")) == "ReLU + He init"
    assert describe(BASE.replace(norm="batch")) == "sigmoid + batch norm"


def test_cursor_follows_live_or_clamps_a_fixed_step():
    c = Cursor()
    short, long_ = run(1, steps=50), run(2, steps=200)
    empty = run(3)
    assert c.follows_live and c.step_for(short) == 50 and c.step_for(long_) == 200
    c.set_step(120)
    assert not c.follows_live
    assert (c.step_for(short), c.step_for(long_), c.step_for(empty)) == (50, 120, 0)
    c.set_step(0)
    assert c.step_for(long_) == 1  # the first step it recorded
    c.follow_live()
    assert c.step_for(long_) == 200


def test_cursor_callbacks_and_version_fire_only_on_change():
    c = Cursor()
    seen = []
    c.connect(seen.append)
    c.set_step(5)
    c.set_step(5)
    c.follow_live()
    c.follow_live()
    assert [x.kind for x in seen] == ["cursor", "cursor"] and c.version == 2
    c.disconnect(seen.append)
    c.set_step(7)
    assert len(seen) == 2


def test_workspace_holds_one_to_four_runs_with_stable_slots():
    ws = Workspace()
    seen = []
    ws.connect(seen.append)
    for i in range(MAX_RUNS):
        assert ws.add(run(10 + i)) == i
    with pytest.raises(WorkspaceError, match="at most 4"):
        ws.add(run(99))
    other = Workspace()
    other.add(run(10))
    with pytest.raises(WorkspaceError, match="already"):
        other.add(run(10))
    ws.remove(11)
    assert ws.slot(10) == 0 and ws.slot(12) == 2 and ws.slot(13) == 3
    assert ws.letter(13) == "D"
    assert ws.add(run(20)) == 1  # the freed slot
    assert ws.ids == [10, 12, 13, 20]
    ws.replace(12, run(30))
    assert ws.ids == [10, 30, 13, 20] and ws.slot(30) == 2 and 12 not in ws
    with pytest.raises(WorkspaceError, match="no run 12"):
        ws.get(12)
    assert (seen[-1].run_id, seen[-1].old_id) == (30, 12)
    kinds = [c.kind for c in seen]
    assert kinds == ["added"] * 4 + ["removed", "added", "replaced"]
    assert ws.version == len(seen)


def test_workspace_version_bumps_on_cursor_and_data_changes():
    ws = Workspace()
    a = run(1, steps=10)
    ws.add(a)
    v = ws.version
    ws.cursor.set_step(3)
    assert ws.version == v + 1
    assert ws.steps() == {1: 3}
    before = ws.data_version()
    a.append(block(11, 5, 11))
    assert ws.data_version() != before


def test_relabel_names_each_run_against_run_a():
    ws = Workspace()
    ws.add(run(1))
    ws.add(run(2, BASE.replace(activation="relu", init="he_normal")))
    ws.add(run(3, BASE.replace(norm="batch")))
    ws.relabel()
    assert [r.label for r in ws.runs] == ["sigmoid", "ReLU + He init", "batch norm"]
    ws.remove(1)  # the next run becomes A
    ws.relabel()
    assert [r.label for r in ws.runs] == ["ReLU + He init", "sigmoid (+2)"]


def test_a_broken_listener_does_not_silence_the_others():
    ws = Workspace()
    seen = []

    def broken(change):
        raise RuntimeError("view bug")

    ws.connect(broken)
    ws.connect(seen.append)
    with pytest.raises(RuntimeError):
        ws.add(run(1))
    assert len(seen) == 1 and len(ws) == 1
