"""``vgrad-gui check-lesson``: a lecturer checks a lesson file headless before the lecture."""

from __future__ import annotations

import json
import subprocess
import sys


def write(tmp_path, check: dict) -> str:
    lesson = {"title": "Mini", "steps": [{
        "title": "Deep sigmoid", "text": "Watch the first layers fade.",
        "runs": [{"preset": "deep_sigmoid"}], "spotlight": "heatmap", "steps": 150,
        "evidence": "hidden 1 receives {ratio} of the output layer's gradient",
        "check": check}]}
    path = tmp_path / "mini.json"
    path.write_text(json.dumps(lesson))
    return str(path)


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "vgrad_gui", "check-lesson", *args],
                          capture_output=True, text=True, timeout=300)


def test_a_lesson_whose_claims_hold_exits_0_and_prints_its_evidence(tmp_path):
    out = run(write(tmp_path, {"A": {"finding": "vanishing"}}))
    assert out.returncode == 0, out.stderr
    assert "1. Deep sigmoid: ok" in out.stdout
    assert "hidden 1 receives 10^-" in out.stdout


def test_a_claim_that_does_not_hold_is_named_and_exits_1(tmp_path):
    out = run(write(tmp_path, {"A": {"finding": "healthy"}}))
    assert out.returncode == 1
    assert "FAILED" in out.stdout and "claim not met" in out.stdout


def test_a_bad_lesson_file_is_one_line_and_exit_2(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"title": "x", "steps": [{"title": "t", "nope": 1}]}')
    out = run(str(bad))
    assert out.returncode == 2
    assert out.stderr.startswith("vgrad-gui: error:") and out.stderr.count("\n") == 1
