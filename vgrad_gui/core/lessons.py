"""Lessons: a lecture as a data file, a sequence of steps, each one a run to watch.

A step has a title, at most three short sentences, one network or two to four compared side by
side (trained in lockstep), the view to spotlight, how many steps to train, an optional
*predict first* question (asked before Start, answered after the run), an *evidence* line
filled from the run when it ends, and a *check*: claims about the run that a test verifies for
every shipped lesson (``run_step`` and ``check_step`` do the same for a lecturer's own file),
so a lesson never says what its run does not show.

Every number the evidence quotes comes from ``readings``, ``diagnose`` and ``compare``, the
same functions the views, the banner and ``summary`` read, so the evidence line and the views
agree. The check reads the same numbers.

The file is JSON (format below, and in the README). Reading it is bounded and strict like a
config file's (``spec.load_config``): at most MAX_LESSON_BYTES, a regular file, nesting
bounded, no NaN or Infinity, a key given twice refused, unknown keys refused with the allowed
ones. Every problem is one LessonError line naming the file, the line and the key
("lesson.json line 14, steps[2].predict.answers: 5 answers; allowed: 2 to 4 answers"). JSON
parsers give no line numbers for values, so a small scanner here walks the text once more and
records the line of every key and array item.

No Qt, and no torch at import: ``run_step`` (headless training, for tests and the lesson
check) imports the trainer when called.
"""

from __future__ import annotations

import bisect
import difflib
import json
import math
import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from json.scanner import NUMBER_RE
from pathlib import Path
from typing import Any

from vgrad_gui.core import readings
from vgrad_gui.core.compare import BROKEN, ONLY_BASE, ONLY_OTHER, Contrast, contrast, headline
from vgrad_gui.core.diagnose import diagnose, summary_line
from vgrad_gui.core.history import RunHistory
from vgrad_gui.core.presets import get_preset, preset_names
from vgrad_gui.core.run import Run
from vgrad_gui.core.spec import (
    FIELD_BY_NAME,
    MAX_NESTING,
    Config,
    ConfigError,
    FileProblem,
    NumberText,
    _nesting,
    _parse_float,
    _parse_int,
    _short_path,
    _show,
    one_line,
    read_small_text,
)
from vgrad_gui.core.workspace import MAX_LABEL_CHARS, Cursor, auto_label, describe

FORMAT_VERSION = 1

# Limits. A lesson of 14 steps is ~15 KB; these stop hostile or mistaken files early and keep
# what a projector shows readable from the back of a room.
MAX_LESSON_BYTES = 1_000_000
MAX_STEPS = 100  # steps in one lesson
MAX_TITLE = 80  # characters of a lesson's or a step's title
MAX_SUMMARY = 400
MAX_SENTENCES = 3  # in a step's text and in a prediction's explanation
MAX_SENTENCE = 160  # characters of one sentence: about 25 words, two lines on a slide
MAX_QUESTION = 200
MIN_ANSWERS, MAX_ANSWERS = 2, 4
MAX_ANSWER = 100
MAX_EVIDENCE = 300  # characters of the evidence template
MIN_TRAIN, MAX_TRAIN = 1, 100_000  # training steps of one lesson step
MAX_RUNS = 4  # compare mode's limit
MAX_LESSON_MESSAGE = 500  # a message may name a key path and list the allowed keys

SPOTLIGHTS = ("diagram", "heatmap", "lines", "bars", "loss", "boundary", "health", "signal")
LETTERS = "ABCD"
# The kinds ``diagnose`` reports (its module notes), most serious first.
FINDING_KINDS = ("nonfinite", "no_gradient", "underflow", "exploding", "vanished_signal",
                 "tiny_updates", "vanishing", "fading", "dead", "saturated", "slow", "healthy")

LESSON_KEYS = ("format", "title", "summary", "steps")
STEP_KEYS = ("title", "text", "runs", "spotlight", "steps", "predict", "evidence", "check")
PREDICT_KEYS = ("question", "answers", "correct", "explanation")
RUN_KEYS = ("preset", "label")  # plus every config key but "steps" (the step's own)

NOT_READ = "n/a"  # a value the run has not recorded yet (accuracy before the first evaluation)

# Evidence placeholders: {name} reads run A, {name.B} run B (C, D). Each is read at the last
# step the run recorded, through readings/diagnose/compare only.
EVIDENCE: dict[str, str] = {
    "ratio": "hidden layer 1's gradient as a share of the output layer's, in words as the "
             "views print it (`10^-9`, `1/190`, `0.73x`; `none` for exactly 0)",
    "grad_first": "hidden layer 1's current gradient norm (`1.93e-09`)",
    "grad_out": "the output layer's current gradient norm",
    "loss": "training loss, mean of the last 50 steps (`0.693`)",
    "accuracy": "held-out (test) accuracy at the last evaluation (`51%`)",
    "signal_ratio": "forward signal (std) of the last hidden layer over the first hidden "
                    "layer's (`1/1300`)",
    "diagnosis": "the diagnosis banner's line: the most serious finding in full",
    "finding": "the most serious finding's kind (`vanishing`, `healthy`, ...)",
    "step": "the last step trained",
    "nonfinite_step": "the first step whose gradients or loss were NaN/Inf (`none` if never)",
    "label": "the run's label (`sigmoid`, `ReLU + He init`, or the step's own label)",
    "contrast": "compare mode's headline: the strongest contrast of any run with run A "
                "(`{contrast.B}`: run B against run A). Needs two runs or more",
}
# Check claims, under a run's letter: {"A": {"diagnosis": "vanishing"}, "B": {...}}.
CHECKS: dict[str, str] = {
    "diagnosis": "the most serious finding's kind is this one (or one of these)",
    "finding": "each of these kinds is among the findings",
    "not_finding": "none of these kinds is among the findings",
    "ratio_below": "hidden layer 1's ratio to the output layer is below this number",
    "ratio_above": "... is above this number",
    "loss_below": "the training loss (mean of the last 50 steps) is below this",
    "loss_above": "... is above this",
    "accuracy_below": "the last test accuracy (0 to 1) is below this",
    "accuracy_above": "... is above this",
    "signal_ratio_below": "the forward signal ratio (last hidden / first hidden) is below this",
    "signal_ratio_above": "... is above this",
    "contrast_above": "under B, C or D: this run's gradient differs from run A's by more than "
                      "this factor at the layer where they differ most (a layer that gets no "
                      "gradient next to one that does counts as infinite)",
    "nonfinite": "true: the run's gradients or loss became NaN/Inf; false: they never did",
}
_KIND_CLAIMS = ("diagnosis", "finding", "not_finding")


class LessonError(ValueError):
    """A lesson file is wrong: one line naming the file, the line, the key and what is
    allowed."""

    def __init__(self, source: str, message: str, line: int | None = None,
                 key: str = "") -> None:
        self.source = source
        self.line = line
        self.key = key
        where = _short_path(source)
        if line is not None:
            where += f" line {line}"
        if key:
            where += f", {key}"
        super().__init__(one_line(f"{where}: {message}", MAX_LESSON_MESSAGE))


@dataclass(frozen=True)
class Predict:
    """Asked before Start; the answer and the explanation are shown after the run."""

    question: str
    answers: tuple[str, ...]
    correct_index: int  # 0-based index into answers (the file's "correct" counts from 1)
    explanation: str


@dataclass(frozen=True)
class LessonStep:
    title: str
    text: str
    runs: tuple[Config, ...]  # 1 network, or 2-4 compared; each config's steps == self.steps
    labels: tuple[str, ...]  # per run: the file's label or the automatic one (run_labels)
    spotlight: str  # one of SPOTLIGHTS
    steps: int  # training steps of every run
    evidence: str  # template; fill_evidence fills it
    predict: Predict | None = None
    check: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)  # letter -> claims
    line: int = 0  # where the step starts in its file

    @property
    def compare(self) -> bool:
        return len(self.runs) > 1

    @property
    def sentences(self) -> list[str]:
        return split_sentences(self.text)


@dataclass(frozen=True)
class Lesson:
    title: str
    steps: tuple[LessonStep, ...]
    source: str  # the file's path, or "lesson NAME" for a shipped one
    summary: str = ""


# -- reading a file ---------------------------------------------------------------------------
def load_lesson(path: str | Path) -> Lesson:
    """Read and validate a lesson file; every failure is one LessonError line."""
    p = Path(path)
    source = str(p)
    try:
        text = read_small_text(p, MAX_LESSON_BYTES)
    except FileProblem as exc:
        raise LessonError(source, exc.message(
            missing="lesson file not found",
            not_regular="is {what}, not a lesson file (a regular JSON file is needed)",
            too_large=f"too large: {{size:,}} bytes (a lesson file may have at most "
                      f"{MAX_LESSON_BYTES:,})",
            too_long=f"too large: more than {MAX_LESSON_BYTES:,} bytes (the limit for a lesson "
                     "file)",
            not_text="not a text file (expected UTF-8 JSON)")) from None
    return parse_lesson_text(text, source)


def shipped_lessons() -> tuple[str, ...]:
    """The names of the lessons that come with vgrad_gui (resources/lessons/NAME.json)."""
    folder = resources.files("vgrad_gui.resources").joinpath("lessons")
    return tuple(sorted(e.name[: -len(".json")] for e in folder.iterdir()
                        if e.name.endswith(".json")))


def load_shipped(name: str) -> Lesson:
    """A shipped lesson by name; an unknown name is a LessonError listing the names."""
    names = shipped_lessons()
    if name not in names:
        close = difflib.get_close_matches(name[:40], names, n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        raise LessonError(f"lesson {name}", "no such lesson; shipped lessons: "
                          + ", ".join(names) + hint)
    entry = resources.files("vgrad_gui.resources").joinpath("lessons").joinpath(f"{name}.json")
    return parse_lesson_text(entry.read_text(encoding="utf-8"), f"lesson {name}")


def open_lesson(name_or_path: str | Path) -> Lesson:
    """``--lesson X``: a file if X names one, else a shipped lesson called X."""
    text = str(name_or_path)
    if isinstance(name_or_path, Path) or os.path.lexists(text) or text.endswith(".json") \
            or os.sep in text:
        return load_lesson(text)
    return load_shipped(text)


def parse_lesson_text(text: str, source: str = "<lesson>") -> Lesson:
    """Parse and validate lesson JSON; every failure is one LessonError line."""
    if len(text) > MAX_LESSON_BYTES:
        raise LessonError(source, f"too large: {len(text):,} characters (a lesson file may "
                          f"have at most {MAX_LESSON_BYTES:,})")
    depth = _nesting(text)
    if depth > MAX_NESTING:
        raise LessonError(source, f"nested {depth} levels deep (at most {MAX_NESTING})")
    try:  # json's own messages for broken syntax; the scanner below only reads valid JSON
        json.loads(text, parse_int=_parse_int, parse_float=_parse_float,
                   parse_constant=lambda name: name)
    except json.JSONDecodeError as exc:
        what = exc.msg.removesuffix(" at")
        raise LessonError(source, f"not valid JSON: {what} (column {exc.colno})",
                          exc.lineno) from None
    except (RecursionError, ValueError) as exc:  # a backstop: the checks above should hold
        raise LessonError(source, f"cannot parse: {exc}") from None
    scanner = _Scanner(text, source)
    data = scanner.parse()
    return _Validator(source, scanner).lesson(data)


# -- the scanner: values and the line of every key --------------------------------------------
Path_ = tuple[str | int, ...]
_SPACE = re.compile(r"[ \t\n\r]*")
# json's own string reader (escapes, surrogates), the one json.loads uses; typeshed omits it.
_scanstring: Callable[[str, int, bool], tuple[str, int]] = json.decoder.scanstring  # type: ignore[attr-defined]


class _Scanner:
    """Reads valid JSON text again, recording the line of every object key and array item
    (by path), and refusing what json accepts but a lesson must not have: NaN, Infinity and a
    key given twice. Recursion is bounded by MAX_NESTING, checked before."""

    def __init__(self, text: str, source: str) -> None:
        self.text = text
        self.source = source
        self.lines: dict[Path_, int] = {}
        self._newlines = [m.start() for m in re.finditer("\n", text)]

    def line_at(self, offset: int) -> int:
        return bisect.bisect_left(self._newlines, offset) + 1

    def parse(self) -> Any:
        i = _SPACE.match(self.text, 0).end()  # type: ignore[union-attr]
        self.lines[()] = self.line_at(i)
        value, _ = self._value(i, ())
        return value

    def _skip(self, i: int) -> int:
        return _SPACE.match(self.text, i).end()  # type: ignore[union-attr]

    def _value(self, i: int, path: Path_) -> tuple[Any, int]:
        text = self.text
        ch = text[i]
        if ch == "{":
            return self._object(i, path)
        if ch == "[":
            return self._array(i, path)
        if ch == '"':
            return _scanstring(text, i + 1, True)
        for word, value in (("true", True), ("false", False), ("null", None)):
            if text.startswith(word, i):
                return value, i + len(word)
        m = NUMBER_RE.match(text, i)
        if m is None:  # NaN, Infinity, -Infinity: json reads them, JSON has no such thing
            word = next(w for w in ("NaN", "Infinity", "-Infinity") if text.startswith(w, i))
            raise LessonError(self.source, f"{word} is not a number JSON allows; write a "
                              "finite number", self.line_at(i), format_path(path))
        integer, frac, exp = m.groups()
        number = _parse_float(integer + (frac or "") + (exp or "")) if frac or exp \
            else _parse_int(integer)
        return number, m.end()

    def _object(self, i: int, path: Path_) -> tuple[dict[str, Any], int]:
        out: dict[str, Any] = {}
        i = self._skip(i + 1)
        if self.text[i] == "}":
            return out, i + 1
        while True:
            key_at = i
            key, i = _scanstring(self.text, i + 1, True)
            sub = (*path, key)
            if key in out:
                raise LessonError(self.source, "this key is given twice (each key once)",
                                  self.line_at(key_at), format_path(sub))
            self.lines[sub] = self.line_at(key_at)
            i = self._skip(self._skip(i) + 1)  # past the colon
            out[key], i = self._value(i, sub)
            i = self._skip(i)
            if self.text[i] == "}":
                return out, i + 1
            i = self._skip(i + 1)  # past the comma

    def _array(self, i: int, path: Path_) -> tuple[list[Any], int]:
        out: list[Any] = []
        i = self._skip(i + 1)
        if self.text[i] == "]":
            return out, i + 1
        while True:
            sub = (*path, len(out))
            self.lines[sub] = self.line_at(i)
            value, i = self._value(i, sub)
            out.append(value)
            i = self._skip(i)
            if self.text[i] == "]":
                return out, i + 1
            i = self._skip(i + 1)


def format_path(path: Path_) -> str:
    """('steps', 2, 'predict', 'answers') -> 'steps[2].predict.answers'."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            name = one_line(part, 40)
            out += f".{name}" if out else name
    return out


# -- validation -------------------------------------------------------------------------------
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z])")
_PLACEHOLDER = re.compile(r"\{\{|\}\}|\{([^{}]*)\}|[{}]")
_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def split_sentences(text: str) -> list[str]:
    """A sentence ends at '.', '!' or '?' followed by a space and a capital letter, so
    'He et al. 2015' and '0.25' do not end one."""
    return [s for s in _SENTENCE_END.split(text.strip()) if s]


class _Validator:
    def __init__(self, source: str, scanner: _Scanner) -> None:
        self.source = source
        self.scanner = scanner

    def fail(self, path: Path_, message: str) -> LessonError:
        line = None
        p = path
        while line is None:
            line = self.scanner.lines.get(p)
            if not p:
                break
            p = p[:-1]
        return LessonError(self.source, message, line, format_path(path))

    # -- generic pieces ---------------------------------------------------------------------
    def mapping(self, value: Any, path: Path_, allowed: Sequence[str], required: Sequence[str],
                what: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(path, f"got {_show(value)}; {what} must be a JSON object")
        for key in value:
            if key not in allowed:
                close = difflib.get_close_matches(key[:40], allowed, n=1)
                hint = f" (did you mean '{close[0]}'?)" if close else ""
                raise self.fail((*path, key), f"no such key; allowed keys: "
                                f"{', '.join(allowed)}{hint}")
        for key in required:
            if key not in value:
                raise self.fail(path, f"'{key}' is missing (required keys: "
                                f"{', '.join(required)})")
        return value

    def text(self, value: Any, path: Path_, limit: int, what: str = "a text") -> str:
        if not isinstance(value, str):
            raise self.fail(path, f"got {_show(value)}; allowed: {what} (a JSON string)")
        value = value.strip()
        if not value:
            raise self.fail(path, f"empty; allowed: {what} of 1 to {limit} characters")
        if _UNPRINTABLE.search(value):
            raise self.fail(path, "has a line break or control character; allowed: one line "
                            "of text")
        if len(value) > limit:
            raise self.fail(path, f"{len(value)} characters; allowed: at most {limit}")
        return value

    def sentences(self, value: Any, path: Path_) -> str:
        text = self.text(value, path, MAX_SENTENCES * (MAX_SENTENCE + 1), "1 to 3 sentences")
        parts = split_sentences(text)
        if len(parts) > MAX_SENTENCES:
            raise self.fail(path, f"{len(parts)} sentences; allowed: at most {MAX_SENTENCES} "
                            "(a sentence ends at . ! or ? followed by a capital letter)")
        for n, sentence in enumerate(parts, 1):
            if len(sentence) > MAX_SENTENCE:
                raise self.fail(path, f"sentence {n} has {len(sentence)} characters; allowed: "
                                f"at most {MAX_SENTENCE} ('{sentence[:30]}...')")
        return text

    def integer(self, value: Any, path: Path_, lo: int, hi: int, what: str) -> int:
        ok = isinstance(value, int) and not isinstance(value, bool)
        if isinstance(value, float) and value.is_integer():
            value, ok = int(value), True
        if not ok or not lo <= value <= hi:
            raise self.fail(path, f"got {_show(value)}; allowed: {what}")
        return int(value)

    # -- the lesson -------------------------------------------------------------------------
    def lesson(self, data: Any) -> Lesson:
        data = self.mapping(data, (), LESSON_KEYS, ("title", "steps"), "a lesson")
        if "format" in data and (data["format"] != FORMAT_VERSION
                                 or isinstance(data["format"], bool)):
            raise self.fail(("format",), f"got {_show(data['format'])}; allowed: "
                            f"{FORMAT_VERSION} (the only lesson format so far)")
        title = self.text(data["title"], ("title",), MAX_TITLE, "a title")
        summary = self.text(data["summary"], ("summary",), MAX_SUMMARY, "a summary") \
            if "summary" in data else ""
        steps = data["steps"]
        if not isinstance(steps, list) or not 1 <= len(steps) <= MAX_STEPS:
            count = f"{len(steps)} steps" if isinstance(steps, list) else f"got {_show(steps)}"
            raise self.fail(("steps",), f"{count}; allowed: a list of 1 to {MAX_STEPS} steps")
        return Lesson(title, tuple(self.step(s, ("steps", i)) for i, s in enumerate(steps)),
                      self.source, summary)

    def step(self, data: Any, path: Path_) -> LessonStep:
        data = self.mapping(data, path, STEP_KEYS, ("title", "text", "runs", "spotlight",
                                                    "steps", "evidence"), "a step")
        title = self.text(data["title"], (*path, "title"), MAX_TITLE, "a title")
        text = self.sentences(data["text"], (*path, "text"))
        spot = data["spotlight"]
        if spot not in SPOTLIGHTS:
            close = difflib.get_close_matches(spot[:40], SPOTLIGHTS, n=1) \
                if isinstance(spot, str) else []
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            raise self.fail((*path, "spotlight"), f"got {_show(spot)}; allowed: one of "
                            f"{', '.join(SPOTLIGHTS)}{hint}")
        train = self.integer(data["steps"], (*path, "steps"), MIN_TRAIN, MAX_TRAIN,
                             f"training steps, an integer from {MIN_TRAIN} to {MAX_TRAIN}")
        runs, labels = self.runs(data["runs"], (*path, "runs"), train)
        predict = self.predict(data["predict"], (*path, "predict")) if "predict" in data \
            else None
        evidence = self.text(data["evidence"], (*path, "evidence"), MAX_EVIDENCE,
                             "an evidence line")
        try:
            placeholders(evidence, len(runs))
        except ValueError as exc:
            raise self.fail((*path, "evidence"), str(exc)) from None
        check = self.check(data.get("check", {}), (*path, "check"), len(runs))
        line = self.scanner.lines.get(path, 0)
        return LessonStep(title, text, runs, labels, str(spot), train, evidence, predict,
                          check, line)

    def runs(self, value: Any, path: Path_, train: int
             ) -> tuple[tuple[Config, ...], tuple[str, ...]]:
        if not isinstance(value, list) or not 1 <= len(value) <= MAX_RUNS:
            count = f"{len(value)} runs" if isinstance(value, list) else f"got {_show(value)}"
            raise self.fail(path, f"{count}; allowed: a list of 1 network, or 2 to {MAX_RUNS} "
                            "compared side by side")
        configs, given = [], []
        for i, item in enumerate(value):
            config, label = self.run(item, (*path, i), train)
            configs.append(config)
            given.append(label)
        return tuple(configs), tuple(run_labels(configs, given))

    def run(self, value: Any, path: Path_, train: int) -> tuple[Config, str]:
        config_keys = [f.name for f in FIELD_BY_NAME.values() if f.name != "steps"]
        allowed = (*RUN_KEYS, *config_keys)
        if isinstance(value, dict) and "steps" in value:
            raise self.fail((*path, "steps"), "a run's length is its step's 'steps' (every "
                            "run of a step trains the same number of steps)")
        value = self.mapping(value, path, allowed, (), "a run")
        base: dict[str, Any] = {}
        if "preset" in value:
            name = value["preset"]
            if not isinstance(name, str) or name not in preset_names():
                close = difflib.get_close_matches(name[:40], preset_names(), n=1) \
                    if isinstance(name, str) else []
                hint = f" (did you mean '{close[0]}'?)" if close else ""
                raise self.fail((*path, "preset"), f"got {_show(name)}; allowed: one of "
                                f"{', '.join(preset_names())}{hint}")
            base = get_preset(name).config.to_dict()
        label = self.text(value["label"], (*path, "label"), MAX_LABEL_CHARS, "a label") \
            if "label" in value else ""
        overrides = {k: v for k, v in value.items() if k not in RUN_KEYS}
        try:
            config = Config.from_dict({**base, **overrides, "steps": train})
        except ConfigError as exc:
            key = exc.key if exc.key in overrides else ""
            where = (*path, key) if key else path
            raise self.fail(where, f"got {_show(exc.value)}; allowed: {exc.allowed}") \
                from None
        return config, label

    def predict(self, value: Any, path: Path_) -> Predict:
        value = self.mapping(value, path, PREDICT_KEYS, PREDICT_KEYS, "a prediction")
        question = self.text(value["question"], (*path, "question"), MAX_QUESTION,
                             "a question")
        answers = value["answers"]
        if not isinstance(answers, list) or not MIN_ANSWERS <= len(answers) <= MAX_ANSWERS:
            count = f"{len(answers)} answers" if isinstance(answers, list) \
                else f"got {_show(answers)}"
            raise self.fail((*path, "answers"), f"{count}; allowed: {MIN_ANSWERS} to "
                            f"{MAX_ANSWERS} answers")
        texts = tuple(self.text(a, (*path, "answers", i), MAX_ANSWER, "an answer")
                      for i, a in enumerate(answers))
        correct = self.integer(value["correct"], (*path, "correct"), 1, len(texts),
                               f"1 to {len(texts)}, the number of the right answer "
                               "counting from 1")
        explanation = self.sentences(value["explanation"], (*path, "explanation"))
        return Predict(question, texts, correct - 1, explanation)

    def check(self, value: Any, path: Path_, n_runs: int) -> dict[str, dict[str, Any]]:
        letters = LETTERS[:n_runs]
        value = self.mapping(value, path, tuple(letters), (), "a check (run letter -> "
                             "claims)")
        out: dict[str, dict[str, Any]] = {}
        for letter, claims in value.items():
            sub = (*path, letter)
            claims = self.mapping(claims, sub, tuple(CHECKS), (), f"run {letter}'s claims")
            if not claims:
                raise self.fail(sub, f"no claims; allowed: {', '.join(CHECKS)}")
            out[letter] = {k: self.claim(k, v, (*sub, k), letter, n_runs)
                           for k, v in claims.items()}
        return out

    def claim(self, key: str, value: Any, path: Path_, letter: str, n_runs: int) -> Any:
        if key in _KIND_CLAIMS:
            kinds = value if isinstance(value, list) else [value]
            if not kinds or any(k not in FINDING_KINDS for k in kinds):
                raise self.fail(path, f"got {_show(value)}; allowed: a finding kind or a "
                                f"list of them: {', '.join(FINDING_KINDS)}")
            return tuple(kinds)
        if key == "nonfinite":
            if not isinstance(value, bool):
                raise self.fail(path, f"got {_show(value)}; allowed: true or false")
            return value
        if key == "contrast_above" and (letter == "A" or n_runs < 2):
            raise self.fail(path, "contrast_above compares a run with run A; put it under "
                            + ("B, C or D" if n_runs > 1 else "a second run's letter"))
        if isinstance(value, (bool, NumberText)) or not isinstance(value, (int, float)) \
                or not math.isfinite(value):
            raise self.fail(path, f"got {_show(value)}; allowed: a finite number")
        return float(value)


def run_labels(configs: Sequence[Config], given: Sequence[str] = ()) -> list[str]:
    """Each run's label: the one the file gives, else run A's ``describe`` and the others'
    ``auto_label`` against run A (what compare mode names them)."""
    out = []
    for i, config in enumerate(configs):
        label = given[i] if i < len(given) else ""
        if not label:
            label = describe(config) if i == 0 else auto_label(configs[0], config)
        out.append(label)
    return out


def placeholders(template: str, n_runs: int) -> list[tuple[str, int]]:
    """The (name, run index) of every placeholder in an evidence template; ValueError naming
    the first one that is not allowed."""
    found = []
    for m in _PLACEHOLDER.finditer(template):
        token = m.group(0)
        if token in ("{{", "}}"):
            continue
        if m.group(1) is None:
            raise ValueError(f"a lone '{token}'; write {{{{ or }}}} for a brace, {{name}} for "
                             "a placeholder")
        name, dot, letter = m.group(1).strip().partition(".")
        if name not in EVIDENCE:
            close = difflib.get_close_matches(name[:40], EVIDENCE, n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            raise ValueError(f"unknown placeholder {{{one_line(m.group(1), 40)}}}; allowed: "
                             f"{', '.join(EVIDENCE)}, each optionally .B, .C or .D for that "
                             f"run{hint}")
        if name == "contrast" and n_runs < 2:
            raise ValueError("{contrast} needs two runs or more (this step has one)")
        if not dot:
            index = 0
        elif len(letter) == 1 and letter in LETTERS[:n_runs]:
            index = LETTERS.index(letter)
        else:
            raise ValueError(f"{{{one_line(m.group(1), 40)}}}: this step has runs "
                             f"{', '.join(LETTERS[:n_runs])}")
        if name == "contrast" and index == 0 and letter:
            raise ValueError("{contrast.A}: a contrast is of B, C or D with run A; {contrast} "
                             "alone is the headline")
        found.append((name, index))
    return found


# -- reading a run ----------------------------------------------------------------------------
def _signal_ratio(history: RunHistory) -> float | None:
    """Forward signal std, last hidden layer over the first (the rule diagnose judges)."""
    probe = readings.probe_reading(history)
    sig = None if probe is None else probe.get("signal_std")
    if sig is None or len(sig) < 2:
        return None
    hidden = sig[:-1]
    if not (math.isfinite(hidden[0]) and math.isfinite(hidden[-1]) and hidden[0] > 0):
        return None
    return float(hidden[-1] / hidden[0])


def _contrast_of(runs: Sequence[Run], index: int, cursor: Cursor) -> Contrast | None:
    letters = {r.run_id: LETTERS[i] for i, r in enumerate(runs)}
    if index == 0:
        return headline(runs, cursor, letters)
    base, other = runs[0], runs[index]
    return contrast(base, other, cursor.step_for(base), cursor.step_for(other), letters)


def _factor(c: Contrast) -> float | None:
    """How many times one gradient is the other's; None when no comparison can be made."""
    if c.kind == BROKEN:
        return None
    if c.kind in (ONLY_OTHER, ONLY_BASE):
        return math.inf
    return 10.0 ** c.strength


def _value(name: str, runs: Sequence[Run], index: int, cursor: Cursor) -> str:
    run = runs[index]
    h = run.history
    if name == "label":
        return run.label or LETTERS[index]
    if name == "contrast":
        c = _contrast_of(runs, index, cursor)
        return NOT_READ if c is None else c.text
    if name == "step":
        return str(h.step)
    if name == "nonfinite_step":
        first = readings.first_nonfinite_step(h)
        return "none" if first is None else str(first)
    if name in ("diagnosis", "finding"):
        findings = diagnose(h)
        if not findings:
            return NOT_READ
        return summary_line(findings) if name == "diagnosis" else findings[0].kind
    if name == "loss":
        got = readings.window_mean(h, "loss")
        return NOT_READ if got is None else _loss_text(got[0])
    if name == "accuracy":
        acc = readings.eval_at(h, "test_accuracy")
        return NOT_READ if acc is None else _percent(acc)
    if name == "signal_ratio":
        s = _signal_ratio(h)
        return NOT_READ if s is None else readings.ratio_text(s)
    reading = readings.grad_reading(h)
    if reading is None:
        return NOT_READ
    if name == "ratio":
        return readings.ratio_label(reading, 0)
    if name == "grad_first":
        return readings.norm_label(reading, 0)
    if name == "grad_out":
        return readings.norm_label(reading, len(reading.norms) - 1)
    raise KeyError(name)  # placeholders() admits only EVIDENCE's names


def _loss_text(x: float) -> str:
    # Three decimals read well from 0.693 down to 0.01; a converged net's 3e-4 would read 0.000.
    return f"{x:.3f}" if math.isfinite(x) and abs(x) >= 0.01 else readings.value_text(x)


def _percent(x: float) -> str:
    return readings.value_text(x) if not math.isfinite(x) else f"{x:.0%}"


def evidence_values(step: LessonStep, runs: Sequence[Run],
                    cursor: Cursor | None = None) -> dict[str, str]:
    """Every placeholder of the step's evidence, filled from ``runs`` (in the step's order,
    run A first) at the cursor (default: each run's last step): {'ratio.B': '1/190', ...}."""
    _check_runs(step, runs)
    cursor = cursor or Cursor()
    out = {}
    for name, index in placeholders(step.evidence, len(runs)):
        key = name if index == 0 else f"{name}.{LETTERS[index]}"
        out[key] = _value(name, runs, index, cursor)
    return out


def fill_evidence(step: LessonStep, runs: Sequence[Run], cursor: Cursor | None = None) -> str:
    """The evidence line with its placeholders filled from ``runs`` (the step's runs, in its
    order); a value not recorded yet reads 'n/a'."""
    values = evidence_values(step, runs, cursor)

    def sub(m: re.Match[str]) -> str:
        token = m.group(0)
        if token in ("{{", "}}"):
            return token[0]
        name, _, letter = m.group(1).strip().partition(".")
        return values[f"{name}.{letter}" if letter and letter != "A" else name]

    return _PLACEHOLDER.sub(sub, step.evidence)


def _check_runs(step: LessonStep, runs: Sequence[Run]) -> None:
    if len(runs) != len(step.runs):
        raise ValueError(f"this step has {len(step.runs)} runs; got {len(runs)}")


def check_step(step: LessonStep, runs: Sequence[Run]) -> list[str]:
    """The step's check against its finished ``runs``: each claim that does not hold, in
    words ('B: test accuracy 51% is not above 95%'); empty when all hold."""
    _check_runs(step, runs)
    cursor = Cursor()
    failed = []
    for letter, claims in step.check.items():
        index = LETTERS.index(letter)
        for key, want in claims.items():
            problem = _claim_problem(key, want, runs, index, cursor)
            if problem:
                failed.append(f"{letter}: {problem}")
    return failed


def _claim_problem(key: str, want: Any, runs: Sequence[Run], index: int,
                   cursor: Cursor) -> str:
    h = runs[index].history
    if h.step == 0:
        return "the run trained no step"
    if key in _KIND_CLAIMS:
        kinds = [f.kind for f in diagnose(h)]
        if key == "diagnosis" and kinds[0] not in want:
            return f"the diagnosis is '{kinds[0]}', not {' or '.join(want)}"
        if key == "finding":
            missing = [k for k in want if k not in kinds]
            if missing:
                return f"no '{missing[0]}' finding (findings: {', '.join(kinds)})"
        if key == "not_finding":
            present = [k for k in want if k in kinds]
            if present:
                return f"a '{present[0]}' finding (findings: {', '.join(kinds)})"
        return ""
    if key == "nonfinite":
        first = readings.first_nonfinite_step(h)
        if want and first is None:
            return "gradients and loss stayed finite"
        if not want and first is not None:
            return f"gradients or loss became NaN/Inf at step {first}"
        return ""
    if key == "contrast_above":
        c = _contrast_of(runs, index, cursor)
        factor = None if c is None else _factor(c)
        if factor is None:
            return "no comparison with run A could be made"
        return "" if factor > want else f"the largest contrast with A is {factor:.3g}x, not " \
            f"above {want:g}x"
    name, _, side = key.rpartition("_")
    got = _measure(name, h)
    if got is None or not math.isfinite(got):
        return f"{name} could not be read"
    holds = got < want if side == "below" else got > want
    return "" if holds else f"{name} is {got:.3g}, not {side} {want:g}"


def _measure(name: str, h: RunHistory) -> float | None:
    if name == "ratio":
        reading = readings.grad_reading(h)
        return None if reading is None else float(reading.ratios[0])
    if name == "loss":
        got = readings.window_mean(h, "loss")
        return None if got is None else got[0]
    if name == "accuracy":
        return readings.eval_at(h, "test_accuracy")
    return _signal_ratio(h)


# -- training a step headless -----------------------------------------------------------------
def run_step(step: LessonStep, cache: dict[Config, RunHistory] | None = None,
             on_block: Callable[[], object] | None = None) -> list[Run]:
    """Train the step's runs in this process, in lockstep, as compare mode does (tests, and
    checking a lesson file without a window). ``cache`` maps a config to its finished
    history: the same config (steps included) is trained once (a seed gives the same run).
    Imports torch."""
    from vgrad_gui.core.lockstep import FAILED, Lockstep
    from vgrad_gui.core.probe import MAX_BLOCK

    cache = {} if cache is None else cache
    todo = [i for i, c in enumerate(step.runs) if c not in cache]
    lock = Lockstep()
    histories: dict[int, RunHistory] = {}
    for i in todo:
        if step.runs[i] in {step.runs[j] for j in histories}:
            continue  # the same network twice in one step: train it once
        trainer = lock.add(i, step.runs[i])
        histories[i] = RunHistory(step.runs[i], trainer.layer_names,
                                  trainer.probe.inactive_kind)
    while not lock.done:
        for i, block in lock.step_all(MAX_BLOCK).items():
            histories[i].append(block)
        if on_block is not None:
            on_block()
    for i in histories:
        if lock.status(i) == FAILED:
            failure = lock.failure(i)
            raise RuntimeError(f"run {LETTERS[i]} of '{step.title}': "
                               f"{failure.message if failure else 'failed'}")
        cache[step.runs[i]] = histories[i]
    return [Run.from_history(cache[c], run_id=i, label=step.labels[i])
            for i, c in enumerate(step.runs)]


# -- the format reference, for the README ------------------------------------------------------
def reference_tables() -> str:
    """The evidence placeholders and the check claims as Markdown tables (what the README's
    lesson-format section lists; a test keeps the two in step)."""
    rows = ["| Placeholder | Reads |", "|---|---|"]
    rows += [f"| `{{{name}}}` | {text} |" for name, text in EVIDENCE.items()]
    rows += ["", "| Claim | Holds when |", "|---|---|"]
    rows += [f"| `{name}` | {text} |" for name, text in CHECKS.items()]
    return "\n".join(rows)
