"""The run configuration: one flat, frozen record with a documented JSON form.

Every field is described once, in ``FIELDS``; validation, the CLI, the GUI's builder panel
and the README all read that table, so a range or a choice is never written twice.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import math
import os
import re
import stat
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ACTIVATIONS = ("sigmoid", "tanh", "relu", "leaky_relu", "elu", "gelu", "selu", "linear")
INITS = (
    "default",
    "small_normal",
    "large_normal",
    "xavier_uniform",
    "xavier_normal",
    "he_uniform",
    "he_normal",
    "lecun_normal",
    "orthogonal",
)
NORMS = ("none", "batch", "layer")
OPTIMIZERS = ("sgd", "momentum", "adam")
DATASETS = ("moons", "circles", "spirals", "xor", "blobs", "digits")
DEVICES = ("auto", "cpu", "cuda", "mps")

# Limits on what a config file may be. A config is one flat object of ~15 short values, so
# these are far above any real file and only stop hostile or mistaken input early.
MAX_CONFIG_BYTES = 1_000_000
MAX_NESTING = 32  # levels of [ and { (a valid config has 1)
MAX_NUMBER_CHARS = 100  # longer number literals are refused before conversion
MAX_MESSAGE = 300  # characters in one error message

_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")


def one_line(text: str, limit: int = MAX_MESSAGE) -> str:
    """``text`` as one printable line of at most ``limit`` characters: control characters
    (newlines included), line separators and lone surrogates are escaped, the rest cut."""
    text = text[: limit * 2]  # never escape a megabyte just to throw most of it away
    text = _UNPRINTABLE.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _short_path(source: str, limit: int = 80) -> str:
    """A file name for a message; a long path keeps its end, where the file name is."""
    source = one_line(source, 10 * limit)
    return source if len(source) <= limit else "..." + source[-(limit - 3):]


@dataclass(frozen=True)
class NumberText:
    """A JSON number literal too long to convert safely (a 400-digit float overflows; a
    4301-digit integer hits Python's conversion limit). Kept as text so it is refused with the
    key's own message instead of an exception from the conversion."""

    text: str

    def __str__(self) -> str:
        return f"{self.text[:12]}... (a number of {len(self.text)} characters)"


class ConfigError(ValueError):
    """A config value is wrong. The message names the key, the value given and what is allowed,
    on one line of at most MAX_MESSAGE characters whatever the input."""

    def __init__(self, key: str, value: Any, allowed: str, source: str | None = None) -> None:
        self.key = key
        self.value = value
        self.allowed = allowed
        self.source = source
        where = f"{_short_path(source)}: " if source else ""
        if key:
            text = (f"{where}config key '{one_line(key, 40)}': got {_show(value)}; "
                    f"allowed: {allowed}")
        else:
            text = f"{where}{allowed}"
        super().__init__(one_line(text))


def _show(value: Any, limit: int = 60) -> str:
    """The value as (bounded) JSON text on one line, whatever its size or depth."""
    return one_line(_render(value, 3), limit)


def _render(value: Any, depth: int) -> str:
    if isinstance(value, NumberText):
        return str(value)
    if value is None or isinstance(value, (bool, float)):
        return json.dumps(value)
    if isinstance(value, int):
        if value.bit_length() > 300:  # str() of a huge int is slow, then refused at 4300
            return f"an integer of about {int(value.bit_length() * math.log10(2)) + 1} digits"
        return str(value)
    if isinstance(value, str):
        return json.dumps(value[:80])
    if isinstance(value, (list, tuple)):
        if depth <= 0:
            return "[...]"
        items = [_render(v, depth - 1) for v in value[:5]]
        return "[" + ", ".join(items + (["..."] if len(value) > 5 else [])) + "]"
    if isinstance(value, Mapping):
        if depth <= 0:
            return "{...}"
        pairs = [f"{_render(str(k), 0)}: {_render(v, depth - 1)}"
                 for k, v in list(value.items())[:5]]
        return "{" + ", ".join(pairs + (["..."] if len(value) > 5 else [])) + "}"
    return f"a {type(value).__name__}"


@dataclass(frozen=True)
class Field:
    """How one config key is typed, bounded, labelled and explained."""

    name: str
    kind: str  # "int", "float", "bool" or "choice"
    default: Any
    label: str
    help: str
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] = ()
    exclusive_minimum: bool = False

    def allowed(self) -> str:
        if self.kind == "choice":
            return "one of " + ", ".join(self.choices)
        if self.kind == "bool":
            return "true or false"
        noun = "an integer" if self.kind == "int" else "a number"
        lo = "" if self.minimum is None else _num(self.minimum)
        hi = "" if self.maximum is None else _num(self.maximum)
        if self.exclusive_minimum and hi:
            return f"{noun} greater than {lo} and at most {hi}"
        if lo and hi:
            return f"{noun} from {lo} to {hi}"
        if lo:
            return f"{noun} of at least {lo}"
        return noun

    def check(self, value: Any) -> Any:
        """Return the value in its canonical Python type, or raise ConfigError."""
        if self.kind == "choice":
            if not isinstance(value, str) or value not in self.choices:
                hint = ""
                if isinstance(value, str) and len(value) <= 40:
                    close = difflib.get_close_matches(value.lower(), self.choices, n=1)
                    hint = f" (did you mean '{close[0]}'?)" if close else ""
                raise ConfigError(self.name, value, self.allowed() + hint)
            return value
        if self.kind == "bool":
            if not isinstance(value, bool):
                raise ConfigError(self.name, value, self.allowed())
            return value
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(self.name, value, self.allowed())
        if self.kind == "int":
            if isinstance(value, float):
                if not value.is_integer():
                    raise ConfigError(self.name, value, self.allowed())
                value = int(value)
        else:
            try:
                # + 0.0 turns -0.0 into 0.0: numpy refuses a noise scale of -0.0 ("scale < 0").
                value = float(value) + 0.0
            except OverflowError:  # an int beyond the float range
                raise ConfigError(self.name, value, self.allowed()) from None
            if not math.isfinite(value):
                raise ConfigError(self.name, value, self.allowed())
        if self.minimum is not None:
            too_low = value <= self.minimum if self.exclusive_minimum else value < self.minimum
            if too_low:
                raise ConfigError(self.name, value, self.allowed())
        if self.maximum is not None and value > self.maximum:
            raise ConfigError(self.name, value, self.allowed())
        return value

    def parse_text(self, text: str) -> Any:
        """A value typed as text (a command-line option): checked, or a ConfigError."""
        try:
            value: Any = (_parse_int(text.strip()) if self.kind == "int"
                          else _parse_float(text.strip()))
        except ValueError:
            value = text
        return self.check(value)


def _num(x: float) -> str:
    if float(x).is_integer():
        return f"{int(x):,}".replace(",", "")
    return f"{x:g}"


FIELDS: tuple[Field, ...] = (
    Field("depth", "int", 10, "Depth", "Number of hidden layers. The backward pass multiplies one "
          "factor per layer, so deeper nets vanish (or explode) faster.", 1, 200),
    Field("width", "int", 32, "Width", "Units in every hidden layer.", 1, 1024),
    Field("activation", "choice", "sigmoid", "Activation", "Non-linearity after every hidden "
          "layer. Sigmoid's slope is at most 0.25 and tanh saturates; the ReLU family does not "
          "shrink the gradient where it is active.", choices=ACTIVATIONS),
    Field("init", "choice", "default", "Weight init", "How weights start. Too small or too "
          "large a scale makes gradients vanish or explode; Xavier suits tanh/sigmoid, He suits "
          "ReLU. 'default' is PyTorch's own.", choices=INITS),
    Field("norm", "choice", "none", "Normalisation", "Batch or layer normalisation between "
          "each Linear layer and its activation keeps activations out of the flat ends.",
          choices=NORMS),
    Field("residual", "bool", False, "Residual shortcuts", "Add an identity shortcut h + f(h) "
          "around every block whose input and output sizes match, so the gradient has a path "
          "that skips the multiplications."),
    Field("optimizer", "choice", "sgd", "Optimizer", "sgd: plain gradient descent; momentum: "
          "SGD with momentum 0.9; adam: per-parameter step sizes (it hides vanishing from the "
          "update, not from the gradient).", choices=OPTIMIZERS),
    Field("lr", "float", 0.1, "Learning rate", "Step size of the optimizer.", 0, 10,
          exclusive_minimum=True),
    Field("batch_size", "int", 64, "Batch size", "Examples per training step.", 1, 65536),
    Field("dataset", "choice", "moons", "Data set", "moons, circles, spirals, xor and blobs are "
          "2-D toy sets generated from the seed; digits is the UCI 8x8 handwritten digits "
          "(1,797 images, bundled).", choices=DATASETS),
    Field("samples", "int", 1000, "Samples", "Points generated for the 2-D data sets "
          "(digits always uses its 1,797 images).", 20, 200000),
    Field("noise", "float", 0.1, "Noise", "Standard deviation of the noise added to the 2-D "
          "data sets (relative to their scale).", 0, 2),
    Field("seed", "int", 0, "Seed", "Seeds the data, the weights and the batch order: the same "
          "seed gives the same run.", 0, 2**31 - 1),
    Field("steps", "int", 2000, "Max steps", "Training stops after this many steps.", 1,
          100_000_000),
    Field("device", "choice", "auto", "Device", "Where to train: auto picks CUDA or MPS when "
          "present, else the CPU.", choices=DEVICES),
)
FIELD_BY_NAME: dict[str, Field] = {f.name: f for f in FIELDS}


@dataclass(frozen=True)
class Config:
    """A complete, valid run configuration. Build it with ``Config.from_dict``."""

    depth: int = 10
    width: int = 32
    activation: str = "sigmoid"
    init: str = "default"
    norm: str = "none"
    residual: bool = False
    optimizer: str = "sgd"
    lr: float = 0.1
    batch_size: int = 64
    dataset: str = "moons"
    samples: int = 1000
    noise: float = 0.1
    seed: int = 0
    steps: int = 2000
    device: str = "auto"

    def __post_init__(self) -> None:
        for f in FIELDS:
            object.__setattr__(self, f.name, f.check(getattr(self, f.name)))
        values = dataclasses.asdict(self)
        for rule in RULES:
            if not rule.test(values):
                raise ConfigError(rule.key, values[rule.key], rule.allowed)

    @classmethod
    def from_dict(cls, data: Any, source: str | None = None) -> Config:
        """Validate a mapping (a parsed JSON object); unknown keys are errors."""
        if not isinstance(data, Mapping):
            raise ConfigError("", data, f"a config must be a JSON object, got {_kind(data)}",
                              source)
        for key in data:
            if key not in FIELD_BY_NAME:
                raise ConfigError(str(key), data[key], "no such key; known keys are "
                                  + ", ".join(FIELD_BY_NAME) + _key_hint(str(key)), source)
        try:
            values = {key: FIELD_BY_NAME[key].check(value) for key, value in data.items()}
            return cls(**values)
        except ConfigError as exc:
            raise ConfigError(exc.key, exc.value, exc.allowed, source) from None

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    def replace(self, **changes: Any) -> Config:
        return Config.from_dict({**self.to_dict(), **changes})


def _key_hint(key: str) -> str:
    if len(key) > 40:
        return ""
    close = difflib.get_close_matches(key, FIELD_BY_NAME, n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _kind(value: Any) -> str:
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "null"
    if isinstance(value, (NumberText, int, float)) and not isinstance(value, bool):
        return "a number"
    return f"a {type(value).__name__}"


@dataclass(frozen=True)
class Rule:
    """A rule tying keys together: ``key`` must be ``allowed`` given the ``others``.

    These are what the trainer or PyTorch would otherwise refuse mid-run, stated once here so
    the CLI, the GUI's builder panel and ``Config`` all check them before anything is built.
    """

    key: str
    others: tuple[str, ...]
    test: Callable[[Mapping[str, Any]], bool]  # True when the values agree
    allowed: str


RULES: tuple[Rule, ...] = (
    # BatchNorm1d in training mode raises "Expected more than 1 value per channel" on a batch
    # of one. The trainer never uses fewer examples than batch_size: the smallest training
    # split (20 samples) has 16.
    Rule("batch_size", ("norm",), lambda v: v["norm"] != "batch" or v["batch_size"] >= 2,
         'at least 2 when norm is "batch" (batch normalisation needs more than one example '
         "per step)"),
)


def cross_field_problems(data: Mapping[str, Any]) -> dict[str, str]:
    """The broken cross-field rules, as {key: message} for every key a rule involves.

    Defaults fill missing keys; a rule involving an unknown or individually invalid value is
    skipped (that value has its own message). Empty when the keys agree.
    """
    values: dict[str, Any] = {f.name: f.default for f in FIELDS}
    invalid = set()
    for key, value in data.items():
        field = FIELD_BY_NAME.get(key)
        if field is None:
            continue
        try:
            values[key] = field.check(value)
        except ConfigError:
            invalid.add(key)
    problems: dict[str, str] = {}
    for rule in RULES:
        keys = (rule.key, *rule.others)
        if invalid.intersection(keys) or rule.test(values):
            continue
        problems.setdefault(rule.key, f"got {_show(values[rule.key])}; allowed: {rule.allowed}")
        for other in rule.others:
            problems.setdefault(other, f"'{rule.key}' must be {rule.allowed}")
    return problems


def validate_each(data: Mapping[str, Any]) -> dict[str, str]:
    """Check every key, then the rules between keys; map each bad key to its message (empty
    when all valid). ``Config.from_dict`` accepts ``data`` exactly when this is empty.

    The GUI uses this to show every problem at once, next to its field.
    """
    problems: dict[str, str] = {}
    for key, value in data.items():
        field = FIELD_BY_NAME.get(key)
        if field is None:
            problems[key] = "unknown key"
            continue
        try:
            field.check(value)
        except ConfigError as exc:
            problems[key] = one_line(f"got {_show(value)}; allowed: {exc.allowed}")
    for key, message in cross_field_problems(data).items():
        problems.setdefault(key, message)
    return problems


# -- reading JSON text ------------------------------------------------------------------------
def _parse_int(text: str) -> int | NumberText:
    return NumberText(text) if len(text) > MAX_NUMBER_CHARS else int(text)


def _parse_float(text: str) -> float | NumberText:
    return NumberText(text) if len(text) > MAX_NUMBER_CHARS else float(text)


class _DuplicateKey(Exception):
    def __init__(self, key: str, value: Any) -> None:
        super().__init__(key)
        self.key = key
        self.value = value


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """json's object hook: a key given twice is refused (json keeps the last silently)."""
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _DuplicateKey(key, value)
        out[key] = value
    return out


_JSON_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")


def _nesting(text: str) -> int:
    """How deeply [ and { nest in JSON text, outside strings; linear, never recursive (the
    json module recurses once per level and raises RecursionError near 1000)."""
    brackets = _NOT_BRACKET.sub("", _JSON_STRING.sub("", text))
    depth = deepest = 0
    for ch in brackets:
        depth += 1 if ch in "[{" else -1
        deepest = max(deepest, depth)
    return deepest


def parse_config_text(text: str, source: str | None = None) -> Config:
    """Parse and validate config JSON; every failure is a one-line ConfigError."""
    if len(text) > MAX_CONFIG_BYTES:
        raise ConfigError("", None, f"too large: {len(text)} characters (a config file may "
                          f"have at most {MAX_CONFIG_BYTES:,})", source)
    depth = _nesting(text)
    if depth > MAX_NESTING:
        raise ConfigError("", None, f"nested {depth} levels deep (at most {MAX_NESTING}); a "
                          "config is one flat JSON object", source)
    try:
        data = json.loads(text, parse_int=_parse_int, parse_float=_parse_float,
                          object_pairs_hook=_unique_keys)
    except json.JSONDecodeError as exc:
        what = exc.msg.removesuffix(" at")  # "Invalid control character at"
        raise ConfigError("", None, f"not valid JSON: {what} at line {exc.lineno} column "
                          f"{exc.colno}", source) from None
    except _DuplicateKey as exc:
        raise ConfigError(exc.key, exc.value, "each key once (this key is given twice)",
                          source) from None
    except (RecursionError, ValueError) as exc:  # a backstop: the checks above should hold
        raise ConfigError("", None, f"cannot parse: {exc}", source) from None
    return Config.from_dict(data, source)


def load_config(path: str | Path) -> Config:
    """Read a JSON config file; every failure is a one-line ConfigError naming the file.

    Only regular files are read, and at most MAX_CONFIG_BYTES of them: a FIFO would block,
    /dev/zero never ends, a directory cannot be read.
    """
    p = Path(path)
    source = str(p)
    try:
        text = read_small_text(p, MAX_CONFIG_BYTES)
    except FileProblem as exc:
        raise ConfigError("", None, exc.message(
            missing="config file not found",
            not_regular="is {what}, not a config file (a regular JSON file is needed)",
            too_large=f"too large: {{size:,}} bytes (a config file may have at most "
                      f"{MAX_CONFIG_BYTES:,})",
            too_long=f"too large: more than {MAX_CONFIG_BYTES:,} bytes (the limit for a config "
                     "file)",
            not_text="not a text file (expected UTF-8 JSON)"), source) from None
    return parse_config_text(text, source)


# How every reader words the problems that do not name it.
FILE_PROBLEMS = {"unreadable": "cannot read the file: {reason}",
                 "name": "not a usable file name", "swapped": "is not a regular file any more"}


class FileProblem(ValueError):
    """Why ``read_small_text`` could not read a file. ``kind``: missing, unreadable (``reason``
    the OS's), name, not_regular (``what`` it is instead), swapped (no longer a regular file
    when opened), too_large (``size`` from stat), too_long (the read ran past the limit),
    not_text. Each reader words the kinds that name it (``message``)."""

    def __init__(self, kind: str, reason: str = "", what: str = "", size: int = 0) -> None:
        super().__init__(kind)
        self.kind, self.reason, self.what, self.size = kind, reason, what, size

    def message(self, **templates: str) -> str:
        """The reader's template for this kind (or the common one), filled with reason, what
        and size."""
        template = templates.get(self.kind) or FILE_PROBLEMS[self.kind]
        return template.format(reason=self.reason, what=self.what, size=self.size)


def read_small_text(p: Path, limit: int) -> str:
    """A small UTF-8 text file (config, lesson, setup), read without ever blocking or reading
    without end: only a regular file (a FIFO would block, /dev/zero never ends, a directory
    cannot be read), at most ``limit`` bytes; FileProblem says why not."""
    try:
        info = os.stat(p)
    except FileNotFoundError:
        raise FileProblem("missing") from None
    except OSError as exc:
        raise FileProblem("unreadable", str(exc.strerror)) from None
    except ValueError:  # a NUL character in the name
        raise FileProblem("name") from None
    if not stat.S_ISREG(info.st_mode):
        raise FileProblem("not_regular", what=_file_kind(info.st_mode))
    if info.st_size > limit:
        raise FileProblem("too_large", size=info.st_size)
    try:
        return _read_bounded(p, limit).decode("utf-8-sig")
    except UnicodeDecodeError:
        raise FileProblem("not_text") from None


def _read_bounded(p: Path, limit: int) -> bytes:
    """At most ``limit`` + 1 bytes. O_NONBLOCK: if the path was swapped for a FIFO after the
    stat, opening it must not wait for a writer."""
    try:
        fd = os.open(p, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        raise FileProblem("unreadable", str(exc.strerror)) from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise FileProblem("swapped")
        chunks: list[bytes] = []
        size = 0
        while size <= limit:
            chunk = os.read(fd, limit + 1 - size)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    except OSError as exc:
        raise FileProblem("unreadable", str(exc.strerror)) from None
    finally:
        os.close(fd)
    if size > limit:
        raise FileProblem("too_long")
    return b"".join(chunks)


def _file_kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def save_config(config: Config, path: str | Path) -> None:
    Path(path).write_text(config.to_json() + "\n", encoding="utf-8")
