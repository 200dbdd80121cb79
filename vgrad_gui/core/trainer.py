"""Trainer: builds data, model, optimizer and probe from a Config and trains one step at a time.

Each ``step()`` returns a StepRecord. ``run()`` trains many steps and can be paused, resumed and
stopped from another thread. The same config and seed give identical records on the CPU.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F

from vgrad_gui.core.builder import build_model
from vgrad_gui.core.datasets import Dataset, make_dataset
from vgrad_gui.core.probe import GradientProbe
from vgrad_gui.core.records import StepRecord
from vgrad_gui.core.spec import Config, ConfigError

STATS_EVERY = 10
EVAL_EVERY = 100


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
    return max(1, min(4, torch.get_num_threads()))


def make_optimizer(config: Config, params: list[torch.nn.Parameter]) -> torch.optim.Optimizer:
    if config.optimizer == "adam":
        return torch.optim.Adam(params, lr=config.lr)
    momentum = 0.9 if config.optimizer == "momentum" else 0.0
    return torch.optim.SGD(params, lr=config.lr, momentum=momentum)


class Trainer:
    def __init__(self, config: Config, *, stats_every: int = STATS_EVERY,
                 eval_every: int = EVAL_EVERY, data: Dataset | None = None) -> None:
        self.config = config
        self.device = resolve_device(config.device)
        self.data = data if data is not None else make_dataset(
            config.dataset, config.samples, config.noise, config.seed)
        self.eval_every = max(1, int(eval_every))
        self.model = build_model(config, self.data.input_dim, self.data.n_classes).to(self.device)
        self.model.train()
        self.layer_names = list(self.model.names)
        self.n_layers = len(self.layer_names)
        self.probe = GradientProbe(self.model, config.activation, stats_every)
        self.optimizer = make_optimizer(config, list(self.model.parameters()))
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
        self._stop = threading.Event()
        self._resume = threading.Event()
        self._resume.set()

    # -- one step -------------------------------------------------------------------------
    def _next_batch(self) -> torch.Tensor:
        n = len(self.x_train)
        if self._cursor + self.batch_size > len(self._order):
            self._order = torch.randperm(n, generator=self._order_rng).to(self.device)
            self._cursor = 0
        idx = self._order[self._cursor : self._cursor + self.batch_size]
        self._cursor += self.batch_size
        return idx

    def step(self) -> StepRecord:
        """Train one step: forward, backward, probe, optimizer update."""
        step = self.step_count + 1
        idx = self._next_batch()
        xb, yb = self.x_train[idx], self.y_train[idx]
        probe = self.probe
        probe.begin(step)
        out = self.model(xb)
        loss = F.cross_entropy(out, yb)
        probe.zero_grad()
        loss.backward()
        norms = probe.measure()
        self.optimizer.step()
        correct = (out.detach().argmax(1) == yb).sum() / float(len(yb))
        row, probe_row = probe.finish(norms, loss, correct)
        self.step_count = step
        eval_row = None
        if step % self.eval_every == 0 or step == 1:
            eval_row = self.evaluate()
        return StepRecord(step, row, probe_row, eval_row)

    @torch.no_grad()
    def evaluate(self) -> np.ndarray:
        """Loss and accuracy on the held-out split, in eval mode (batch norm uses its
        running statistics)."""
        was_training = self.model.training
        self.model.eval()
        out = self.model(self.x_test)
        loss = F.cross_entropy(out, self.y_test)
        acc = (out.argmax(1) == self.y_test).double().mean()
        self.model.train(was_training)
        return torch.stack([loss.double(), acc]).cpu().numpy()

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
    def run(self, steps: int, on_record: Callable[[StepRecord], object] | None = None) -> int:
        """Train up to ``steps`` more steps; returns how many ran. ``stop()`` ends it early,
        ``pause()``/``resume()`` hold it, from any thread."""
        self._stop.clear()
        done = 0
        while done < steps:
            if not self._resume.is_set():
                while not self._resume.wait(0.05):
                    if self._stop.is_set():
                        return done
            if self._stop.is_set():
                break
            record = self.step()
            done += 1
            if on_record is not None:
                on_record(record)
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
