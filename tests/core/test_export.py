"""Export (issue 10, item 5): the CSV of each view quotes the numbers the views read (readings,
the history's records) at the step asked for, reads back with numpy and the csv module, marks
decimated rows; the whole-run CSV; the caption; the ``export`` command's CSV end to end and
its one-line errors."""

from __future__ import annotations

import csv
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.core.runfile_kit import synthetic_history
from vgrad_gui import cli, export_cmd
from vgrad_gui.core import export, readings
from vgrad_gui.core.export import ExportError
from vgrad_gui.core.history import RAW_CHUNK, RAW_KEEP, RunHistory
from vgrad_gui.core.run import DataSample, Run
from vgrad_gui.core.runfile import save_run, save_runs
from vgrad_gui.core.spec import Config

HOOKED = "export" in cli.SUBCOMMANDS


def synthetic_run(depth: int = 3, n_steps: int = 300, **kwargs) -> Run:
    return Run.from_history(synthetic_history(depth=depth, n_steps=n_steps), **kwargs)


def read_csv(path: Path) -> tuple[list[str], np.ndarray, list[list[str]]]:
    """Header (csv module), numbers (numpy; texts read as NaN) and the raw text cells."""
    with open(path, newline="", encoding="utf-8") as fh:
        cells = list(csv.reader(fh))
    numbers = np.genfromtxt(path, delimiter=",", skip_header=1, dtype=np.float64, ndmin=2)
    return cells[0], numbers, cells[1:]


def column(header: list[str], numbers: np.ndarray, name: str) -> np.ndarray:
    return numbers[:, header.index(name)]


def grad_columns(header: list[str], numbers: np.ndarray, h: RunHistory,
                 prefix: str = "grad_norm") -> np.ndarray:
    return np.stack([column(header, numbers, f"{prefix}[{n}]") for n in h.layer_names], 1)


# -- the tables ---------------------------------------------------------------------------------
def test_heatmap_csv_reads_back_with_numpy_as_the_history_recorded(tmp_path):
    run = synthetic_run(n_steps=300)
    header, rows = export.view_table(run, "heatmap", 200)
    path = export.write_csv(tmp_path / "heat.csv", header, rows)
    head, numbers, cells = read_csv(path)
    assert head == header and head[:4] == ["step", "first_step", "steps_in_record",
                                           "resolution"]
    h = run.history
    steps, raw = h.steps.raw(h.cols("steps", "grad_norm"))
    np.testing.assert_array_equal(column(head, numbers, "step"), steps[:200])
    np.testing.assert_array_equal(grad_columns(head, numbers, h), raw[:200].astype(np.float64))
    assert {c[3] for c in cells} == {"full"}


def test_decimated_steps_are_bucket_means_marked_in_a_column(tmp_path):
    # Buckets hold one step each until their array fills, then two: fold enough for that.
    n = RAW_KEEP + 3 * RAW_CHUNK + 300
    run = synthetic_run(depth=2, n_steps=n)
    h = run.history
    assert h.steps.decimated
    header, rows = export.view_table(run, "lines")
    path = export.write_csv(tmp_path / "lines.csv", header, rows)
    head, numbers, cells = read_csv(path)
    count = column(head, numbers, "steps_in_record")
    bucket = count > 1
    assert bucket.any() and (~bucket).any()
    assert [c[3] for c in cells] == ["mean" if b else "full" for b in bucket]
    held = h.steps.n_raw
    assert bucket[:-held].all() and not bucket[-held:].any()
    assert count.sum() == n  # every step is in exactly one row
    rec = h.steps.records(h.cols("steps", "grad_norm"))
    np.testing.assert_array_equal(grad_columns(head, numbers, h), rec["mean"])
    np.testing.assert_array_equal(grad_columns(head, numbers, h, "grad_norm_min"),
                                  rec["min"].astype(np.float64))
    np.testing.assert_array_equal(grad_columns(head, numbers, h, "grad_norm_max"),
                                  rec["max"].astype(np.float64))
    assert (grad_columns(head, numbers, h, "grad_norm_max")[bucket]
            > grad_columns(head, numbers, h, "grad_norm_min")[bucket]).all()


def test_bars_csv_quotes_the_readings_of_that_step(tmp_path):
    run = synthetic_run(n_steps=300)
    h = run.history
    for step in (150, 300):
        header, rows = export.view_table(run, "bars", step)
        head, numbers, cells = read_csv(export.write_csv(tmp_path / "bars.csv", header, rows))
        reading = readings.grad_reading(h, step)
        probe = readings.probe_reading(h, step)
        assert reading is not None and probe is not None
        np.testing.assert_array_equal(column(head, numbers, "grad_norm"), reading.norms)
        np.testing.assert_array_equal(column(head, numbers, "ratio_to_output"), reading.ratios)
        np.testing.assert_array_equal(column(head, numbers, "update_ratio"),
                                      probe.values["update_ratio"])
        assert [c[1] for c in cells] == h.layer_names
        assert [c[4] for c in cells] == list(reading.classes)
        assert set(column(head, numbers, "probe_step")) == {probe.step}
        assert probe.step == (100 if step == 150 else 300)


def test_zero_and_nonfinite_gradients_are_written_so_numpy_reads_them_back(tmp_path):
    h = RunHistory(Config(depth=2, width=4), ["hidden 1", "hidden 2", "output"], "saturated")
    rows = np.tile(np.array([[0.0, 1e-3, 0.5, 0, 0, 0, 0.69, 0.5]], np.float32), (30, 1))
    rows[-1, 1] = np.nan
    rows[-1, 0] = np.inf
    h.extend("steps", np.arange(1, 31), rows)
    run = Run.from_history(h)
    header, table = export.view_table(run, "heatmap")
    head, numbers, cells = read_csv(export.write_csv(tmp_path / "z.csv", header, table))
    grads = grad_columns(head, numbers, h)
    assert grads[0, 0] == 0.0 and cells[0][4] == "0.0"
    assert np.isinf(grads[-1, 0]) and cells[-1][4] == "inf"
    assert np.isnan(grads[-1, 1]) and cells[-1][5] == "nan"
    header, table = export.view_table(run, "bars", 29)
    assert [r[4] for r in table] == ["zero", "finite", "finite"]
    assert table[0][3] == 0.0  # ratio of no gradient: 0, never NaN


def test_loss_csv_has_training_rows_and_held_out_values_at_their_steps(tmp_path):
    run = synthetic_run(n_steps=300)
    h = run.history
    header, rows = export.view_table(run, "loss")
    head, numbers, _ = read_csv(export.write_csv(tmp_path / "loss.csv", header, rows))
    assert head[:5] == ["step", "loss", "accuracy", "test_loss", "test_accuracy"]
    steps, loss = h.steps.raw(h.cols("steps", "loss"))
    np.testing.assert_array_equal(column(head, numbers, "step"), steps)
    np.testing.assert_array_equal(column(head, numbers, "loss"), loss[:, 0])
    eval_steps, tests = h.evals.raw(h.cols("evals", "test_loss"))
    have = ~np.isnan(column(head, numbers, "test_loss"))
    np.testing.assert_array_equal(column(head, numbers, "step")[have], eval_steps)
    np.testing.assert_array_equal(column(head, numbers, "test_loss")[have], tests[:, 0])
    assert readings.eval_at(h, "test_loss") == column(head, numbers, "test_loss")[have][-1]


def test_signal_and_health_csv_quote_the_statistics_row_at_the_step(tmp_path):
    run = synthetic_run(n_steps=300)
    h = run.history
    probe = readings.probe_reading(h, 250)
    assert probe is not None and probe.step == 200
    header, rows = export.view_table(run, "signal", 250)
    head, numbers, _ = read_csv(export.write_csv(tmp_path / "s.csv", header, rows))
    for q in ("signal_std", "backprop_grad"):
        np.testing.assert_array_equal(column(head, numbers, q), probe.values[q])
    steps, grads = h.steps.raw(h.cols("steps", "grad_norm"))
    np.testing.assert_array_equal(column(head, numbers, "grad_norm"),
                                  grads[list(steps).index(200)])
    assert set(column(head, numbers, "probe_step")) == {200}
    assert set(column(head, numbers, "first_probe_step")) == {1}
    first = readings.probe_reading(h, 1)
    assert first is not None
    np.testing.assert_array_equal(column(head, numbers, "signal_std_first"),
                                  first.values["signal_std"])

    header, rows = export.view_table(run, "health", 250)
    head, numbers, cells = read_csv(export.write_csv(tmp_path / "h.csv", header, rows))
    n = h.n_layers
    for ch in ("act_mean", "act_std", "inactive_fraction"):  # hidden layers only
        np.testing.assert_array_equal(column(head, numbers, ch)[: n - 1], probe.values[ch])
        assert np.isnan(column(head, numbers, ch)[n - 1])
    np.testing.assert_array_equal(column(head, numbers, "update_ratio"),
                                  probe.values["update_ratio"])
    assert cells[0][-1] == "saturated"


def boundary_run() -> Run:
    cfg = Config(depth=2, width=4)
    run = Run.from_config(cfg, ["hidden 1", "hidden 2", "output"], "saturated")
    rng = np.random.default_rng(0)
    run.history.extend("steps", np.arange(1, 101),
                       rng.uniform(0.01, 1, (100, 8)).astype(np.float32))
    run.set_data(DataSample(rng.normal(size=(20, 2)), rng.integers(0, 2, 20),
                            (-3.0, 3.0, -2.0, 2.0)))
    for step in (10, 50):
        classes = (np.arange(12)[None, :] > step // 10).repeat(8, 0).astype(np.uint8)
        run.add_boundary(step, classes, np.full((8, 12), 0.75, np.float32))
    return run


def test_boundary_csv_is_the_nearest_snapshot_grid_and_the_points(tmp_path):
    run = boundary_run()
    header, rows = export.view_table(run, "boundary", 49)
    head, numbers, cells = read_csv(export.write_csv(tmp_path / "b.csv", header, rows))
    grid = np.array([c[0] == "grid" for c in cells])
    assert grid.sum() == 8 * 12 and (~grid).sum() == 20
    assert set(column(head, numbers, "snapshot_step")) == {10}
    snap = run.boundary_at(49)
    assert snap is not None
    np.testing.assert_array_equal(column(head, numbers, "class")[grid].reshape(8, 12),
                                  snap.classes)
    xs = column(head, numbers, "x")[grid].reshape(8, 12)
    ys = column(head, numbers, "y")[grid].reshape(8, 12)
    assert xs[0, 0] == -3.0 and xs[0, -1] == 3.0 and ys[0, 0] == -2.0 and ys[-1, 0] == 2.0
    assert data_points_equal(numbers[~grid], run)


def data_points_equal(rows: np.ndarray, run: Run) -> bool:
    assert run.data is not None
    return bool(np.array_equal(rows[:, 1:3], run.data.points.astype(np.float64))
                and np.array_equal(rows[:, 3], run.data.labels))


def test_a_run_without_a_boundary_or_statistics_says_why():
    run = synthetic_run(n_steps=50)
    with pytest.raises(ExportError, match="no decision boundary recorded at or before step 50"):
        export.view_table(run, "boundary")
    h = RunHistory(Config(depth=1, width=4), ["hidden 1", "output"], "saturated")
    h.extend("steps", np.arange(1, 11), np.full((10, 6), 0.5, np.float32))
    with pytest.raises(ExportError, match="no layer statistics"):
        export.view_table(Run.from_history(h), "health")


def test_bad_view_and_steps_out_of_range_are_one_line_errors():
    run = synthetic_run(n_steps=100)
    with pytest.raises(ExportError, match="unknown view 'flow'; allowed: heatmap, lines"):
        export.view_table(run, "flow")
    for step in (0, 101):
        with pytest.raises(ExportError, match=f"step {step} is out of range: this run "
                                              "recorded steps 1 to 100"):
            export.view_table(run, "bars", step)
    empty = Run.from_history(RunHistory(Config(depth=1, width=4), ["hidden 1", "output"]))
    with pytest.raises(ExportError, match="no recorded steps"):
        export.view_table(empty, "heatmap")


def test_run_wide_csv_has_a_row_per_record_and_a_column_per_layer(tmp_path):
    run = synthetic_run(depth=4, n_steps=250)
    h = run.history
    path = export.run_wide_csv(run, tmp_path / "run.csv")
    head, numbers, _ = read_csv(path)
    assert head[:5] == ["step", "first_step", "steps_in_record", "loss", "accuracy"]
    assert head[5:10] == [f"grad_norm[{n}]" for n in h.layer_names]
    assert head[-2:] == ["test_loss", "test_accuracy"]
    steps, raw = h.steps.raw()
    assert len(numbers) == len(steps) == 250
    np.testing.assert_array_equal(grad_columns(head, numbers, h),
                                  raw[:, h.cols("steps", "grad_norm")])
    np.testing.assert_array_equal(column(head, numbers, "accuracy"),
                                  raw[:, h.cols("steps", "accuracy")][:, 0])
    eval_steps, _ = h.evals.raw()
    tested = column(head, numbers, "step")[~np.isnan(column(head, numbers, "test_loss"))]
    np.testing.assert_array_equal(tested, eval_steps)


def test_write_csv_quotes_names_writes_nothing_on_failure_and_refuses_folders(tmp_path):
    path = export.write_csv(tmp_path / "t.csv", ["a", "b, c"],
                            [[1, "x, y"], [math.nan, -math.inf]])
    assert path.read_text() == 'a,"b, c"\n1,"x, y"\nnan,-inf\n'
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.csv"]  # no temporary left
    with pytest.raises(ExportError, match="is a folder"):
        export.write_csv(tmp_path, ["a"], [[1]])
    with pytest.raises(ExportError, match="does not exist"):
        export.write_csv(tmp_path / "no" / "t.csv", ["a"], [[1]])
    with pytest.raises(ExportError, match="row 0 has 1 cells; the header has 2"):
        export.write_csv(tmp_path / "u.csv", ["a", "b"], [[1]])
    assert not (tmp_path / "u.csv").exists()


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes to read-only folders")
def test_write_csv_into_a_read_only_folder_is_one_line(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        with pytest.raises(ExportError, match="permission denied"):
            export.write_csv(locked / "t.csv", ["a"], [[1]])
    finally:
        locked.chmod(0o700)


def test_bin_records_keeps_steps_weighted_means_and_spikes():
    h = RunHistory(Config(depth=1, width=4), ["hidden 1", "output"])
    rows = np.full((1000, 6), 1.0, np.float32)
    rows[500, 0] = 1e3  # a one-step spike
    rows[700, 1] = np.nan
    h.extend("steps", np.arange(1, 1001), rows)
    b = export.bin_records(export.records_upto(h, "steps", "grad_norm"), 100)
    assert len(b.x) <= 100 and b.width == 16
    assert b.max[:, 0].max() == 1e3 and np.isnan(b.mean[:, 1]).sum() == 1
    assert b.mean[:, 0].max() == pytest.approx((1e3 + 15) / 16)


def test_caption_names_the_run_its_config_and_the_step():
    cfg = Config(depth=10, width=32, activation="sigmoid", init="small_normal", lr=0.1)
    h = RunHistory(cfg, [f"hidden {i}" for i in range(1, 11)] + ["output"], "saturated",
                   {"source": "deep_sigmoid"})
    run = Run.from_history(h)
    assert export.caption(run, 1000) == ("deep_sigmoid: depth 10 x 32 sigmoid, small init, "
                                         "SGD lr 0.1, moons — step 1,000")
    relu = Run.from_history(RunHistory(cfg.replace(activation="relu", norm="batch",
                                                   residual=True, optimizer="adam"),
                                       h.layer_names), source="/data/relu_he.npz")
    assert export.caption(relu, 5) == ("relu_he: depth 10 x 32 ReLU, small init, batch norm, "
                                       "residual, Adam lr 0.1, moons — step 5")


def test_core_export_imports_neither_qt_nor_torch():
    code = ("import sys, vgrad_gui.core.export, vgrad_gui.export_cmd; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in "
            "('PySide6', 'pyqtgraph', 'torch')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"


# -- the command --------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def recorded(tmp_path_factory) -> tuple[Path, RunHistory]:
    """A real run: trained by the CLI's own loop, saved as a run file."""
    cfg = Config(depth=2, width=4, steps=60, samples=200, activation="tanh", device="cpu")
    history, _, stopped = cli.train(cfg, "tiny_tanh", quiet=True)
    assert not stopped
    path = tmp_path_factory.mktemp("rec") / "run.npz"
    save_run(history, path)
    return path, history


def run_export(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    entry = ["-m", "vgrad_gui", "export"] if HOOKED else ["-m", "vgrad_gui.export_cmd"]
    return subprocess.run([sys.executable, *entry, *args], capture_output=True, text=True,
                          timeout=120, env=env)


def test_export_command_writes_a_csv_numpy_reads_with_the_readings_numbers(recorded,
                                                                            tmp_path):
    path, history = recorded
    out = tmp_path / "bars.csv"
    done = run_export(str(path), "--view", "bars", "--format", "csv", "-o", str(out),
                      "--step", "40")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"wrote bars at step 40 as csv -> {out}"
    head, numbers, _ = read_csv(out)
    reading = readings.grad_reading(history, 40)
    assert reading is not None
    np.testing.assert_array_equal(column(head, numbers, "grad_norm"), reading.norms)
    out = tmp_path / "run.csv"
    done = run_export(str(path), "--view", "run", "-o", str(out))
    assert done.returncode == 0, done.stderr
    head, numbers, _ = read_csv(out)
    assert len(numbers) == 60 and "grad_norm[output]" in head


@pytest.mark.xfail(not HOOKED, strict=True, reason="cli.py hooks 'export' in (the lead's "
                   "two lines and 'export' in SUBCOMMANDS)")
def test_vgrad_gui_export_is_a_sub_command():
    args = cli.build_parser().parse_args(["export", "r.npz", "--view", "run", "-o", "o.csv"])
    assert args.command == "export" and args.view == "run"


def refused(capsys, *argv: str) -> str:
    status = export_cmd.main(list(argv))
    err = capsys.readouterr().err
    assert status == 2
    assert err.count("\n") == 1 and err.startswith("vgrad-gui: error: ")
    return err


def test_bad_export_input_is_one_line_and_exit_2(recorded, tmp_path, capsys):
    path = str(recorded[0])
    out = str(tmp_path / "o.csv")
    assert "unknown view 'flow'; allowed: heatmap" in refused(
        capsys, path, "--view", "flow", "-o", out)
    assert "unknown format 'jpg'; allowed: csv, svg, png" in refused(
        capsys, path, "--view", "bars", "--format", "jpg", "-o", out)
    assert "view 'run' is the whole run as one wide CSV; use --format csv" in refused(
        capsys, path, "--view", "run", "--format", "svg", "-o", out)
    assert "step 61 is out of range: this run recorded steps 1 to 60" in refused(
        capsys, path, "--view", "bars", "--step", "61", "-o", out)
    assert "--step must be a whole number; got 'ten'" in refused(
        capsys, path, "--view", "bars", "--step", "ten", "-o", out)
    assert "--scale must be more than 0 and at most 8; got 0" in refused(
        capsys, path, "--view", "bars", "--scale", "0", "-o", out)
    assert "--run-index 1" in refused(
        capsys, path, "--view", "bars", "--run-index", "1", "-o", out)
    assert "give --format" in refused(capsys, path, "--view", "bars", "-o", "o.txt")
    assert "folder" in refused(capsys, path, "--view", "bars", "-o",
                               str(tmp_path / "missing" / "o.csv"))
    assert "no decision boundary recorded" in refused(
        capsys, path, "--view", "boundary", "-o", out)
    not_a_run = tmp_path / "x.npz"
    not_a_run.write_text("hello")
    assert str(not_a_run) in refused(capsys, str(not_a_run), "--view", "bars", "-o", out)
    assert not Path(out).exists()


def test_run_index_picks_a_run_of_a_comparison_file(tmp_path, capsys):
    path = save_runs([boundary_run(), synthetic_run(depth=2, n_steps=120)], tmp_path / "c.npz")
    out = tmp_path / "b.csv"
    assert export_cmd.main([str(path), "--view", "boundary", "-o", str(out)]) == 0
    head, numbers, _ = read_csv(out)
    assert set(column(head, numbers, "snapshot_step")) == {50}  # kept through the file
    assert export_cmd.main([str(path), "--view", "bars", "--run-index", "1", "-o",
                            str(out)]) == 0
    head, numbers, _ = read_csv(out)
    assert len(numbers) == 3 and set(column(head, numbers, "reading_step")) == {120}
    err = refused(capsys, str(path), "--view", "bars", "--run-index", "2", "-o", str(out))
    assert f"--run-index 2: {path} holds 2 runs; allowed: 0 to 1" in err


def test_a_damaged_file_gives_one_line_from_the_command_line_too(tmp_path):
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"PK\x03\x04 not really a zip")
    done = run_export(str(bad), "--view", "heatmap", "--format", "svg", "-o",
                      str(tmp_path / "o.svg"))
    assert done.returncode == 2
    assert "Traceback" not in done.stderr and done.stderr.count("\n") == 1
    assert done.stderr.startswith(f"vgrad-gui: error: {bad}")
