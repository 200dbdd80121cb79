import json
import zipfile

import numpy as np
import pytest

from vgrad_gui.core.history import RunHistory
from vgrad_gui.core.runfile import RunFileError, load_run, save_run
from vgrad_gui.core.spec import Config
from vgrad_gui.core.trainer import Trainer


@pytest.fixture(scope="module")
def short_run() -> RunHistory:
    cfg = Config(depth=4, width=8, steps=300)
    trainer = Trainer(cfg)
    history = RunHistory(cfg, trainer.layer_names, trainer.probe.inactive_kind, {"x": 1})
    for _ in range(10):
        history.append(trainer.run_block(30))
    return history


def test_plain_numpy_reads_the_documented_layout(short_run, tmp_path):
    path = save_run(short_run, tmp_path / "run.npz")
    with np.load(path, allow_pickle=False) as npz:
        assert npz["grad_norm"].shape == (300, 5)
        assert np.array_equal(npz["step"], np.arange(1, 301))
        assert npz["loss"].shape == (300,) and npz["accuracy"].shape == (300,)
        assert npz["probe_step"].tolist() == [1, 100, 200, 300]
        assert npz["act_mean"].shape == (4, 4) and npz["update_ratio"].shape == (4, 5)
        meta = json.loads(str(npz["meta"]))
    assert meta["format_version"] == 1
    assert meta["layer_names"][-1] == "output" and len(meta["layer_names"]) == 5
    assert meta["config"]["depth"] == 4


def test_round_trip_is_exact(short_run, tmp_path):
    back = load_run(save_run(short_run, tmp_path / "run.npz"))
    assert back.config == short_run.config
    assert back.layer_names == short_run.layer_names
    assert back.extra == {"x": 1}
    for table in ("steps", "probes", "evals"):
        a, b = short_run.table(table).records(), back.table(table).records()
        for key in a:
            np.testing.assert_array_equal(a[key].astype(np.float32), b[key].astype(np.float32))


def test_round_trip_of_a_decimated_run(tmp_path):
    cfg = Config(depth=2, width=4)
    history = RunHistory(cfg, ["hidden 1", "hidden 2", "output"])
    width = history.steps.width
    rows = np.random.default_rng(1).random((30_000, width)).astype(np.float32)
    rows[777, 0] = 1e9
    history.extend("steps", np.arange(1, 30_001), rows)
    assert history.steps.decimated
    back = load_run(save_run(history, tmp_path / "long.npz"))
    a, b = history.steps.records(), back.steps.records()
    for key in a:
        np.testing.assert_allclose(a[key], b[key], rtol=1e-6)
    assert back.steps.records()["max"][:, 0].max() == pytest.approx(1e9)
    assert back.steps.total_rows == 30_000


def _write(path, **arrays):
    np.savez(path, **arrays)
    return path


def test_damaged_and_foreign_files_name_the_file_and_the_problem(short_run, tmp_path):
    good = save_run(short_run, tmp_path / "good.npz")
    data = good.read_bytes()
    truncated = tmp_path / "truncated.npz"
    truncated.write_bytes(data[: len(data) // 2])
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"PK\x03\x04" + b"\x00" * 100)
    text = tmp_path / "notes.npz"
    text.write_text("hello")
    with np.load(good) as npz:
        arrays = {k: npz[k] for k in npz.files}
    no_meta = _write(tmp_path / "nometa.npz", step=np.arange(3))
    bad_json = _write(tmp_path / "badjson.npz", **{**arrays, "meta": np.array("{oops")})
    meta = json.loads(str(arrays["meta"]))
    future = _write(tmp_path / "future.npz", **{**arrays, "meta": np.array(json.dumps(
        {**meta, "format_version": 99}))})
    missing = {k: v for k, v in arrays.items() if k != "grad_norm"}
    no_grad = _write(tmp_path / "nograd.npz", **missing)
    wrong_shape = _write(tmp_path / "shape.npz", **{**arrays, "loss": arrays["loss"][:-1]})
    pickled = tmp_path / "pickled.npz"
    np.savez(pickled, **{**arrays, "loss": np.array([{"a": 1}], dtype=object)})
    cases = {
        truncated: "damaged or truncated",
        junk: "damaged or truncated",
        text: "not a run file",
        no_meta: "no 'meta' entry",
        bad_json: "'meta' is not valid JSON",
        future: "format version 99 is not supported",
        no_grad: "missing array 'grad_norm'",
        wrong_shape: "array 'loss' has shape",
        pickled: "pickled objects",
        tmp_path / "absent.npz": "no such file",
        tmp_path: "is a directory",
    }
    for path, fragment in cases.items():
        with pytest.raises(RunFileError) as err:
            load_run(path)
        assert str(path) in str(err.value), path
        assert fragment in str(err.value), (path, str(err.value))


def test_bad_config_inside_a_run_file(short_run, tmp_path):
    good = save_run(short_run, tmp_path / "good.npz")
    with np.load(good) as npz:
        arrays = {k: npz[k] for k in npz.files}
    meta = json.loads(str(arrays["meta"]))
    meta["config"]["depth"] = 999
    path = _write(tmp_path / "cfg.npz", **{**arrays, "meta": np.array(json.dumps(meta))})
    with pytest.raises(RunFileError, match=r"config is invalid.*'depth'"):
        load_run(path)


def test_save_is_atomic_and_leaves_no_temporary_files(short_run, tmp_path):
    save_run(short_run, tmp_path / "a.npz")
    assert [p.name for p in tmp_path.iterdir()] == ["a.npz"]
    assert zipfile.is_zipfile(tmp_path / "a.npz")
