"""Workspace and Cursor: which runs the views draw, and at which step.

Views bind to (runs, cursor), never to a session or a worker: one view draws one run or
several, live or opened, at the step the cursor says. This is napari's split (a Qt-free
``Dims`` and ``LayerList`` with events; Qt widgets that subscribe), kept minimal: plain
callbacks and a ``version`` counter that bumps on every change, so a view polled by the app's
frame clock redraws only when something moved, and a burst of changes costs one frame.

- Cursor: follow live (each run shows its last step) or a fixed step; ``step_for(run)`` is
  the step shown for one run, clamped to what that run recorded (runs in a comparison may
  have stopped at different steps: one hit NaN, one was opened from a shorter file).
- Workspace: one to MAX_RUNS runs in order (the first is run A, the one others are compared
  with), each with a colour slot that stays put when another run is removed, so a run never
  changes colour under the user's eyes.
- ``auto_label(base, other)``: a short label naming what differs from run A.

No torch and no Qt: the GUI process imports this.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from vgrad_gui.core.run import Run
from vgrad_gui.core.spec import Config

MAX_RUNS = 4
MAX_LABEL_CHARS = 24


class WorkspaceError(ValueError):
    """A workspace operation that cannot be done; the message says what is allowed."""


@dataclass(frozen=True)
class Change:
    """What changed: kind is added, removed, replaced, relabelled or cursor. ``old_id``: the
    id a replaced run had (a view drops what it cached for it)."""

    kind: str
    run_id: int | None = None
    old_id: int | None = None


Listener = Callable[[Change], Any]


class _Evented:
    """A version counter plus callbacks; a callback that raises does not stop the others."""

    def __init__(self) -> None:
        self.version = 0
        self._listeners: list[Listener] = []

    def connect(self, fn: Listener) -> None:
        if fn not in self._listeners:
            self._listeners.append(fn)

    def disconnect(self, fn: Listener) -> None:
        if fn in self._listeners:
            self._listeners.remove(fn)

    def _emit(self, change: Change) -> None:
        self.version += 1
        errors: list[BaseException] = []
        for fn in list(self._listeners):
            try:
                fn(change)
            except Exception as exc:  # one broken view must not silence the others
                errors.append(exc)
        if errors:
            raise errors[0]


class Cursor(_Evented):
    """Which step the views show: follow live (None) or a fixed step."""

    def __init__(self) -> None:
        super().__init__()
        self.fixed: int | None = None

    @property
    def follows_live(self) -> bool:
        return self.fixed is None

    def follow_live(self) -> None:
        if self.fixed is not None:
            self.fixed = None
            self._emit(Change("cursor"))

    def set_step(self, step: int) -> None:
        step = max(0, int(step))
        if step != self.fixed:
            self.fixed = step
            self._emit(Change("cursor"))

    def step_for(self, run: Run) -> int:
        """The step shown for ``run``: its last step when following live, else the fixed step
        clamped to the steps it recorded (0 before its first step)."""
        last = run.step
        if self.fixed is None or last == 0:
            return last
        return min(max(self.fixed, run.first_step), last)


class Workspace(_Evented):
    """One to MAX_RUNS runs, the cursor, and a stable colour slot per run."""

    def __init__(self) -> None:
        super().__init__()
        self._runs: list[Run] = []
        self._slots: dict[int, int] = {}
        self.runs_version = 0
        self.cursor = Cursor()
        self.cursor.connect(self._cursor_moved)

    def _cursor_moved(self, change: Change) -> None:
        self._emit(change)

    def _emit(self, change: Change) -> None:
        # ``runs_version`` leaves the cursor out: a view that only marks the cursor's step
        # (a line over the whole history) need not redraw its data when the cursor moves.
        if change.kind != "cursor":
            self.runs_version += 1
        super()._emit(change)

    # -- reading ------------------------------------------------------------------------------
    @property
    def runs(self) -> tuple[Run, ...]:
        return tuple(self._runs)

    @property
    def ids(self) -> list[int]:
        return [r.run_id for r in self._runs]

    @property
    def base(self) -> Run | None:
        """Run A, the one the others are compared with."""
        return self._runs[0] if self._runs else None

    def __len__(self) -> int:
        return len(self._runs)

    def __contains__(self, run_id: object) -> bool:
        return run_id in self._slots

    def get(self, run_id: int) -> Run:
        for run in self._runs:
            if run.run_id == run_id:
                return run
        raise WorkspaceError(f"no run {run_id} in the workspace (runs: {self.ids})")

    def slot(self, run_id: int) -> int:
        """The run's colour slot, 0..MAX_RUNS-1; it stays the same while the run is here."""
        self.get(run_id)
        return self._slots[run_id]

    def letter(self, run_id: int) -> str:
        """'A', 'B', ... by colour slot, so a run keeps its letter like its colour."""
        return "ABCD"[self.slot(run_id)]

    def steps(self) -> dict[int, int]:
        """The step shown for every run, by run id."""
        return {r.run_id: self.cursor.step_for(r) for r in self._runs}

    def data_version(self) -> tuple[int, ...]:
        """Changes to the workspace and to every run's data, for a view to compare with the
        tuple it drew last."""
        return (self.version, *(r.version for r in self._runs))

    # -- changing -----------------------------------------------------------------------------
    def add(self, run: Run) -> int:
        """Add a run; returns its colour slot (the lowest free one)."""
        if len(self._runs) >= MAX_RUNS:
            raise WorkspaceError(f"a comparison holds at most {MAX_RUNS} runs; remove one "
                                 f"first")
        if run.run_id in self._slots:
            raise WorkspaceError(f"run id {run.run_id} is already in the workspace; use "
                                 f"replace() or a new id")
        free = min(set(range(MAX_RUNS)) - set(self._slots.values()))
        self._runs.append(run)
        self._slots[run.run_id] = free
        self._emit(Change("added", run.run_id))
        return free

    def remove(self, run_id: int) -> Run:
        run = self.get(run_id)
        self._runs.remove(run)
        del self._slots[run_id]
        self._emit(Change("removed", run_id))
        return run

    def replace(self, run_id: int, run: Run) -> None:
        """Put ``run`` where run ``run_id`` was: same place, same colour slot. Its id may be
        new (a reset or a changed config gets a new id, so late messages for the old one are
        recognised and dropped)."""
        old = self.get(run_id)
        if run.run_id != run_id and run.run_id in self._slots:
            raise WorkspaceError(f"run id {run.run_id} is already in the workspace")
        self._runs[self._runs.index(old)] = run
        self._slots[run.run_id] = self._slots.pop(run_id)
        self._emit(Change("replaced", run.run_id, run_id))

    def clear(self) -> None:
        for run_id in self.ids:
            self.remove(run_id)

    def relabel(self) -> None:
        """Label every run with a config by what differs from run A (``auto_label``); run A
        is labelled by ``describe``."""
        base = self.base
        if base is None or base.config is None:
            return
        for run in self._runs:
            if run.config is None:
                continue
            label = describe(run.config) if run is base else auto_label(base.config,
                                                                        run.config)
            if label != run.label:
                run.set_label(label)
                self._emit(Change("relabelled", run.run_id))


# -- labels ---------------------------------------------------------------------------------------
ACTIVATION_NAMES = {"sigmoid": "sigmoid", "tanh": "tanh", "relu": "ReLU",
                    "leaky_relu": "leaky ReLU", "elu": "ELU", "gelu": "GELU", "selu": "SELU",
                    "linear": "linear"}
INIT_NAMES = {"default": "default init", "small_normal": "small init",
              "large_normal": "large init", "xavier_uniform": "Xavier init",
              "xavier_normal": "Xavier normal init", "he_uniform": "He uniform init",
              "he_normal": "He init", "lecun_normal": "LeCun init",
              "orthogonal": "orthogonal init"}
NORM_NAMES = {"none": "no norm", "batch": "batch norm", "layer": "layer norm"}


def _fmt(x: float) -> str:
    return f"{x:g}"


# Priority order of auto_label: what changes the story of vanishing gradients most comes first
# (the non-linearity and the weight scale, then the fixes, then the size of the net), then the
# training settings, then the data. The device never matters to the picture and is ignored.
_PARTS: tuple[tuple[str, Callable[[Config], str]], ...] = (
    ("activation", lambda c: ACTIVATION_NAMES[c.activation]),
    ("init", lambda c: INIT_NAMES[c.init]),
    ("norm", lambda c: NORM_NAMES[c.norm]),
    ("residual", lambda c: "residual" if c.residual else "no residual"),
    ("depth", lambda c: f"depth {c.depth}"),
    ("width", lambda c: f"width {c.width}"),
    ("optimizer", lambda c: c.optimizer),
    ("lr", lambda c: f"lr {_fmt(c.lr)}"),
    ("batch_size", lambda c: f"batch {c.batch_size}"),
    ("dataset", lambda c: c.dataset),
    ("samples", lambda c: f"{c.samples} samples"),
    ("noise", lambda c: f"noise {_fmt(c.noise)}"),
    ("seed", lambda c: f"seed {c.seed}"),
    ("steps", lambda c: f"{c.steps} steps"),
)


def differences(base: Config, other: Config) -> list[str]:
    """The keys in which ``other`` differs from ``base``, in auto_label's priority order."""
    return [key for key, _ in _PARTS if getattr(base, key) != getattr(other, key)]


def _join(parts: list[str], limit: int) -> str:
    """Parts joined by ' + ' while they fit in ``limit``, the rest counted: 'a + b (+2)'."""
    shown: list[str] = []
    for i, part in enumerate(parts):
        rest = len(parts) - i - 1
        if len(" + ".join([*shown, part]) + (f" (+{rest})" if rest else "")) > limit:
            break
        shown.append(part)
    if not shown:
        return parts[0][: limit - 1] + "…"
    hidden = len(parts) - len(shown)
    return " + ".join(shown) + (f" (+{hidden})" if hidden else "")


def auto_label(base: Config, other: Config, limit: int = MAX_LABEL_CHARS) -> str:
    """A short label naming what differs from run A: 'ReLU + He init', 'batch norm',
    'depth 30', 'residual', 'lr 0.01'; 'same as A' when nothing does. At most ``limit``
    characters; differences are named in the priority order of ``_PARTS`` and those that do
    not fit are counted ('ReLU + He init (+2)')."""
    named = dict(_PARTS)
    parts = [named[key](other) for key in differences(base, other)]
    return _join(parts, limit) if parts else "same as A"


def describe(config: Config, limit: int = MAX_LABEL_CHARS) -> str:
    """A short label for a run on its own (run A): its activation, plus its init, norm and
    shortcuts where they are not the defaults: 'sigmoid', 'ReLU + He init'."""
    default = Config()
    parts = [ACTIVATION_NAMES[config.activation]]
    parts += [fn(config) for key, fn in _PARTS[1:4] if getattr(config, key) !=
              getattr(default, key)]
    return _join(parts, limit)
