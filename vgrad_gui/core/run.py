"""Run: one history plus everything needed to draw it, wherever its rows come from.

Compare mode, replay and lessons all draw *runs*, never a session or a worker: a live run fed
by the worker, a run opened from a file and (later) a run streamed from a user's own training
loop look the same to a view. So a Run holds what a view needs beyond the history's tables:
its shape (layer names, input size, classes; a digits run keeps 64 inputs and 10 classes), a
bounded sample of 2-D data, decision-boundary snapshots, and the events a timeline marks
(first non-finite step, setting changes, diagnosis changes). The Config is optional: a
streamed run has none.

Everything is bounded, whatever the run length: at most MAX_POINTS data points, MAX_SNAPSHOTS
boundary snapshots (log-spaced over the run, SNAPSHOTS_PER_OCTAVE per doubling of the step,
plus the latest), MAX_EVENTS events. ``version`` bumps on every change, so a view redraws only
what moved.

No torch and no Qt: the GUI process imports this. ``to_arrays``/``from_arrays`` turn the parts
that are not in the history into plain arrays and one JSON string, all prefixed ``run_``, for
the run file to store next to the history's arrays; reading checks every array and names the
one that is wrong.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from vgrad_gui.core.history import RunHistory
from vgrad_gui.core.records import RecordBlock
from vgrad_gui.core.spec import Config

MAX_POINTS = 2_000  # data points kept for the boundary view (the worker sends 1,500)
MAX_GRID = 128  # boundary grid points per side (the worker uses 64 or fewer)
SNAPSHOTS_PER_OCTAVE = 2  # boundary snapshots kept per doubling of the step
MAX_SNAPSHOTS = 64  # 2 per octave reaches 2^31 steps; 64 of 64x64 grids are ~1.3 MB
MAX_EVENTS = 512
MAX_LABEL = 40
MAX_TEXT = 300  # characters of one event's text
MAX_NOTE = 4_000
RUN_FORMAT_VERSION = 1  # of the run_* arrays, independent of the run file's own version

NONFINITE, SETTING, DIAGNOSIS = "nonfinite", "setting", "diagnosis"
EVENT_KINDS = (NONFINITE, SETTING, DIAGNOSIS)
SOURCES_FIXED = ("live", "stream")  # any other source is the path of a file

# Input size and classes of each data set. Written here (not read from datasets.py) so that a
# run opened without its data never generates or loads it; a test checks the two agree.
DATASET_SHAPES: dict[str, tuple[int, int]] = {
    "moons": (2, 2), "circles": (2, 2), "spirals": (2, 2), "xor": (2, 2), "blobs": (2, 3),
    "digits": (64, 10),
}


class RunError(ValueError):
    """Run data is wrong; the message names the array or field and what is allowed."""


def shape_for(config: Config) -> tuple[int, int]:
    """(input_dim, n_classes) of the config's data set."""
    return DATASET_SHAPES[config.dataset]


@dataclass(frozen=True)
class Event:
    """Something the timeline marks: at ``step``, of a kind in EVENT_KINDS."""

    step: int
    kind: str
    text: str  # for people: "lr 0.1 -> 0.01", "vanishing: hidden layers 1-7 get ..."
    key: str = ""  # setting: the config key; diagnosis: the finding kind


@dataclass(frozen=True)
class Snapshot:
    """The decision boundary at one step: predicted class and its probability on a grid."""

    step: int
    classes: np.ndarray  # uint8 [side, side], rows follow y
    confidence: np.ndarray  # float32 [side, side]


@dataclass(eq=False)
class DataSample:
    """A bounded sample of a 2-D data set and the extent of the boundary grid."""

    points: np.ndarray  # float32 [n, 2]
    labels: np.ndarray  # int64 [n]
    extent: tuple[float, float, float, float]  # x0, x1, y0, y1

    def __post_init__(self) -> None:
        self.points = np.asarray(self.points, np.float32)[:MAX_POINTS]
        self.labels = np.asarray(self.labels, np.int64)[:MAX_POINTS]
        if self.points.ndim != 2 or self.points.shape[1] != 2:
            raise RunError(f"run_points: must be [n, 2]; got {self.points.shape}")
        if self.labels.shape != (len(self.points),):
            raise RunError(f"run_labels: must be [{len(self.points)}] (one per point); got "
                           f"{self.labels.shape}")
        x0, x1, y0, y1 = (float(v) for v in self.extent)
        if not all(math.isfinite(v) for v in (x0, x1, y0, y1)) or not (x0 < x1 and y0 < y1):
            raise RunError(f"extent: must be finite x0 < x1, y0 < y1; got {self.extent}")
        self.extent = (x0, x1, y0, y1)


def _octave_slot(step: int) -> int:
    return math.floor(math.log2(max(1, step)) * SNAPSHOTS_PER_OCTAVE)


class Snapshots:
    """Boundary snapshots kept log-spaced over the run plus the latest: the first snapshot of
    each slot (a slot is 1/SNAPSHOTS_PER_OCTAVE of a doubling), so early steps, where the
    boundary changes fastest, keep as many snapshots as late ones."""

    def __init__(self) -> None:
        self._by_slot: dict[int, Snapshot] = {}
        self.latest: Snapshot | None = None

    def add(self, snap: Snapshot) -> None:
        if self.latest is not None and snap.step < self.latest.step:
            raise RunError(f"boundary snapshot at step {snap.step} is older than the latest "
                           f"({self.latest.step}); snapshots arrive in step order")
        self._by_slot.setdefault(_octave_slot(snap.step), snap)
        self.latest = snap
        while len(self._by_slot) + 1 > MAX_SNAPSHOTS:
            # Only beyond ~2^31 steps: drop the second-oldest slot (the first snapshot stays).
            slots = sorted(self._by_slot)
            del self._by_slot[slots[1] if len(slots) > 1 else slots[0]]

    def all(self) -> list[Snapshot]:
        """Every kept snapshot in step order, the latest included once."""
        snaps = {s.step: s for s in self._by_slot.values()}
        if self.latest is not None:
            snaps[self.latest.step] = self.latest
        return [snaps[k] for k in sorted(snaps)]

    def at(self, step: int) -> Snapshot | None:
        """The nearest snapshot at or before ``step``."""
        best: Snapshot | None = None
        for snap in self.all():
            if snap.step <= step:
                best = snap
        return best

    def clear(self) -> None:
        self._by_slot.clear()
        self.latest = None


def _text(value: Any, limit: int) -> str:
    return " ".join(str(value).split())[:limit]


@dataclass(eq=False)  # a mutable model: two runs are the same run only if they are one object
class Run:
    """A history and what drawing it needs; see the module notes."""

    history: RunHistory
    run_id: int = 0
    label: str = ""
    input_dim: int = 2
    n_classes: int = 2
    config: Config | None = None
    source: str = "live"  # "live", "stream" or the path of the file it was opened from
    data: DataSample | None = None
    note: str = ""
    state: str = "new"  # what the source says: new, building, running, paused, finished, ...
    events: list[Event] = field(default_factory=list)
    boundaries: Snapshots = field(default_factory=Snapshots)
    version: int = 0
    # Where a live run came from and how it is kept; not part of the run file.
    device: str = ""
    warnings: list[str] = field(default_factory=list)  # the budget's, for a slow network
    saved_to: str | None = None
    ended: bool = False  # trained here, but its trainer is gone (the process died)

    def __post_init__(self) -> None:
        self.label = _text(self.label, MAX_LABEL)
        self.note = str(self.note)[:MAX_NOTE]
        if not 1 <= int(self.input_dim) <= 1 << 20 or not 2 <= int(self.n_classes) <= 1 << 16:
            raise RunError(f"shape: input_dim must be 1..{1 << 20} and n_classes 2..{1 << 16}; "
                           f"got {self.input_dim} and {self.n_classes}")
        self.input_dim, self.n_classes = int(self.input_dim), int(self.n_classes)
        if self.data is not None and self.input_dim != 2:
            raise RunError(f"run_points: a data sample is for 2-D data; this run has "
                           f"{self.input_dim} inputs")

    @classmethod
    def from_config(cls, config: Config, layer_names: list[str], inactive_kind: str = "",
                    **kwargs: Any) -> Run:
        """A new, empty run of ``config`` (its shape taken from the config's data set)."""
        input_dim, n_classes = shape_for(config)
        kwargs.setdefault("input_dim", input_dim)
        kwargs.setdefault("n_classes", n_classes)
        history = RunHistory(config, list(layer_names), inactive_kind)
        return cls(history, config=config, **kwargs)

    @classmethod
    def from_history(cls, history: RunHistory, **kwargs: Any) -> Run:
        """A run around an existing history (an opened file): its config gives the shape
        unless ``input_dim``/``n_classes`` are given."""
        dim, classes = shape_for(history.config)
        kwargs.setdefault("input_dim", dim)
        kwargs.setdefault("n_classes", classes)
        kwargs.setdefault("config", history.config)
        return cls(history, **kwargs)

    # -- shape ------------------------------------------------------------------------------
    @property
    def layer_names(self) -> list[str]:
        return self.history.layer_names

    @property
    def n_layers(self) -> int:
        return self.history.n_layers

    @property
    def inactive_kind(self) -> str:
        return self.history.inactive_kind

    @property
    def step(self) -> int:
        """The last step recorded (0 before the first)."""
        return self.history.step

    @property
    def first_step(self) -> int:
        """The first step still held (0 before the first)."""
        first = self.history.steps.first_step
        return first if first is not None else 0

    @property
    def is_2d(self) -> bool:
        return self.input_dim == 2

    @property
    def max_steps(self) -> int:
        """Where the run will end (its config's steps; a run without one: its last step)."""
        return self.config.steps if self.config is not None else max(1, self.step)

    @property
    def recorded_here(self) -> bool:
        """Trained in this window (not opened from a file): it may need keeping."""
        return self.source == "live"

    @property
    def live(self) -> bool:
        """Its trainer can go on."""
        return self.source == "live" and not self.ended

    # -- writing ----------------------------------------------------------------------------
    def append(self, block: RecordBlock) -> None:
        """Add a block of records; the first non-finite step becomes an event."""
        before = self.history.first_nonfinite_step
        self.history.append(block)
        after = self.history.first_nonfinite_step
        if before is None and after is not None:
            self.add_event(Event(after, NONFINITE, f"gradients or loss became NaN/Inf at "
                                 f"step {after}"))
        self.version += 1

    def set_state(self, state: str) -> None:
        if state != self.state:
            self.state = _text(state, MAX_LABEL)
            self.version += 1

    def set_label(self, label: str) -> None:
        self.label = _text(label, MAX_LABEL)
        self.version += 1

    def set_data(self, data: DataSample | None) -> None:
        if data is not None and self.input_dim != 2:
            raise RunError(f"run_points: a data sample is for 2-D data; this run has "
                           f"{self.input_dim} inputs")
        self.data = data
        self.version += 1

    def add_boundary(self, step: int, classes: np.ndarray, confidence: np.ndarray) -> None:
        self.boundaries.add(_checked_snapshot(step, classes, confidence, "boundary"))
        self.version += 1

    def boundary_at(self, step: int) -> Snapshot | None:
        """The nearest snapshot at or before ``step`` (None before the first)."""
        return self.boundaries.at(step)

    def add_event(self, event: Event) -> None:
        if event.kind not in EVENT_KINDS:
            raise RunError(f"event kind {event.kind!r}: allowed: {', '.join(EVENT_KINDS)}")
        ev = Event(int(event.step), event.kind, _text(event.text, MAX_TEXT),
                   _text(event.key, MAX_LABEL))
        at = len(self.events)
        while at and self.events[at - 1].step > ev.step:
            at -= 1
        self.events.insert(at, ev)
        if len(self.events) > MAX_EVENTS:
            self._drop_one_event()
        self.version += 1

    def _drop_one_event(self) -> None:
        # Diagnosis changes are the most numerous and the least precious: drop the oldest.
        for kind in (DIAGNOSIS, SETTING):
            for i, ev in enumerate(self.events):
                if ev.kind == kind:
                    del self.events[i]
                    return
        del self.events[0]

    def note_setting(self, step: int, key: str, old: Any, new: Any) -> None:
        """Record a setting changed while the run trains ("lr 0.1 -> 0.01 at step s")."""
        self.add_event(Event(step, SETTING, f"{key} {old} -> {new}", key))

    def note_diagnosis(self, step: int, kind: str, text: str) -> bool:
        """Record the diagnosis at ``step`` if its kind differs from the last one recorded;
        True when it did."""
        last = next((e for e in reversed(self.events) if e.kind == DIAGNOSIS), None)
        if last is not None and last.key == kind:
            return False
        self.add_event(Event(step, DIAGNOSIS, text, kind))
        return True

    def events_between(self, a: int, b: int, kind: str | None = None) -> list[Event]:
        """Events with a <= step <= b (of one kind if given), in step order."""
        return [e for e in self.events if a <= e.step <= b and (kind is None or e.kind == kind)]

    # -- run file -----------------------------------------------------------------------------
    def to_arrays(self) -> dict[str, np.ndarray]:
        """The parts a history does not hold, as new arrays prefixed ``run_``."""
        return run_to_arrays(self)

    @classmethod
    def from_arrays(cls, history: RunHistory, arrays: Mapping[str, np.ndarray],
                    run_id: int = 0, source: str = "live") -> Run:
        """A run around ``history`` with the parts ``to_arrays`` wrote; RunError names the
        array that is wrong. Without any ``run_`` arrays (an older file) the shape comes from
        the config."""
        return run_from_arrays(cls, history, arrays, run_id, source)


def _checked_snapshot(step: Any, classes: Any, confidence: Any, name: str) -> Snapshot:
    cls_arr, conf_arr = np.asarray(classes), np.asarray(confidence)
    if cls_arr.ndim != 2 or not 1 <= cls_arr.shape[0] <= MAX_GRID \
            or not 1 <= cls_arr.shape[1] <= MAX_GRID:
        raise RunError(f"run_{name}_classes: must be [side, side] with side <= {MAX_GRID}; got "
                       f"{cls_arr.shape}")
    if conf_arr.shape != cls_arr.shape:
        raise RunError(f"run_{name}_confidence: must match the classes' shape {cls_arr.shape}; "
                       f"got {conf_arr.shape}")
    if cls_arr.dtype.kind not in "iu" or conf_arr.dtype.kind not in "fiu":
        raise RunError(f"run_{name}_classes must hold integers and run_{name}_confidence "
                       f"numbers; got {cls_arr.dtype} and {conf_arr.dtype}")
    if cls_arr.size and (cls_arr.min() < 0 or cls_arr.max() > 255):
        raise RunError(f"run_{name}_classes: class numbers must be 0..255")
    if int(step) < 0:
        raise RunError(f"run_{name}_step: steps are counted from 0; got {step}")
    return Snapshot(int(step), cls_arr.astype(np.uint8), conf_arr.astype(np.float32))


def run_to_arrays(run: Run) -> dict[str, np.ndarray]:
    meta = {
        "run_format_version": RUN_FORMAT_VERSION,
        "label": run.label,
        "note": run.note,
        "input_dim": run.input_dim,
        "n_classes": run.n_classes,
        "extent": list(run.data.extent) if run.data is not None else None,
        "events": [[e.step, e.kind, e.text, e.key] for e in run.events],
    }
    arrays: dict[str, np.ndarray] = {"run_meta": np.array(json.dumps(meta))}
    if run.data is not None:
        arrays["run_points"] = run.data.points.copy()
        arrays["run_labels"] = run.data.labels.copy()
    snaps = run.boundaries.all()
    if snaps:
        side = {s.classes.shape for s in snaps}
        if len(side) == 1:  # one grid size per run (the worker sizes it once per network)
            arrays["run_boundary_step"] = np.array([s.step for s in snaps], np.int64)
            arrays["run_boundary_classes"] = np.stack([s.classes for s in snaps])
            arrays["run_boundary_confidence"] = np.stack([s.confidence for s in snaps])
    return arrays


def _meta(arrays: Mapping[str, np.ndarray]) -> dict[str, Any]:
    raw = arrays["run_meta"]
    if not isinstance(raw, np.ndarray) or raw.shape != () or raw.dtype.kind != "U":
        raise RunError("run_meta: must be a 0-d text array holding JSON")
    text = str(raw)
    if len(text) > MAX_EVENTS * (MAX_TEXT + 100) + MAX_NOTE * 2 + 4096:
        raise RunError(f"run_meta: too long ({len(text)} characters)")
    try:
        meta = json.loads(text)
    except (ValueError, RecursionError):
        raise RunError("run_meta: not valid JSON") from None
    if not isinstance(meta, dict):
        raise RunError("run_meta: must be a JSON object")
    version = meta.get("run_format_version")
    if not isinstance(version, int) or isinstance(version, bool) \
            or not 1 <= version <= RUN_FORMAT_VERSION:
        raise RunError(f"run_meta.run_format_version: got {_text(version, 20)!r}; this "
                       f"vgrad-gui reads 1 to {RUN_FORMAT_VERSION}")
    return meta


def _int_field(meta: dict[str, Any], key: str, lo: int, hi: int) -> int:
    v = meta.get(key)
    if not isinstance(v, int) or isinstance(v, bool) or not lo <= v <= hi:
        raise RunError(f"run_meta.{key}: must be an integer {lo}..{hi}; got {_text(v, 20)!r}")
    return v


def _events(meta: dict[str, Any]) -> list[Event]:
    raw = meta.get("events", [])
    if not isinstance(raw, list) or len(raw) > MAX_EVENTS:
        raise RunError(f"run_meta.events: must be a list of at most {MAX_EVENTS} events")
    out = []
    for i, item in enumerate(raw):
        ok = (isinstance(item, list) and len(item) == 4 and isinstance(item[0], int)
              and not isinstance(item[0], bool) and 0 <= item[0] < 2**53
              and item[1] in EVENT_KINDS and isinstance(item[2], str)
              and isinstance(item[3], str))
        if not ok:
            raise RunError(f"run_meta.events[{i}]: must be [step, kind, text, key] with kind one "
                           f"of {', '.join(EVENT_KINDS)}")
        out.append(Event(item[0], item[1], _text(item[2], MAX_TEXT), _text(item[3], MAX_LABEL)))
    return sorted(out, key=lambda e: e.step)


def _array(arrays: Mapping[str, np.ndarray], key: str, kinds: str, ndim: int) -> np.ndarray:
    arr = arrays[key]
    if not isinstance(arr, np.ndarray) or arr.dtype.kind not in kinds or arr.ndim != ndim:
        got = f"{arr.dtype} {arr.shape}" if isinstance(arr, np.ndarray) else type(arr).__name__
        raise RunError(f"{key}: must be a {ndim}-d array of "
                       f"{'integers' if kinds == 'iu' else 'numbers'}; got {got}")
    return arr


def _data(arrays: Mapping[str, np.ndarray], meta: dict[str, Any]) -> DataSample | None:
    if "run_points" not in arrays:
        return None
    points = _array(arrays, "run_points", "f", 2)
    labels = _array(arrays, "run_labels", "iu", 1) if "run_labels" in arrays else None
    if labels is None:
        raise RunError("run_labels: missing (run_points needs one label per point)")
    if len(points) > MAX_POINTS or not np.isfinite(points).all():
        raise RunError(f"run_points: at most {MAX_POINTS} finite points")
    extent = meta.get("extent")
    if not isinstance(extent, list) or len(extent) != 4 \
            or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in extent):
        raise RunError("run_meta.extent: must be [x0, x1, y0, y1] when run_points is present")
    return DataSample(points, labels, (extent[0], extent[1], extent[2], extent[3]))


def _snapshots(arrays: Mapping[str, np.ndarray]) -> list[Snapshot]:
    if "run_boundary_step" not in arrays:
        return []
    steps = _array(arrays, "run_boundary_step", "iu", 1)
    classes = _array(arrays, "run_boundary_classes", "iu", 3)
    conf = _array(arrays, "run_boundary_confidence", "f", 3)
    if len(steps) > MAX_SNAPSHOTS:
        raise RunError(f"run_boundary_step: at most {MAX_SNAPSHOTS} snapshots; got {len(steps)}")
    if len(classes) != len(steps) or len(conf) != len(steps):
        raise RunError(f"run_boundary_classes, run_boundary_confidence: one grid per step in "
                       f"run_boundary_step ({len(steps)}); got {len(classes)} and {len(conf)}")
    if len(steps) > 1 and not (np.diff(steps) > 0).all():
        raise RunError("run_boundary_step: steps must increase")
    return [_checked_snapshot(int(s), c, f, "boundary")
            for s, c, f in zip(steps, classes, conf, strict=True)]


def run_from_arrays(cls: type[Run], history: RunHistory, arrays: Mapping[str, np.ndarray],
                    run_id: int, source: str) -> Run:
    if "run_meta" not in arrays:
        return cls.from_history(history, run_id=run_id, source=source)
    meta = _meta(arrays)
    input_dim = _int_field(meta, "input_dim", 1, 1 << 20)
    n_classes = _int_field(meta, "n_classes", 2, 1 << 16)
    want = shape_for(history.config)
    if (input_dim, n_classes) != want:
        raise RunError(f"run_meta.input_dim, n_classes: {input_dim} and {n_classes} do not "
                       f"match the config's data set {history.config.dataset} ({want[0]} "
                       f"inputs, {want[1]} classes)")
    label, note = meta.get("label", ""), meta.get("note", "")
    if not isinstance(label, str) or not isinstance(note, str):
        raise RunError("run_meta.label and run_meta.note: must be text")
    run = cls.from_history(history, run_id=run_id, source=source, label=label,
                           note=note, input_dim=input_dim, n_classes=n_classes,
                           data=_data(arrays, meta))
    for ev in _events(meta):
        run.add_event(ev)
    for snap in _snapshots(arrays):
        run.boundaries.add(snap)
    run.version = 0
    return run
