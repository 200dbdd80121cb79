import subprocess
import sys

import numpy as np
import pytest

from vgrad_gui.cli import main
from vgrad_gui.core.presets import all_presets, get_preset
from vgrad_gui.core.spec import ConfigError


def test_every_preset_loads_and_explains_what_to_watch():
    presets = all_presets()
    names = [p.name for p in presets]
    for needed in ("deep_sigmoid", "relu", "relu_he", "batch_norm", "residual", "exploding"):
        assert needed in names
    for p in presets:
        assert len(p.watch) > 100 and p.summary and p.title


def test_unknown_preset():
    with pytest.raises(ConfigError, match=r"'preset'.*deep_sigmoid"):
        get_preset("nope")


def test_presets_command(capsys):
    assert main(["presets"]) == 0
    out = capsys.readouterr().out
    assert "deep_sigmoid" in out and "exploding" in out


def test_record_then_summary(tmp_path, capsys):
    out = tmp_path / "run.npz"
    assert main(["record", "--preset", "deep_sigmoid", "--steps", "60", "-o", str(out)]) == 0
    line = capsys.readouterr().out
    assert "recorded 60 steps" in line and "vanishing" in line
    with np.load(out, allow_pickle=False) as npz:
        assert npz["grad_norm"].shape == (60, 11)
    assert main(["summary", str(out)]) == 0
    text = capsys.readouterr().out
    assert "hidden 1" in text and "output" in text and "vs output" in text
    assert "vanishing: hidden layers 1-" in text


def test_record_with_config_file_and_overrides(tmp_path, capsys):
    cfg = tmp_path / "c.json"
    cfg.write_text('{"depth": 3, "width": 8, "activation": "relu"}')
    out = tmp_path / "r.npz"
    assert main(["record", "--config", str(cfg), "--steps", "5", "--seed", "3", "-o",
                 str(out)]) == 0
    with np.load(out) as npz:
        assert npz["grad_norm"].shape == (5, 4)


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["record", "--preset", "nope", "-o", "x.npz"], "'preset'"),
        (["record", "--config", "missing.json", "-o", "x.npz"], "config file not found"),
        (["record", "--preset", "relu", "--steps", "0", "-o", "x.npz"], "'steps'"),
        (["record", "--preset", "relu", "-o", "no/such/dir/x.npz"], "does not exist"),
        (["summary", "missing.npz"], "no such file"),
        (["--preset", "nope"], "'preset'"),
    ],
)
def test_bad_input_exits_2_with_a_message_and_no_traceback(args, fragment, capsys, tmp_path,
                                                           monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(args) == 2
    err = capsys.readouterr().err
    assert fragment in err and "Traceback" not in err


def test_console_entry_point_runs_as_a_module():
    done = subprocess.run([sys.executable, "-m", "vgrad_gui", "presets"], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0 and "relu_he" in done.stdout
    bad = subprocess.run([sys.executable, "-m", "vgrad_gui", "record", "--steps", "3"],
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
