"""Trainer: builds data, model, optimizer and probe from a Config and trains one step at a time.

``step()`` trains one step and ``run_block(k)`` k steps, returning a RecordBlock. ``run()``
trains many steps and can be paused, resumed and stopped from another thread. The same config
and seed give identical records on the CPU.

Training stops at the first non-finite step (``records.first_nonfinite``: NaN or Inf in a
gradient norm or the loss): ``run_block`` returns the records up to and including that step,
``step_count`` becomes that step, and ``run`` returns. So the GUI, ``record`` and the
diagnosis all name the same step. (The block's later steps were computed, from non-finite
weights, but are not recorded: checking every step would cost a host sync per step.)
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F

from vgrad_gui.core.builder import build_model
from vgrad_gui.core.datasets import Dataset, make_dataset
from vgrad_gui.core.probe import MAX_BLOCK, GradientProbe
from vgrad_gui.core.records import RecordBlock
from vgrad_gui.core.spec import Config, ConfigError

STATS_EVERY = 100
EVAL_EVERY = 100
# What Trainer._undo needs to take a step back: batch cursor, batch order, the order
# generator's state (on a step that reshuffles), the model's buffers.
_UndoPoint = tuple[int, torch.Tensor, "torch.Tensor | None", list[torch.Tensor]]
# Torch's own default (the physical cores), read before anything sets it.
_DEFAULT_THREADS = torch.get_num_threads()


def available_devices() -> list[str]:
    found = ["cpu"]
    if torch.cuda.is_available():
        found.append("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        found.append("mps")
    return found


def resolve_device(name: str) -> torch.device:
    have = available_devices()
    if name == "auto":
        return torch.device("cuda" if "cuda" in have else "mps" if "mps" in have else "cpu")
    if name not in have:
        raise ConfigError("device", name, "auto or " + ", ".join(have)
                          + f" ({name.upper()} is not available on this machine)")
    return torch.device(name)


def threads_for(config: Config) -> int:
    """Torch threads to use for this network. Narrow nets are dominated by per-op overhead,
    where a second thread only adds synchronisation (measured: 1 thread beats 2 at width 16-64).
    """
    if config.width <= 128:
        return 1
    return max(1, min(4, _DEFAULT_THREADS))


def make_optimizer(config: Config, params: list[torch.Tensor],
                   foreach: bool | None = None) -> torch.optim.Optimizer:
    """The config's optimizer. ``foreach=True`` updates all tensors in one call instead of a
    Python loop over them (on the CPU PyTorch defaults to the loop)."""
    if config.optimizer == "adam":
        return torch.optim.Adam(params, lr=config.lr, foreach=foreach)
    momentum = 0.9 if config.optimizer == "momentum" else 0.0
    return torch.optim.SGD(params, lr=config.lr, momentum=momentum, foreach=foreach)


class Trainer:
    def __init__(self, config: Config, *, stats_every: int = STATS_EVERY,
                 eval_every: int = EVAL_EVERY, data: Dataset | None = None,
                 accelerator_path: bool | None = None, separate: bool | None = None) -> None:
        """``accelerator_path``, ``separate``: see GradientProbe (tests use them to run every
        path of the probe on small nets and on the CPU)."""
        self.config = config
        self.device = resolve_device(config.device)
        self.data = data if data is not None else make_dataset(
            config.dataset, config.samples, config.noise, config.seed)
        self.eval_every = max(1, int(eval_every))
        self.model = build_model(config, self.data.input_dim, self.data.n_classes).to(self.device)
        self.model.train()
        self.layer_names = list(self.model.names)
        self.n_layers = len(self.layer_names)
        self.probe = GradientProbe(self.model, config.activation, stats_every,
                                   accelerator_path=accelerator_path, separate=separate)
        # Narrow nets: one flat tensor holding every parameter, one update per step; wide
        # nets: every parameter, updated in one foreach call (see probe.py).
        self.optimizer = make_optimizer(config, self.probe.optimizer_params(), foreach=True)
        d = self.device
        self.x_train = torch.from_numpy(self.data.x_train).to(d)
        self.y_train = torch.from_numpy(self.data.y_train).to(d)
        self.x_test = torch.from_numpy(self.data.x_test).to(d)
        self.y_test = torch.from_numpy(self.data.y_test).to(d)
        self.batch_size = min(config.batch_size, len(self.data.x_train))
        self._order_rng = torch.Generator().manual_seed(config.seed + 1)
        self._order = torch.empty(0, dtype=torch.long)
        self._cursor = 0
        self.step_count = 0
        # Set by the live worker: step 1, trained alone, returns its gradient norms, loss and
        # accuracy at once, and its statistics and held-out evaluation come from
        # finish_first(), so the first row reaches the screen a step sooner on a big net
        # (they cost more than a step there). The numbers are the same either way.
        self.defer_first = False
        self._first_held = False
        self.aborted = False  # the last block ended early: run_block's ``abort`` said so
        # The first step whose gradients or loss were NaN/Inf, once there is one.
        self.nonfinite_step: int | None = None
        self._stop = threading.Event()
        self._resume = threading.Event()
        self._resume.set()

    # -- changing course ------------------------------------------------------------------
    def change(self, lr: float | None = None, optimizer: str | None = None) -> Config:
        """Go on with another learning rate and/or optimizer, weights kept (TensorFlow
        Playground's most asked-for behaviour). A new optimizer starts with empty state (no
        momentum, no Adam moments), as it would in a user's own loop; a new learning rate
        alone keeps the optimizer's state. Returns the config now in force; ConfigError for a
        value the spec does not allow."""
        changes: dict[str, object] = {}
        if lr is not None:
            changes["lr"] = lr
        if optimizer is not None:
            changes["optimizer"] = optimizer
        config = Config.from_dict({**self.config.to_dict(), **changes})  # the spec's checks
        if config.optimizer != self.config.optimizer:
            self.optimizer = make_optimizer(config, self.probe.optimizer_params(), foreach=True)
        elif config.lr != self.config.lr:
            for group in self.optimizer.param_groups:
                group["lr"] = config.lr
        self.config = config
        return config

    # -- one step -------------------------------------------------------------------------
    def _next_batch(self) -> torch.Tensor:
        n = len(self.x_train)
        if self._cursor + self.batch_size > len(self._order):
            self._order = torch.randperm(n, generator=self._order_rng).to(self.device)
            self._cursor = 0
        idx = self._order[self._cursor : self._cursor + self.batch_size]
        self._cursor += self.batch_size
        return idx

    def _undo_point(self) -> _UndoPoint:
        """What a step changes before it updates the weights: the batch cursor and order
        (and the order's generator, on a step that reshuffles), and the buffers its forward
        pass updates (batch norm's running statistics)."""
        reshuffles = self._cursor + self.batch_size > len(self._order)
        rng = self._order_rng.get_state() if reshuffles else None
        return self._cursor, self._order, rng, [b.clone() for b in self.model.buffers()]

    def _undo(self, point: _UndoPoint) -> None:
        self._cursor, self._order, rng, buffers = point
        if rng is not None:
            self._order_rng.set_state(rng)
        with torch.no_grad():
            for b, kept in zip(self.model.buffers(), buffers, strict=True):
                b.copy_(kept)
        self.probe.abandon()

    def step(self) -> RecordBlock:
        """Train exactly one step."""
        return self.run_block(1)

    def run_block(self, k: int, abort: Callable[[], bool] | None = None) -> RecordBlock:
        """Train ``k`` steps (at most MAX_BLOCK) and return what they recorded, ending at the
        first non-finite step if there is one. Gathering the per-step results once per block
        keeps the probe's cost per step small.

        ``abort`` is asked after each step's forward pass and after its backward pass (the
        two halves of a big net's step, each a second or more): when it says yes, that step
        is undone (its batch, batch norm's running statistics, the probe's capture) and the
        block ends with the steps before it, possibly none; ``aborted`` says so. Nothing
        had changed the weights yet, so training on gives the same records as if the step
        had never started."""
        k = max(1, min(int(k), MAX_BLOCK))
        if self._first_held:
            raise RuntimeError("finish_first() must come before step 2 changes the weights")
        self.aborted = False
        probe, model, opt = self.probe, self.model, self.optimizer
        losses: list[torch.Tensor] = []
        logits: list[torch.Tensor] = []
        targets: list[torch.Tensor] = []
        evals: list[torch.Tensor] = []
        eval_steps: list[int] = []
        first = self.step_count + 1
        hold = self.defer_first and first == 1 and k == 1
        done = k
        for slot in range(k):
            step = first + slot
            undo = self._undo_point() if abort is not None else None
            idx = self._next_batch()
            xb, yb = self.x_train[idx], self.y_train[idx]
            probe.begin(step)
            out = model(xb)
            loss = F.cross_entropy(out, yb)
            if undo is not None and abort is not None and abort():
                self._undo(undo)
                done = slot
                break
            probe.zero_grad()
            loss.backward()
            if undo is not None and abort is not None and abort():
                self._undo(undo)  # the gradients stay: the next step's zero_grad clears them
                done = slot
                break
            probe.measure(slot, step)
            opt.step()
            probe.after_update(step, hold=hold)
            # Kept as they are (no .detach(): every op between two backward passes costs);
            # the probe reads them under no_grad at the end of the block.
            losses.append(loss)
            logits.append(out)
            targets.append(yb)
            if hold:
                self._first_held = True
            elif step % self.eval_every == 0 or step == 1:
                evals.append(self._evaluate_tensor())
                eval_steps.append(step)
        if done == 0:
            self.aborted = True
            return RecordBlock.empty(2 * self.n_layers + 2, probe.probe_width)
        self.aborted = done < k
        k = done
        rows, probe_steps, probe_rows, eval_rows = probe.collect(k, losses, logits, targets,
                                                                 evals)
        block = RecordBlock(
            steps=np.arange(first, first + k, dtype=np.int64),
            rows=rows,
            probe_steps=probe_steps,
            probe_rows=probe_rows,
            eval_steps=np.array(eval_steps, dtype=np.int64),
            eval_rows=np.array(eval_rows, dtype=np.float64).reshape(len(eval_rows), 2),
        )
        bad = block.first_nonfinite(self.n_layers)
        if bad is not None:
            block = block.through(bad)
            if self.nonfinite_step is None:
                self.nonfinite_step = bad
        self.step_count = block.last_step
        return block

    @property
    def first_held(self) -> bool:
        """Whether step 1's statistics and evaluation wait for ``finish_first()``."""
        return self._first_held

    def finish_first(self) -> RecordBlock | None:
        """Step 1's statistics and held-out evaluation, when ``defer_first`` held them back
        (a block with no step rows); None otherwise. Call before training on."""
        if not self._first_held:
            return None
        self._first_held = False
        probe_steps, probe_rows = self.probe.take_held()
        evaluated = self._evaluate_tensor().cpu().numpy().astype(np.float64)
        return RecordBlock(
            steps=np.empty(0, np.int64),
            rows=np.empty((0, 2 * self.n_layers + 2)),
            probe_steps=probe_steps,
            probe_rows=probe_rows,
            eval_steps=np.array([1], np.int64),
            eval_rows=evaluated.reshape(1, 2),
        )

    @torch.no_grad()
    def _evaluate_tensor(self) -> torch.Tensor:
        was_training = self.model.training
        self.model.eval()
        out = self.model(self.x_test)
        loss = F.cross_entropy(out, self.y_test)
        acc = (out.argmax(1) == self.y_test).double().mean()
        self.model.train(was_training)
        return torch.stack([loss.double(), acc])

    def evaluate(self) -> np.ndarray:
        """Loss and accuracy on the held-out split, in eval mode (batch norm uses its
        running statistics)."""
        return self._evaluate_tensor().cpu().numpy()

    @torch.no_grad()
    def predict_grid(self, xs: np.ndarray, ys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """For 2-D data: predicted class and its probability at every grid point [len(ys),
        len(xs)] (rows follow ys)."""
        gx, gy = np.meshgrid(xs.astype(np.float32), ys.astype(np.float32))
        pts = torch.from_numpy(np.stack([gx.ravel(), gy.ravel()], 1)).to(self.device)
        was_training = self.model.training
        self.model.eval()
        prob = torch.softmax(self.model(pts), dim=1)
        self.model.train(was_training)
        conf, cls = prob.max(dim=1)
        shape = (len(ys), len(xs))
        return cls.cpu().numpy().reshape(shape), conf.cpu().numpy().reshape(shape)

    # -- many steps -----------------------------------------------------------------------
    def run(self, steps: int, on_block: Callable[[RecordBlock], object] | None = None,
            block: int = 16) -> int:
        """Train up to ``steps`` more steps in blocks of ``block``; returns how many ran.
        ``stop()`` ends it early, ``pause()``/``resume()`` hold it, from any thread. A
        non-finite step ends it too (after the block that ends with it is handed over)."""
        self._stop.clear()
        done = 0
        while done < steps:
            if not self._resume.is_set():
                while not self._resume.wait(0.05):
                    if self._stop.is_set():
                        return done
            if self._stop.is_set():
                break
            records = self.run_block(min(block, steps - done))
            done += len(records)
            if on_block is not None:
                on_block(records)
            if records.first_nonfinite(self.n_layers) is not None:
                break
        return done

    def pause(self) -> None:
        self._resume.clear()

    def resume(self) -> None:
        self._resume.set()

    def stop(self) -> None:
        self._stop.set()
        self._resume.set()

    @property
    def paused(self) -> bool:
        return not self._resume.is_set()
