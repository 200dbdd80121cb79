"""Each class of bad input found in issue 6 gives one clear line and the right exit status,
never a traceback, a hang or a lost run."""

import errno
import json
import math
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest

from vgrad_gui import cli
from vgrad_gui.core.budget import check_budget, estimate
from vgrad_gui.core.datasets import make_dataset
from vgrad_gui.core.presets import all_presets
from vgrad_gui.core.runfile import load_run
from vgrad_gui.core.spec import (
    MAX_CONFIG_BYTES,
    MAX_MESSAGE,
    Config,
    ConfigError,
    cross_field_problems,
    load_config,
    parse_config_text,
    validate_each,
)

ALL_LIMITS = {"depth": 200, "width": 1024, "batch_size": 65536, "samples": 200000}
SMALL = {"depth": 2, "width": 4, "samples": 40}


def refused(text: str) -> str:
    with pytest.raises(ConfigError) as err:
        parse_config_text(text, source="c.json")
    message = str(err.value)
    assert "\n" not in message and len(message) <= MAX_MESSAGE
    return message


def run_cli(*args: str, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "vgrad_gui", *args], capture_output=True,
                          text=True, timeout=120, **kw)


def assert_clean_error(done: subprocess.CompletedProcess, fragment: str) -> None:
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("vgrad-gui: error: ")
    assert fragment in done.stderr


# -- numbers, nesting, odd keys -----------------------------------------------------------
def test_a_400_digit_lr_is_refused_by_name():
    message = refused('{"lr": 1' + "0" * 400 + "}")
    assert "'lr'" in message and "401 characters" in message and "at most 10" in message


def test_a_4301_digit_seed_is_refused_by_name():
    message = refused('{"seed": 1' + "0" * 4300 + "}")
    assert "'seed'" in message and "4301 characters" in message


def test_huge_python_ints_are_refused_without_conversion_errors():
    for key in ("seed", "lr", "noise", "unknown"):
        with pytest.raises(ConfigError, match="about 5001 digits"):
            Config.from_dict({key: 10**5000})


def test_1000_nested_arrays_are_refused_before_parsing():
    message = refused("[" * 1000 + "]" * 1000)
    assert "nested 1000 levels deep (at most 32)" in message


def test_brackets_inside_strings_do_not_count_as_nesting():
    assert parse_config_text(json.dumps({"dataset": "moons"}) + " " * 10).dataset == "moons"
    message = refused(json.dumps({"dataset": "[" * 100 + '"\\' + "{" * 100}))
    assert "'dataset'" in message


def test_minus_zero_noise_is_zero_and_the_data_set_builds():
    cfg = parse_config_text('{"noise": -0.0}')
    assert cfg.noise == 0.0 and math.copysign(1.0, cfg.noise) == 1.0
    make_dataset("moons", 40, -0.0, 0)  # numpy refuses a scale of -0.0; the data set must not


def test_nan_and_infinity_literals_are_refused_by_name():
    assert "'noise': got NaN" in refused('{"noise": NaN}')
    assert "'lr': got Infinity" in refused('{"lr": Infinity}')
    assert "'depth': got -Infinity" in refused('{"depth": -Infinity}')


def test_a_key_with_a_newline_gives_one_line():
    message = refused('{"de\\npth": 3}')
    assert "'de\\npth'" in message  # shown escaped


def test_a_1mb_key_gives_a_short_message():
    message = refused('{"' + "k" * (MAX_CONFIG_BYTES - 20) + '": 1}')
    assert "no such key" in message and len(message) <= MAX_MESSAGE


def test_a_file_over_the_size_limit_is_refused_naming_the_limit(tmp_path):
    path = tmp_path / "big.json"
    path.write_text('{"' + "k" * MAX_CONFIG_BYTES + '": 1}')
    with pytest.raises(ConfigError, match="at most 1,000,000"):
        load_config(path)


def test_a_key_given_twice_is_refused():
    assert "given twice" in refused('{"depth": 3, "depth": 4}')


# -- cross-field rules ----------------------------------------------------------------------
def test_batch_norm_with_batch_size_1_is_refused_by_the_spec():
    message = refused('{"norm": "batch", "batch_size": 1}')
    assert "'batch_size': got 1" in message and 'norm is "batch"' in message
    with pytest.raises(ConfigError):
        Config(norm="batch", batch_size=1)
    assert Config(norm="layer", batch_size=1).batch_size == 1
    assert Config(norm="batch", batch_size=2).batch_size == 2


def test_the_gui_sees_cross_field_problems_next_to_both_fields():
    data = {"norm": "batch", "batch_size": 1}
    problems = validate_each(data)
    assert set(problems) == {"norm", "batch_size"} == set(cross_field_problems(data))
    assert "at least 2" in problems["batch_size"] and "'batch_size'" in problems["norm"]
    # An individually invalid value has its own message; the rule is not reported on top.
    assert set(validate_each({"norm": "batch", "batch_size": 0})) == {"batch_size"}
    assert "from 1 to 65536" in validate_each({"norm": "batch", "batch_size": 0})["batch_size"]


# -- files that are not regular ----------------------------------------------------------------
def test_dev_zero_is_refused_at_once():
    with pytest.raises(ConfigError, match="is a device, not a config file"):
        load_config("/dev/zero")


@pytest.mark.timeout(10)
def test_a_fifo_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "pipe.json"
    os.mkfifo(fifo)
    with pytest.raises(ConfigError, match="FIFO"):
        load_config(fifo)


def test_a_directory_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="is a directory"):
        load_config(tmp_path)


# -- the memory and time estimate --------------------------------------------------------------
def test_the_all_limits_config_is_refused_naming_estimate_and_memory():
    cfg = Config.from_dict(ALL_LIMITS)
    with pytest.raises(ConfigError) as err:
        check_budget(cfg, available=16 * 2**30)
    message = str(err.value)
    assert "needs about" in message and "GiB" in message
    assert "16.0 GiB is available" in message and len(message) <= MAX_MESSAGE
    with pytest.raises(ConfigError):  # and on this machine, whatever it has
        check_budget(cfg)


def test_presets_fit_easily_and_are_not_slow():
    for preset in all_presets():
        assert check_budget(preset.config, available=2 * 2**30) == []
        assert estimate(preset.config).host_bytes < 2**30


def test_a_slow_config_is_warned_about_in_one_line():
    cfg = Config(depth=200, width=1024, batch_size=1024, device="cpu")
    warnings = check_budget(cfg, available=2**40)
    assert len(warnings) == 1 and warnings[0].startswith("slow: roughly")
    assert "per step" in warnings[0] and "\n" not in warnings[0]


def test_the_estimate_grows_with_each_size_and_the_optimizer():
    base = estimate(Config(device="cpu"))
    for change in ({"depth": 20}, {"width": 64}, {"batch_size": 128}, {"optimizer": "adam"}):
        assert estimate(Config(device="cpu").replace(**change)).host_bytes > base.host_bytes
    sgd, mom, adam = (estimate(Config(optimizer=o, device="cpu")).weight_bytes
                      for o in ("sgd", "momentum", "adam"))
    assert sgd < mom < adam and adam - mom == mom - sgd


# -- the command line, as a user runs it -------------------------------------------------------
def test_cli_bad_configs_exit_2_with_one_line(tmp_path):
    lr = tmp_path / "lr.json"
    lr.write_text('{"lr": 1' + "0" * 400 + "}")
    assert_clean_error(run_cli("record", "--config", str(lr), "-o", str(tmp_path / "r.npz")),
                       "'lr'")
    big = tmp_path / "big.json"
    big.write_text(json.dumps(ALL_LIMITS))
    assert_clean_error(run_cli("record", "--config", str(big), "-o", str(tmp_path / "r.npz")),
                       "is available")
    assert_clean_error(run_cli("record", "--config", "/dev/zero", "-o", "r.npz",
                               cwd=tmp_path), "is a device")
    assert not (tmp_path / "r.npz").exists()


@pytest.mark.timeout(60)
def test_cli_fifo_config_does_not_hang(tmp_path):
    fifo = tmp_path / "c.json"
    os.mkfifo(fifo)
    assert_clean_error(run_cli("--config", str(fifo)), "FIFO")


@pytest.mark.parametrize(("option", "value", "fragment"), [
    ("--seed", "1" * 4301, "'seed'"),
    ("--seed", "-1", "from 0 to 2147483647"),
    ("--steps", "0", "'steps'"),
    ("--steps", "1e9", "'steps'"),
    ("--steps", "ten", "'steps': got \"ten\""),
])
def test_steps_and_seed_out_of_range_give_the_config_message(option, value, fragment, capsys,
                                                             tmp_path):
    assert cli.main(["record", "--preset", "relu", option, value, "-o",
                     str(tmp_path / "r.npz")]) == 2
    err = capsys.readouterr().err
    assert fragment in err and err.count("\n") == 1


@pytest.mark.parametrize("target", ["file/run.npz", "/proc/run.npz", "/dev/null", "."])
def test_record_refuses_an_unwritable_target_before_training(target, tmp_path, capsys,
                                                             monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "file").write_text("a regular file, not a folder")
    monkeypatch.setattr(cli, "train", lambda *a, **k: pytest.fail("trained first"))
    assert cli.main(["record", "--preset", "relu", "-o", target]) == 2
    err = capsys.readouterr().err
    assert err.startswith("vgrad-gui: error: ") and err.count("\n") == 1
    assert not list(tmp_path.glob(".vgrad-check-*"))


def _record_small(tmp_path: Path, out: Path) -> int:
    cfg = tmp_path / "c.json"
    cfg.write_text(json.dumps(SMALL))
    return cli.main(["record", "--config", str(cfg), "--steps", "5", "-q", "-o", str(out)])


def test_a_failed_save_after_training_falls_back_to_the_temp_folder(tmp_path, capsys,
                                                                    monkeypatch):
    out = tmp_path / "run.npz"
    spare = tmp_path / "tmp"
    spare.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(spare))
    real_save = cli.save_run

    def disk_full(history, path, *a, **k):
        if Path(path) == out:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        return real_save(history, path, *a, **k)

    monkeypatch.setattr(cli, "save_run", disk_full)
    assert _record_small(tmp_path, out) == cli.EXIT_FAILED
    captured = capsys.readouterr()
    assert captured.err.count("\n") == 1 and "No space left on device" in captured.err
    (fallback,) = spare.glob("vgrad-run-*.npz")
    assert str(fallback) in captured.err and str(fallback) in captured.out
    assert load_run(fallback).step == 5
    assert not out.exists()


def test_when_both_saves_fail_both_paths_are_named(tmp_path, capsys, monkeypatch):
    out = tmp_path / "run.npz"
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "gone"))

    def no_save(history, path, *a, **k):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(path))

    monkeypatch.setattr(cli, "save_run", no_save)
    assert _record_small(tmp_path, out) == cli.EXIT_FAILED
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert str(out) in err and str(tmp_path / "gone") in err and "Read-only" in err


@pytest.mark.parametrize("command", [["presets"], ["summary", "RUN"]])
def test_a_closed_pipe_ends_quietly(command, tmp_path):
    if "RUN" in command:
        run = tmp_path / "r.npz"
        assert _record_small(tmp_path, run) == 0
        command = ["summary", str(run)]
    proc = subprocess.Popen([sys.executable, "-m", "vgrad_gui", *command],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # the reader is gone before the first line is written
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) in (0, cli.EXIT_BROKEN_PIPE)
    assert err == ""


def test_the_recorded_run_loads(tmp_path):
    out = tmp_path / "run.npz"
    assert _record_small(tmp_path, out) == 0
    with np.load(out, allow_pickle=False) as npz:
        assert npz["grad_norm"].shape == (5, 3)


def test_running_out_of_memory_mid_run_keeps_the_steps_done(tmp_path, capsys, monkeypatch):
    from vgrad_gui.core import trainer as trainer_module

    real_run = trainer_module.Trainer.run

    def run_then_fail(self, steps, on_block=None, block=16):
        real_run(self, 3, on_block, block)
        raise MemoryError

    monkeypatch.setattr(trainer_module.Trainer, "run", run_then_fail)
    out = tmp_path / "run.npz"
    assert _record_small(tmp_path, out) == cli.EXIT_FAILED
    assert "out of memory: saved the 3 steps done so far" in capsys.readouterr().out
    assert load_run(out).step == 3
