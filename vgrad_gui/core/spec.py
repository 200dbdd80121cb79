"""The run configuration: one flat, frozen record with a documented JSON form.

Every field is described once, in ``FIELDS``; validation, the CLI, the GUI's builder panel
and the README all read that table, so a range or a choice is never written twice.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import math
from collections.abc import Mapping
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


class ConfigError(ValueError):
    """A config value is wrong. The message names the key, the value given and what is allowed."""

    def __init__(self, key: str, value: Any, allowed: str, source: str | None = None) -> None:
        self.key = key
        self.value = value
        self.allowed = allowed
        self.source = source
        where = f"{source}: " if source else ""
        if key:
            text = f"{where}config key '{key}': got {_show(value)}; allowed: {allowed}"
        else:
            text = f"{where}{allowed}"
        super().__init__(text)


def _show(value: Any) -> str:
    text = json.dumps(value) if _jsonable(value) else repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _jsonable(value: Any) -> bool:
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return False
    return True


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
                if isinstance(value, str):
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
            value = float(value)
            if not math.isfinite(value):
                raise ConfigError(self.name, value, self.allowed())
        if self.minimum is not None:
            too_low = value <= self.minimum if self.exclusive_minimum else value < self.minimum
            if too_low:
                raise ConfigError(self.name, value, self.allowed())
        if self.maximum is not None and value > self.maximum:
            raise ConfigError(self.name, value, self.allowed())
        return value


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

    @classmethod
    def from_dict(cls, data: Any, source: str | None = None) -> Config:
        """Validate a mapping (a parsed JSON object); unknown keys are errors."""
        if not isinstance(data, Mapping):
            raise ConfigError("", data, f"a config must be a JSON object, got {_kind(data)}",
                              source)
        for key in data:
            if key not in FIELD_BY_NAME:
                close = difflib.get_close_matches(str(key), FIELD_BY_NAME, n=1)
                hint = f" (did you mean '{close[0]}'?)" if close else ""
                raise ConfigError(str(key), data[key], "no such key; known keys are "
                                  + ", ".join(FIELD_BY_NAME) + hint, source)
        values = {}
        for key, value in data.items():
            try:
                values[key] = FIELD_BY_NAME[key].check(value)
            except ConfigError as exc:
                raise ConfigError(exc.key, exc.value, exc.allowed, source) from None
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    def replace(self, **changes: Any) -> Config:
        return Config.from_dict({**self.to_dict(), **changes})


def _kind(value: Any) -> str:
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "null"
    return f"a {type(value).__name__}"


def validate_each(data: Mapping[str, Any]) -> dict[str, str]:
    """Check every key independently; map each bad key to its message (empty when all valid).

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
            problems[key] = f"got {_show(value)}; allowed: {exc.allowed}"
    return problems


def parse_config_text(text: str, source: str | None = None) -> Config:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError("", text, f"not valid JSON: {exc.msg} at line {exc.lineno} column "
                          f"{exc.colno}", source) from None
    return Config.from_dict(data, source)


def load_config(path: str | Path) -> Config:
    """Read a JSON config file; every failure is a ConfigError naming the file."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError("", str(p), "config file not found", str(p)) from None
    except IsADirectoryError:
        raise ConfigError("", str(p), "is a directory, not a config file", str(p)) from None
    except UnicodeDecodeError:
        raise ConfigError("", str(p), "not a text file (expected UTF-8 JSON)", str(p)) from None
    except OSError as exc:
        raise ConfigError("", str(p), f"cannot read the file: {exc.strerror}", str(p)) from None
    return parse_config_text(text, str(p))


def save_config(config: Config, path: str | Path) -> None:
    Path(path).write_text(config.to_json() + "\n", encoding="utf-8")
