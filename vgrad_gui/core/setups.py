"""Shareable setups: one network, a comparison of two to four, or a shipped lesson at a step,
with the views hidden and the speed and theme chosen, as one short text string or a small
JSON file.

The string is ``vgrad1:`` and the base64url (no padding) of the zlib-compressed compact JSON
of the setup. Only the config values that differ from ``V1_DEFAULTS`` are written, and the
compressor is primed with ``_ZDICT`` (the key and choice names a setup is made of), so a
preset's network is about 30-40 characters and a four-run comparison about 100. Copying it from
the app, pasting it into an e-mail or a chat, a URL or ``vgrad-gui --setup STRING`` keeps it
whole: it uses only letters, digits, ``-``, ``_`` and the ``:`` of its prefix.

The file is the same JSON, indented, with ``"format": 1`` (see ``FILE_HELP``): a lecturer can
write one by hand (``"preset"`` in a run starts from a preset; a missing key is its default). A
file holding a setup string is read as that string.

Reading is strict, bounded and never executes anything: the string's length is checked before
it is decoded, its characters before base64, the decompressed size is capped (a kilobyte that
inflates to gigabytes stops at MAX_JSON_BYTES), the JSON is read by the config's own rules (no
NaN or Infinity, no key given twice, nesting bounded, overlong numbers kept as text), every run
goes through ``Config.from_dict`` and unknown keys are refused with the allowed ones. Every
problem is one SetupError line naming what is wrong and what is allowed.

``V1_DEFAULTS`` and ``_ZDICT`` are part of the ``vgrad1`` format: a string written today must
mean the same network after ``Config``'s defaults change, so they are frozen here and never
edited; a different table needs a new prefix (``vgrad2:``), with ``vgrad1`` still read.
"""

from __future__ import annotations

import base64
import binascii
import difflib
import functools
import json
import re
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vgrad_gui.core.lessons import LessonError, load_shipped, run_labels, shipped_lessons
from vgrad_gui.core.presets import get_preset
from vgrad_gui.core.spec import (
    FIELD_BY_NAME,
    MAX_NESTING,
    Config,
    ConfigError,
    FileProblem,
    NumberText,
    _DuplicateKey,
    _nesting,
    _parse_float,
    _parse_int,
    _short_path,
    _show,
    _unique_keys,
    one_line,
    read_small_text,
)
from vgrad_gui.core.workspace import MAX_LABEL_CHARS, MAX_RUNS

FORMAT_VERSION = 1
PREFIX = f"vgrad{FORMAT_VERSION}:"
VIEW_KEYS = ("heatmap", "lines", "bars", "loss", "boundary", "health", "signal")
THEMES = ("dark", "light")
LETTERS = "ABCD"

# Limits. Four runs with every key written are ~1.7 KB of JSON and ~600 characters of string;
# these only stop hostile or mistaken input early.
MAX_STRING_CHARS = 4096  # checked before any decoding
MAX_JSON_BYTES = 16_384  # decompressed: a zip bomb stops here
MAX_FILE_BYTES = 100_000  # an indented file with long labels is ~3 KB
MAX_SETUP_MESSAGE = 400  # a message may list the allowed keys
MIN_SPEED, MAX_SPEED = 0.1, 100_000.0  # steps per second; left out: as fast as possible

SETUP_KEYS = ("format", "runs", "labels", "lesson", "lesson_step", "hidden_views", "speed",
              "theme")
RUN_EXTRA_KEYS = ("preset",)  # a run in a file may start from a preset

# Config's defaults when vgrad1 was made: missing run keys mean these, whatever Config's own
# defaults become. A key added to Config later is not here, so it is always written.
V1_DEFAULTS: Mapping[str, Any] = {
    "depth": 10, "width": 32, "activation": "sigmoid", "init": "default", "norm": "none",
    "residual": False, "optimizer": "sgd", "lr": 0.1, "batch_size": 64, "dataset": "moons",
    "samples": 1000, "noise": 0.1, "seed": 0, "steps": 2000, "device": "auto",
}

# zlib's preset dictionary for vgrad1: the JSON a setup is made of. deflate copies from it
# like from earlier text, so '"activation":"relu"' costs a few bits instead of 19 bytes. The
# most common pieces are last (nearest the data: shorter distances are cheaper). Frozen with
# the format: a string compressed with it only decompresses with exactly these bytes.
_ZDICT = (
    b'"device":"cpu""cuda""mps""samples":"noise":"seed":"dataset":"spirals""circles""xor"'
    b'"blobs""digits""batch_size":"optimizer":"momentum""adam""steps":"speed":"theme":"light"'
    b'"dark""hidden_views":["heatmap","lines","bars","loss","boundary","health","signal"]'
    b',"lesson":"vanishing_gradients","lesson_step":"labels":["'
    b'"orthogonal""lecun_normal""xavier_normal""xavier_uniform""he_uniform""large_normal"'
    b'"small_normal""leaky_relu""elu""gelu""selu""linear""tanh""norm":"layer""batch"'
    b'"residual":true,"width":"lr":0.01,"depth":'
    b'{"runs":[{"activation":"sigmoid"},{"activation":"relu","init":"he_normal"}]}'
)

# "vgrad-gui --setup " (or "vgrad-gui gui --setup=") pasted along with the string.
_COMMAND = re.compile(r"^(?:vgrad-gui\s+(?:gui\s+)?)?--setup(?:=|\s+)")
_VERSION = re.compile(r"^vgrad(\d{1,6}):")
_BAD_CHAR = re.compile(r"[^A-Za-z0-9_-]")
_SPACE = re.compile(r"\s+")


class SetupError(ValueError):
    """A setup string or file is wrong: one line naming the source, what is wrong and what is
    allowed."""

    def __init__(self, message: str, source: str | None = None) -> None:
        self.source = source
        where = f"{_short_path(source)}: " if source else ""
        super().__init__(one_line(where + message, MAX_SETUP_MESSAGE))


@dataclass(frozen=True)
class Setup:
    """What a window shows, to share. Building one checks it (SetupError).

    runs: the networks, A to D (1 to 4). With a lesson they may be left out (empty): the
    step's own networks. labels: one per run, or None for the automatic ones. lesson: a shipped
    lesson's name (``shipped_lessons()``) and lesson_step its step, counted from 1 (None: the
    first). hidden_views: keys from VIEW_KEYS, kept in that order. speed: training steps per
    second, None for as fast as possible (the app's default). theme: "dark", "light", or None
    to keep the viewer's own.
    """

    runs: tuple[Config, ...]
    labels: tuple[str, ...] | None = None
    lesson: str | None = None
    lesson_step: int | None = None
    hidden_views: tuple[str, ...] = ()
    speed: float | None = None
    theme: str | None = None

    def __post_init__(self) -> None:
        runs = tuple(self.runs)
        if not all(isinstance(c, Config) for c in runs):
            raise SetupError("runs: each run must be a Config")
        lowest = 0 if self.lesson is not None else 1
        if not lowest <= len(runs) <= MAX_RUNS:
            allowed = (f"0 to {MAX_RUNS} with a lesson (none: the step's own)"
                       if lowest == 0 else f"1 to {MAX_RUNS} (with no lesson)")
            raise SetupError(f"runs: {len(runs)} runs; allowed: {allowed}")
        object.__setattr__(self, "runs", runs)
        if self.labels is not None:
            labels = tuple(self.labels)
            if len(labels) != len(runs):
                raise SetupError(f"labels: {len(labels)} labels for {len(runs)} runs; allowed: "
                                 "one label per run, or none for the automatic ones")
            for i, label in enumerate(labels):
                _check_label(label, f"labels[{i}]")
            object.__setattr__(self, "labels", labels)
        _check_lesson(self.lesson, self.lesson_step)
        hidden = tuple(self.hidden_views)
        for key in hidden:
            if not isinstance(key, str) or key not in VIEW_KEYS:
                raise SetupError(f"hidden_views: got {_show(key)}; allowed: "
                                 f"{', '.join(VIEW_KEYS)}{_hint(key, VIEW_KEYS)}")
        if len(set(hidden)) != len(hidden):
            raise SetupError("hidden_views: a view is named twice; allowed: each view once")
        object.__setattr__(self, "hidden_views", tuple(k for k in VIEW_KEYS if k in hidden))
        if self.speed is not None:
            speed = self.speed
            # The range test also refuses NaN and infinities, and needs no float() of a huge int.
            if isinstance(speed, bool) or not isinstance(speed, (int, float)) \
                    or not MIN_SPEED <= speed <= MAX_SPEED:
                raise SetupError(f"speed: got {_show(speed)}; allowed: steps per second from "
                                 f"{MIN_SPEED:g} to {MAX_SPEED:g}, or left out for as fast as "
                                 "possible")
            object.__setattr__(self, "speed", float(speed))
        if self.theme is not None and self.theme not in THEMES:
            raise SetupError(f"theme: got {_show(self.theme)}; allowed: "
                             f"{', '.join(THEMES)}, or left out for the viewer's own")


def _hint(value: Any, choices: tuple[str, ...]) -> str:
    if not isinstance(value, str) or len(value) > 40:
        return ""
    close = difflib.get_close_matches(value.lower(), choices, n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _check_label(label: Any, key: str) -> None:
    allowed = (f"1 to {MAX_LABEL_CHARS} printable characters on one line, or no labels at "
               "all for the automatic ones")
    if not isinstance(label, str) or not label.strip() or len(label) > MAX_LABEL_CHARS \
            or one_line(label) != label:
        raise SetupError(f"{key}: got {_show(label)}; allowed: {allowed}")


def _check_lesson(lesson: Any, step: Any) -> None:
    if lesson is None:
        if step is not None:
            raise SetupError("lesson_step: given without a lesson; allowed: only with "
                             "'lesson'")
        return
    names = shipped_lessons()
    if not isinstance(lesson, str) or lesson not in names:
        raise SetupError(f"lesson: got {_show(lesson)}; allowed: a shipped lesson, one of "
                         f"{', '.join(names)}{_hint(lesson, names)} (a lesson file of your own "
                         "opens with --lesson FILE)")
    if step is None:
        return
    count = _lesson_length(lesson)
    if isinstance(step, bool) or not isinstance(step, int) or not 1 <= step <= count:
        raise SetupError(f"lesson_step: got {_show(step)}; allowed: an integer from 1 to "
                         f"{count} (lesson {lesson} has {count} steps)")


@functools.lru_cache(maxsize=8)
def _lesson_length(name: str) -> int:
    try:
        return len(load_shipped(name).steps)
    except LessonError as exc:  # a broken shipped lesson: say so rather than crash
        raise SetupError(f"lesson: {exc}") from None


# -- to and from JSON data ----------------------------------------------------------------------
def to_data(setup: Setup) -> dict[str, Any]:
    """The setup as a JSON-ready dict of the fields that are set; each run holds only the
    keys that differ from V1_DEFAULTS."""
    data: dict[str, Any] = {}
    if setup.runs:
        data["runs"] = [_run_data(c) for c in setup.runs]
    if setup.labels is not None:
        data["labels"] = list(setup.labels)
    if setup.lesson is not None:
        data["lesson"] = setup.lesson
    if setup.lesson_step is not None:
        data["lesson_step"] = setup.lesson_step
    if setup.hidden_views:
        data["hidden_views"] = list(setup.hidden_views)
    if setup.speed is not None:
        speed = setup.speed
        data["speed"] = int(speed) if speed.is_integer() else speed
    if setup.theme is not None:
        data["theme"] = setup.theme
    return data


def _run_data(config: Config) -> dict[str, Any]:
    out = {}
    for key, value in config.to_dict().items():
        if key not in V1_DEFAULTS or value != V1_DEFAULTS[key] \
                or type(value) is not type(V1_DEFAULTS[key]):
            out[key] = value
    return out


def from_data(data: Any, source: str | None = None) -> Setup:
    """A Setup from parsed JSON (a string's or a file's); every problem one SetupError."""
    if not isinstance(data, Mapping):
        raise SetupError(f"a setup is a JSON object, got {_json_kind(data)}", source)
    for key in data:
        if key not in SETUP_KEYS:
            raise SetupError(f"unknown key {_show(key)}; allowed keys: {', '.join(SETUP_KEYS)}"
                             f"{_hint(key, SETUP_KEYS)}", source)
    fmt = data.get("format", FORMAT_VERSION)
    if isinstance(fmt, bool) or fmt != FORMAT_VERSION:
        raise SetupError(f"format: got {_show(fmt)}; allowed: {FORMAT_VERSION} (a newer "
                         "vgrad-gui may read other formats)", source)
    runs_data = data.get("runs", [])
    if not isinstance(runs_data, list):
        raise SetupError(f"runs: got {_json_kind(runs_data)}; allowed: a list of 1 to "
                         f"{MAX_RUNS} runs, each a JSON object of config keys", source)
    if len(runs_data) > MAX_RUNS:  # before building any of them
        raise SetupError(f"runs: {len(runs_data)} runs; allowed: 1 to {MAX_RUNS}", source)
    runs = tuple(_run_from(r, i, source) for i, r in enumerate(runs_data))
    labels = data.get("labels")
    if labels is not None and not isinstance(labels, list):
        raise SetupError(f"labels: got {_json_kind(labels)}; allowed: a list of strings, one "
                         "per run", source)
    hidden = data.get("hidden_views", [])
    if not isinstance(hidden, list):
        raise SetupError(f"hidden_views: got {_json_kind(hidden)}; allowed: a list of "
                         f"{', '.join(VIEW_KEYS)}", source)
    try:
        return Setup(runs=runs, labels=None if labels is None else tuple(labels),
                     lesson=data.get("lesson"), lesson_step=data.get("lesson_step"),
                     hidden_views=tuple(hidden), speed=data.get("speed"),
                     theme=data.get("theme"))
    except SetupError as exc:
        raise SetupError(str(exc), source) from None


def _run_from(data: Any, index: int, source: str | None) -> Config:
    where = f"runs[{index}] ({LETTERS[index]})"
    if not isinstance(data, Mapping):
        raise SetupError(f"{where}: got {_json_kind(data)}; allowed: a JSON object of config "
                         "keys", source)
    for key in data:
        if key not in FIELD_BY_NAME and key not in RUN_EXTRA_KEYS:
            known = (*FIELD_BY_NAME, *RUN_EXTRA_KEYS)
            raise SetupError(f"{where}: unknown key {_show(key)}; allowed keys: "
                             f"{', '.join(known)}{_hint(key, known)}", source)
    values: dict[str, Any] = dict(V1_DEFAULTS)
    rest = dict(data)
    try:
        if "preset" in rest:
            name = rest.pop("preset")
            if not isinstance(name, str):
                raise ConfigError("preset", name, "a preset's name")
            values.update(get_preset(name).config.to_dict())
        values.update(rest)
        return Config.from_dict(values)
    except ConfigError as exc:
        raise SetupError(f"{where}: {exc}", source) from None


def _json_kind(value: Any) -> str:
    if isinstance(value, list):
        return "a list"
    if isinstance(value, Mapping):
        return "an object"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (NumberText, int, float)):
        return "a number"
    return "a string" if isinstance(value, str) else f"a {type(value).__name__}"


class _Constant(Exception):
    pass


def _refuse_constant(name: str) -> Any:
    raise _Constant(name)


def parse_json(text: str, source: str | None = None) -> Any:
    """JSON by the config's rules: nesting bounded, no NaN/Infinity, each key once, overlong
    numbers kept as NumberText (then refused by the key they belong to)."""
    depth = _nesting(text)
    if depth > MAX_NESTING:
        raise SetupError(f"nested {depth} levels deep; allowed: at most {MAX_NESTING}", source)
    try:
        return json.loads(text, parse_int=_parse_int, parse_float=_parse_float,
                          parse_constant=_refuse_constant, object_pairs_hook=_unique_keys)
    except json.JSONDecodeError as exc:
        what = exc.msg.removesuffix(" at")
        raise SetupError(f"not valid JSON: {what} at line {exc.lineno} column {exc.colno}",
                         source) from None
    except _DuplicateKey as exc:
        raise SetupError(f"key {_show(exc.key)} is given twice; allowed: each key once",
                         source) from None
    except _Constant as exc:
        raise SetupError(f"{exc} is not a number JSON allows; allowed: finite numbers",
                         source) from None
    except (RecursionError, ValueError) as exc:  # a backstop: the checks above should hold
        raise SetupError(f"cannot parse: {exc}", source) from None


# -- the string ----------------------------------------------------------------------------------
def to_string(setup: Setup) -> str:
    """The setup as ``vgrad1:`` + base64url: short, one line, safe in URLs and clipboards."""
    text = json.dumps(to_data(setup), separators=(",", ":"), ensure_ascii=False)
    packer = zlib.compressobj(9, zlib.DEFLATED, 15, 9, zlib.Z_DEFAULT_STRATEGY, _ZDICT)
    packed = packer.compress(text.encode("utf-8")) + packer.flush()
    return PREFIX + base64.urlsafe_b64encode(packed).decode("ascii").rstrip("=")


def from_string(text: str, source: str = "setup string") -> Setup:
    """Read a setup string; whitespace around (and inside: a line wrapped by an e-mail),
    quotes around and a leading ``vgrad-gui --setup`` are tolerated. Every problem is one
    SetupError line."""
    if not isinstance(text, str):
        raise SetupError(f"got {_json_kind(text)}; allowed: a text string", source)
    if len(text) > MAX_STRING_CHARS:
        raise SetupError(f"too long: {len(text):,} characters; allowed: at most "
                         f"{MAX_STRING_CHARS:,} (a setup string is usually under 200)", source)
    text = text.strip()
    text = _COMMAND.sub("", text).strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        text = text[1:-1].strip()
    version = _VERSION.match(text)
    if version is None:
        if not text:
            raise SetupError(f"empty; allowed: a string starting with '{PREFIX}'", source)
        raise SetupError(f"not a setup string: got {_show(text[:24])}; allowed: a string "
                         f"starting with '{PREFIX}' (Copy setup in the app makes one)", source)
    if version.group(1) != str(FORMAT_VERSION):
        raise SetupError(f"format 'vgrad{one_line(version.group(1), 8)}:' is not one this "
                         f"vgrad-gui reads; allowed: '{PREFIX}' (a newer vgrad-gui may have "
                         "made this string)", source)
    payload = _SPACE.sub("", text[version.end():])
    if not payload:
        raise SetupError(f"empty after '{PREFIX}'; allowed: the letters, digits, - and _ "
                         "that Copy setup puts after it", source)
    bad = _BAD_CHAR.search(payload.rstrip("="))
    if bad is not None or len(payload) - len(payload.rstrip("=")) > 2:
        char = bad.group() if bad is not None else "="
        where = bad.start() if bad is not None else len(payload.rstrip("="))
        raise SetupError(f"character {char!a} at position {where + 1} after '{PREFIX}'; "
                         "allowed: letters, digits, - and _ (was the string changed?)", source)
    payload = payload.rstrip("=")
    if len(payload) % 4 == 1:
        raise SetupError("damaged: its length cannot be base64; allowed: the string exactly "
                         "as copied (was it cut short?)", source)
    try:
        packed = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    except (binascii.Error, ValueError):  # a backstop: the characters were checked
        raise SetupError("damaged: not base64url; allowed: the string exactly as copied",
                         source) from None
    raw = _inflate(packed, source)
    try:
        body = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise SetupError("damaged: the data is not UTF-8 text", source) from None
    return from_data(parse_json(body, source), source)


def _inflate(packed: bytes, source: str) -> bytes:
    """Decompress at most MAX_JSON_BYTES; a stream that would make more (a zip bomb), ends
    early (a cut string) or fails its checksum is refused."""
    inflater = zlib.decompressobj(15, _ZDICT)
    try:
        raw = inflater.decompress(packed, MAX_JSON_BYTES + 1)
    except zlib.error:
        raise SetupError("damaged: the data does not decompress; allowed: the string exactly "
                         "as copied (was it cut or changed?)", source) from None
    if len(raw) > MAX_JSON_BYTES:
        raise SetupError(f"decompresses to more than {MAX_JSON_BYTES:,} bytes; allowed: at "
                         f"most {MAX_JSON_BYTES:,} (a setup is under 2,000)", source)
    if not inflater.eof:
        raise SetupError("damaged: the data ends early; allowed: the string exactly as "
                         "copied (was it cut short?)", source)
    if inflater.unused_data:
        raise SetupError(f"damaged: {len(inflater.unused_data)} bytes after the end of the "
                         "data; allowed: the string exactly as copied", source)
    return raw


# -- the file ------------------------------------------------------------------------------------
FILE_HELP = """\
A setup file is JSON:
  {
    "format": 1,
    "runs": [{"preset": "deep_sigmoid"}, {"activation": "relu", "init": "he_normal"}],
    "labels": ["sigmoid", "ReLU + He"],
    "hidden_views": ["health", "signal"],
    "speed": 50,
    "theme": "light"
  }
Only "runs" is needed (1 to 4 networks, or none with "lesson"). A run holds config keys
(README, "Config files"); a key left out has its default, and "preset" starts from a
preset. "labels": one per run (at most 24 characters). "lesson" and "lesson_step": a shipped
lesson opened at that step (from 1). "hidden_views": heatmap, lines, bars, loss, boundary,
health, signal. "speed": steps per second (left out: as fast as possible). "theme": dark or
light. A file holding a setup string (vgrad1:...) is read as that string."""


def save_setup(setup: Setup, path: str | Path) -> Path:
    """Write the setup as an indented JSON file (FILE_HELP); return the path."""
    p = Path(path)
    data = {"format": FORMAT_VERSION, **to_data(setup)}
    p.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return p


def load_setup(path: str | Path) -> Setup:
    """Read a setup file (or a file holding a setup string): a regular file of at most
    MAX_FILE_BYTES, UTF-8; every problem one SetupError naming the file."""
    p = Path(path)
    source = str(p)
    try:
        text = read_small_text(p, MAX_FILE_BYTES)
    except FileProblem as exc:
        raise SetupError(exc.message(
            missing="setup file not found",
            not_regular="is {what}; allowed: a regular JSON file",
            too_large=f"too large: {{size:,}} bytes; allowed: at most {MAX_FILE_BYTES:,}",
            too_long=f"too large: more than {MAX_FILE_BYTES:,} bytes; allowed: at most "
                     f"{MAX_FILE_BYTES:,}",
            not_text="not a text file; allowed: UTF-8 JSON"), source) from None
    if _VERSION.match(text.strip()):
        return from_string(text, source)
    return from_data(parse_json(text, source), source)


# -- a line for a tooltip ------------------------------------------------------------------------
def describe(setup: Setup, limit: int = 200) -> str:
    """One line: '2 runs: A sigmoid, B ReLU + He init; lesson vanishing_gradients step 3;
    hides health, signal; 50 steps/s; light theme'."""
    parts = []
    if setup.runs:
        labels = run_labels(setup.runs, setup.labels or ())
        if len(setup.runs) == 1:
            c = setup.runs[0]
            parts.append(f"1 run: {labels[0]}, depth {c.depth}, {c.dataset}")
        else:
            named = ", ".join(f"{LETTERS[i]} {label}" for i, label in enumerate(labels))
            parts.append(f"{len(setup.runs)} runs: {named}")
    if setup.lesson is not None:
        parts.append(f"lesson {setup.lesson} step {setup.lesson_step or 1}")
    if setup.hidden_views:
        parts.append("hides " + ", ".join(setup.hidden_views))
    if setup.speed is not None:
        parts.append(f"{setup.speed:g} steps/s")
    if setup.theme is not None:
        parts.append(f"{setup.theme} theme")
    return one_line("; ".join(parts), limit)
