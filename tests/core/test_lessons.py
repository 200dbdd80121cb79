"""Lessons: every shipped step trains headless and its run shows what the step claims; every
kind of bad lesson file is one line naming the file, the line and the key."""

from __future__ import annotations

import copy
import json
import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vgrad_gui.core import lessons, readings
from vgrad_gui.core.history import RunHistory
from vgrad_gui.core.lessons import LessonError, load_lesson, parse_lesson_text
from vgrad_gui.core.run import Run
from vgrad_gui.core.spec import FIELD_BY_NAME, Config

# -- every shipped lesson, run headless --------------------------------------------------------
SHIPPED = [(name, i) for name in lessons.shipped_lessons()
           for i in range(len(lessons.load_shipped(name).steps))]
_CACHE: dict[Config, RunHistory] = {}  # a config is trained once across the steps


def test_a_lesson_ships_and_every_step_states_a_claim():
    assert "vanishing_gradients" in lessons.shipped_lessons()
    for name in lessons.shipped_lessons():
        lesson = lessons.load_shipped(name)
        assert lesson.source == f"lesson {name}"
        for step in lesson.steps:
            assert step.check, step.title
            assert all(claims for claims in step.check.values()), step.title
            assert all(c.steps == step.steps for c in step.runs)


@pytest.mark.slow
@pytest.mark.parametrize(("name", "index"), SHIPPED, ids=[f"{n}-{i}" for n, i in SHIPPED])
def test_each_shipped_step_shows_what_it_claims(name: str, index: int) -> None:
    step = lessons.load_shipped(name).steps[index]
    runs = lessons.run_step(step, _CACHE)
    assert [r.step for r in runs] and all(r.step > 0 for r in runs)
    assert lessons.check_step(step, runs) == [], step.title
    evidence = lessons.fill_evidence(step, runs)
    assert "{" not in evidence and "}" not in evidence
    assert lessons.NOT_READ not in evidence, evidence
    about_nan = any(claims.get("nonfinite") for claims in step.check.values())
    if not about_nan:
        assert "NaN" not in evidence and "Inf" not in evidence, evidence
    # The evidence quotes readings' own words, e.g. the ratio the views print.
    values = lessons.evidence_values(step, runs)
    if "ratio" in values:
        reading = readings.grad_reading(runs[0].history)
        assert reading is not None
        assert values["ratio"] == readings.ratio_label(reading, 0)


# -- evidence and checks on chosen numbers -----------------------------------------------------
def synthetic(grads: list[float], *, loss: float = 0.5, acc: float = 0.75, test_acc: float = 0.8,
              signal: list[float] | None = None, steps: int = 100, nan_at: int | None = None
              ) -> RunHistory:
    """A history of ``steps`` steps with the same gradient norms every step."""
    n = len(grads)
    history = RunHistory(Config(depth=n - 1, width=8), [f"hidden {i}" for i in range(1, n)]
                         + ["output"], "saturated")
    g = np.tile(np.asarray(grads, np.float64), (steps, 1))
    if nan_at is not None:
        g[nan_at - 1:, :] = np.nan
    rows = np.concatenate([g, g * 0.1, np.full((steps, 1), loss), np.full((steps, 1), acc)], 1)
    history.extend("steps", np.arange(1, steps + 1), rows)
    history.extend("evals", np.array([steps]), np.array([[0.4, test_acc]]))
    probe = np.full((1, history.probes.width), np.nan)
    probe[0, history.cols("probes", "signal_std")] = signal or [1.0] * n
    history.extend("probes", np.array([steps]), probe)
    return history


def step_with(evidence: str, check: dict[str, Any] | None = None, runs: int = 1
              ) -> lessons.LessonStep:
    data = minimal_lesson()
    step = data["steps"][0]
    step["runs"] = [{"depth": 2, "width": 8}] * runs
    step["evidence"] = evidence
    step["check"] = check or {}
    if not step["check"]:
        del step["check"]
    return parse_lesson_text(json.dumps(data)).steps[0]


def test_evidence_fills_each_placeholder_from_readings():
    h = synthetic([2e-6, 1e-3, 1.0], signal=[1.0, 0.01, 2.0])
    step = step_with("{ratio}|{grad_first}|{grad_out}|{loss}|{accuracy}|{signal_ratio}|{step}|"
                     "{nonfinite_step}|{label}|{finding}")
    text = lessons.fill_evidence(step, [Run.from_history(h, label="mine")])
    assert text.split("|") == ["10^-6", "2.00e-06", "1.00e+00", "0.500", "80%", "1/100", "100",
                               "none", "mine", "vanishing"]


def test_evidence_keeps_escaped_braces_and_reads_other_runs_by_letter():
    a = Run.from_history(synthetic([2e-6, 1e-3, 1.0]), run_id=0, label="sig")
    b = Run.from_history(synthetic([0.5, 0.8, 1.0], loss=0.02), run_id=1, label="relu")
    step = step_with("{{x}} {ratio} {ratio.B} {loss.B} {label.B}: {contrast}", runs=2)
    text = lessons.fill_evidence(step, [a, b])
    assert text.startswith("{x} 10^-6 0.5x 0.020 relu: hidden 1: relu receives")
    assert "10^5 times more gradient than A (sig) at step 100" in text


def test_a_tiny_loss_is_not_printed_as_zero():
    step = step_with("{loss}")
    h = synthetic([0.5, 1.0], loss=3e-4)
    assert lessons.fill_evidence(step, [Run.from_history(h)]) == "3.00e-04"


def test_evidence_of_a_run_that_went_nan_names_the_step():
    h = synthetic([1e3, 1.0], nan_at=40)
    step = step_with("{nonfinite_step} {ratio} {finding}")
    assert lessons.fill_evidence(step, [Run.from_history(h)]) == "40 NaN nonfinite"


def test_values_not_recorded_yet_read_n_a():
    h = RunHistory(Config(depth=1, width=8), ["hidden 1", "output"])
    step = step_with("{ratio} {accuracy} {diagnosis}")
    assert lessons.fill_evidence(step, [Run.from_history(h)]) == "n/a n/a n/a"


def test_checks_name_each_claim_that_fails():
    h = synthetic([1e-6, 1e-3, 1.0], signal=[1.0, 0.01, 2.0])
    holds = step_with("{ratio}", {"A": {
        "diagnosis": ["vanishing", "exploding"], "finding": "vanishing", "not_finding": "healthy",
        "ratio_below": 1e-5, "ratio_above": 1e-7, "loss_below": 0.6, "loss_above": 0.4,
        "accuracy_below": 0.9, "accuracy_above": 0.7, "signal_ratio_below": 0.02,
        "signal_ratio_above": 0.005, "nonfinite": False}})
    assert lessons.check_step(holds, [Run.from_history(h)]) == []
    fails = step_with("{ratio}", {"A": {"diagnosis": "healthy", "ratio_above": 0.1,
                                        "accuracy_above": 0.9, "nonfinite": True}})
    assert lessons.check_step(fails, [Run.from_history(h)]) == [
        "A: the diagnosis is 'vanishing', not healthy",
        "A: ratio is 1e-06, not above 0.1",
        "A: accuracy is 0.8, not above 0.9",
        "A: gradients and loss stayed finite"]


def test_contrast_claims_compare_with_run_a():
    a = Run.from_history(synthetic([1e-6, 1e-3, 1.0]), run_id=0)
    b = Run.from_history(synthetic([0.5, 0.8, 1.0]), run_id=1)
    step = step_with("{contrast}", {"B": {"contrast_above": 1e5}}, runs=2)
    assert lessons.check_step(step, [a, b]) == []  # 5e5 times more at hidden 1
    step = step_with("{contrast}", {"B": {"contrast_above": 1e6}}, runs=2)
    assert lessons.check_step(step, [a, b]) == [
        "B: the largest contrast with A is 5e+05x, not above 1e+06x"]
    broken = Run.from_history(synthetic([0.5, 1.0, 1.0], nan_at=10), run_id=1)
    assert lessons.check_step(step, [a, broken]) == [
        "B: no comparison with run A could be made"]


def test_fill_evidence_refuses_the_wrong_number_of_runs():
    step = step_with("{ratio}", runs=2)
    with pytest.raises(ValueError, match="this step has 2 runs; got 1"):
        lessons.fill_evidence(step, [Run.from_history(synthetic([0.5, 1.0]))])


# -- validation: one line, the right line number, the key --------------------------------------
def minimal_lesson() -> dict[str, Any]:
    return {
        "title": "A lesson",
        "steps": [
            {"title": "One", "text": "First sentence. Second one.", "runs": [{"preset": "relu"}],
             "spotlight": "heatmap", "steps": 10, "evidence": "Hidden 1 gets {ratio}.",
             "check": {"A": {"ratio_above": 0.0}}},
            {"title": "Two", "text": "Compare these.",
             "runs": [{"preset": "deep_sigmoid"}, {"preset": "relu_he", "label": "fixed"}],
             "spotlight": "bars", "steps": 20, "evidence": "{contrast}",
             "predict": {"question": "Which learns?", "answers": ["A", "B", "Both"],
                         "correct": 2, "explanation": "B does. Its gradient reaches hidden 1."},
             "check": {"B": {"contrast_above": 10}}},
        ],
    }


def dumped(data: dict[str, Any]) -> str:
    return json.dumps(data, indent=2)


def line_of(text: str, needle: str, nth: int = 0) -> int:
    """1-based line of the nth line containing ``needle``."""
    hits = [i for i, line in enumerate(text.splitlines(), 1) if needle in line]
    return hits[nth]


def error_of(text: str, source: str = "lesson.json") -> LessonError:
    with pytest.raises(LessonError) as info:
        parse_lesson_text(text, source)
    message = str(info.value)
    assert "\n" not in message and len(message) <= lessons.MAX_LESSON_MESSAGE
    return info.value


def expect(text: str, needle: str, key: str, says: str, nth: int = 0) -> None:
    err = error_of(text)
    line = line_of(text, needle, nth)
    assert str(err).startswith(f"lesson.json line {line}, {key}: "), str(err)
    assert says in str(err), str(err)
    assert (err.line, err.key) == (line, key)


def test_the_minimal_lesson_is_valid():
    lesson = parse_lesson_text(dumped(minimal_lesson()), "x.json")
    one, two = lesson.steps
    assert one.runs[0] == Config.from_dict({**Config().to_dict(), "activation": "relu",
                                            "steps": 10})
    assert one.line == line_of(dumped(minimal_lesson()), '"title": "One"') - 1
    assert two.labels == ("sigmoid", "fixed")
    assert two.predict is not None and two.predict.correct_index == 1
    assert two.predict.answers == ("A", "B", "Both")
    assert one.sentences == ["First sentence.", "Second one."]


def test_bad_json_names_its_line():
    text = dumped(minimal_lesson()).replace('"steps": 10,', '"steps": 10,,')
    err = error_of(text)
    assert str(err).startswith(f"lesson.json line {line_of(text, ',,')}: not valid JSON: ")


def test_unknown_key_lists_the_allowed_ones():
    data = minimal_lesson()
    data["steps"][1]["titel"] = "x"
    expect(dumped(data), '"titel"', "steps[1].titel",
           "no such key; allowed keys: " + ", ".join(lessons.STEP_KEYS)
           + " (did you mean 'title'?)")


def test_too_many_sentences():
    data = minimal_lesson()
    data["steps"][0]["text"] = "One. Two. Three (He et al. 2015 says 0.25). Four."
    expect(dumped(data), "One. Two.", "steps[0].text", "4 sentences; allowed: at most 3")


def test_a_sentence_too_long():
    data = minimal_lesson()
    data["steps"][1]["predict"]["explanation"] = "Short. A" + "a" * 249 + "."
    expect(dumped(data), "Short.", "steps[1].predict.explanation",
           "sentence 2 has 251 characters; allowed: at most 160")


def test_five_answers():
    data = minimal_lesson()
    data["steps"][1]["predict"]["answers"] = ["a", "b", "c", "d", "e"]
    expect(dumped(data), '"answers"', "steps[1].predict.answers",
           "5 answers; allowed: 2 to 4 answers")


def test_correct_answer_out_of_range():
    data = minimal_lesson()
    data["steps"][1]["predict"]["correct"] = 4
    expect(dumped(data), '"correct"', "steps[1].predict.correct",
           "got 4; allowed: 1 to 3, the number of the right answer counting from 1")
    data["steps"][1]["predict"]["correct"] = 0
    expect(dumped(data), '"correct"', "steps[1].predict.correct", "got 0; allowed: 1 to 3")


def test_unknown_preset():
    data = minimal_lesson()
    data["steps"][1]["runs"][1]["preset"] = "relu_hee"
    expect(dumped(data), '"relu_hee"', "steps[1].runs[1].preset",
           'got "relu_hee"; allowed: one of ')
    assert "(did you mean 'relu_he'?)" in str(error_of(dumped(data)))


def test_bad_config_value_uses_the_spec_message():
    data = minimal_lesson()
    data["steps"][0]["runs"][0]["depth"] = 500
    expect(dumped(data), '"depth"', "steps[0].runs[0].depth",
           f"got 500; allowed: {FIELD_BY_NAME['depth'].allowed()}")
    data = minimal_lesson()
    data["steps"][1]["runs"][0].update(norm="batch", batch_size=1)
    expect(dumped(data), '"batch_size"', "steps[1].runs[0].batch_size",
           'at least 2 when norm is "batch"')


def test_a_run_may_not_set_its_own_length():
    data = minimal_lesson()
    data["steps"][0]["runs"][0]["steps"] = 99
    expect(dumped(data), '"steps": 99', "steps[0].runs[0].steps",
           "a run's length is its step's 'steps'")


def test_unknown_evidence_placeholder():
    data = minimal_lesson()
    data["steps"][0]["evidence"] = "Hidden 1 gets {ratoi}."
    expect(dumped(data), "{ratoi}", "steps[0].evidence",
           "unknown placeholder {ratoi}; allowed: ratio, ")
    assert "(did you mean 'ratio'?)" in str(error_of(dumped(data)))


@pytest.mark.parametrize(("evidence", "says"), [
    ("{ratio.C}", "{ratio.C}: this step has runs A, B"),
    ("{ratio.}", "{ratio.}: this step has runs A, B"),
    ("{contrast.A}", "{contrast.A}: a contrast is of B, C or D with run A"),
    ("a { b", "a lone '{'"),
])
def test_placeholders_must_fit_the_runs(evidence: str, says: str) -> None:
    data = minimal_lesson()
    data["steps"][1]["evidence"] = evidence
    expect(dumped(data), '"evidence": ', "steps[1].evidence", says, nth=1)


def test_contrast_needs_two_runs():
    data = minimal_lesson()
    data["steps"][0]["evidence"] = "{contrast}"
    expect(dumped(data), '"evidence": ', "steps[0].evidence", "needs two runs or more")


def test_unknown_spotlight():
    data = minimal_lesson()
    data["steps"][1]["spotlight"] = "heatmpa"
    expect(dumped(data), '"spotlight"', "steps[1].spotlight", nth=1, says=
           'got "heatmpa"; allowed: one of diagram, heatmap, lines, bars, loss, boundary, '
           "health, signal (did you mean 'heatmap'?)")


def test_too_many_runs():
    data = minimal_lesson()
    data["steps"][1]["runs"] = [{"preset": "relu"}] * 5
    expect(dumped(data), '"runs"', "steps[1].runs",
           "5 runs; allowed: a list of 1 network, or 2 to 4 compared side by side", nth=1)


@pytest.mark.parametrize(("check", "key", "says"), [
    ({"C": {"ratio_above": 1}}, "steps[1].check.C", "no such key; allowed keys: A, B"),
    ({"A": {"contrast_above": 10}}, "steps[1].check.A.contrast_above",
     "compares a run with run A; put it under B, C or D"),
    ({"B": {"ratio_abov": 1}}, "steps[1].check.B.ratio_abov", "(did you mean 'ratio_above'?)"),
    ({"B": {"diagnosis": "vanished"}}, "steps[1].check.B.diagnosis",
     'got "vanished"; allowed: a finding kind or a list of them: nonfinite, '),
    ({"B": {"nonfinite": 1}}, "steps[1].check.B.nonfinite", "got 1; allowed: true or false"),
    ({"B": {"loss_below": "low"}}, "steps[1].check.B.loss_below", "allowed: a finite number"),
    ({"B": {}}, "steps[1].check.B", "no claims; allowed: diagnosis, "),
])
def test_bad_checks(check: dict[str, Any], key: str, says: str) -> None:
    data = minimal_lesson()
    data["steps"][1]["check"] = check
    err = error_of(dumped(data))
    assert err.key == key and says in str(err), str(err)
    first = next(iter(check))
    assert err.line == line_of(dumped(data), f'"{first}": ', 0 if first != "A" else 1) \
        or err.line == line_of(dumped(data), f'"{next(iter(check[first]), first)}"')


def test_missing_key_points_at_its_object():
    data = minimal_lesson()
    del data["steps"][1]["predict"]["question"]
    expect(dumped(data), '"predict"', "steps[1].predict",
           "'question' is missing (required keys: question, answers, correct, explanation)")


def test_a_key_given_twice_names_the_second():
    text = dumped(minimal_lesson()).replace('"spotlight": "bars",',
                                            '"spotlight": "bars", "spotlight": "loss",')
    expect(text, '"spotlight": "loss"', "steps[1].spotlight", "this key is given twice")


def test_nan_and_infinity_are_refused_where_they_stand():
    text = dumped(minimal_lesson()).replace('"ratio_above": 0.0', '"ratio_above": NaN')
    expect(text, "NaN", "steps[0].check.A.ratio_above", "NaN is not a number JSON allows")
    text = dumped(minimal_lesson()).replace('"steps": 20', '"steps": -Infinity')
    expect(text, "-Infinity", "steps[1].steps", "-Infinity is not a number JSON allows")


def test_control_characters_and_line_breaks_are_refused():
    data = minimal_lesson()
    data["steps"][0]["title"] = "two\nlines"
    expect(dumped(data), "two\\nlines", "steps[0].title", "line break or control character")


def test_a_huge_number_is_refused_by_its_key():
    text = dumped(minimal_lesson()).replace('"steps": 20', '"steps": ' + "9" * 5000)
    expect(text, "9999", "steps[1].steps", "a number of 5000 characters")


def test_wrong_format_version_and_empty_steps():
    data = minimal_lesson()
    data["format"] = 2
    expect(dumped(data), '"format"', "format", "got 2; allowed: 1")
    data = minimal_lesson()
    data["steps"] = []
    expect(dumped(data), '"steps"', "steps", "0 steps; allowed: a list of 1 to 100 steps")


def test_deep_nesting_is_refused_before_parsing():
    err = error_of("[" * 5000 + "]" * 5000)
    assert "nested 5000 levels deep (at most 32)" in str(err)


# -- files ------------------------------------------------------------------------------------
def test_load_lesson_reads_a_file_and_names_it(tmp_path: Path) -> None:
    path = tmp_path / "my lesson.json"
    path.write_text(dumped(minimal_lesson()), encoding="utf-8")
    assert load_lesson(path).source == str(path)
    assert lessons.open_lesson(str(path)).title == "A lesson"
    data = minimal_lesson()
    data["steps"][0]["spotlight"] = "nope"
    path.write_text(dumped(data), encoding="utf-8")
    with pytest.raises(LessonError, match=rf"^{tmp_path}/my lesson.json line \d+, "
                                          r"steps\[0\].spotlight: "):
        load_lesson(path)


def test_a_file_too_big(tmp_path: Path) -> None:
    path = tmp_path / "big.json"
    path.write_bytes(b" " * (lessons.MAX_LESSON_BYTES + 1))
    with pytest.raises(LessonError, match=r"big.json: too large: 1,000,001 bytes \(a lesson "
                                          r"file may have at most 1,000,000\)$"):
        load_lesson(path)


def test_not_a_regular_file(tmp_path: Path) -> None:
    with pytest.raises(LessonError, match="is a directory, not a lesson file"):
        load_lesson(tmp_path)
    if hasattr(os, "mkfifo"):
        fifo = tmp_path / "pipe.json"
        os.mkfifo(fifo)
        with pytest.raises(LessonError, match=r"is a FIFO \(named pipe\), not a lesson file"):
            load_lesson(fifo)  # refused without opening it: no writer would ever come
    with pytest.raises(LessonError, match="lesson file not found"):
        load_lesson(tmp_path / "missing.json")


def test_not_text(tmp_path: Path) -> None:
    path = tmp_path / "bin.json"
    path.write_bytes(b"\xff\xfe\x00{")
    with pytest.raises(LessonError, match=r"not a text file \(expected UTF-8 JSON\)"):
        load_lesson(path)


def test_an_unknown_shipped_name_lists_the_lessons():
    with pytest.raises(LessonError, match=r"no such lesson; shipped lessons: .*vanishing_"
                                          r"gradients.*did you mean 'vanishing_gradients'"):
        lessons.open_lesson("vanishing_gradient")


# -- the scanner reads what json reads ---------------------------------------------------------
_keys = st.text(st.characters(codec="utf-8"), max_size=6)
_json = st.recursive(
    st.none() | st.booleans() | st.integers(-10**30, 10**30)
    | st.floats(allow_nan=False, allow_infinity=False) | _keys,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_keys, inner, max_size=4),
    max_leaves=20)


@settings(max_examples=150, deadline=None)
@given(_json, st.sampled_from([None, 0, 2]))
def test_the_scanner_agrees_with_json_and_finds_every_key(value: Any, indent: int | None
                                                          ) -> None:
    text = json.dumps(value, indent=indent)
    scanner = lessons._Scanner(text, "x")
    assert scanner.parse() == json.loads(text)
    lines = text.splitlines()
    for path, line in scanner.lines.items():
        if path and isinstance(path[-1], str):
            assert json.dumps(path[-1]) in lines[line - 1]


# -- the module ---------------------------------------------------------------------------------
def test_lessons_import_neither_torch_nor_qt():
    code = ("import sys, vgrad_gui.core.lessons; "
            "bad = [m for m in ('torch', 'PySide6') if m in sys.modules]; "
            "print(*bad); sys.exit(1 if bad else 0)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


def test_reference_tables_list_every_placeholder_and_claim():
    tables = lessons.reference_tables()
    for name in lessons.EVIDENCE:
        assert f"| `{{{name}}}` |" in tables
    for name in lessons.CHECKS:
        assert f"| `{name}` |" in tables


def test_validation_does_not_change_the_input_shape():
    data = minimal_lesson()
    before = copy.deepcopy(data)
    parse_lesson_text(dumped(data))
    assert data == before
    assert math.isfinite(lessons.load_shipped("vanishing_gradients").steps[0].runs[0].lr)
