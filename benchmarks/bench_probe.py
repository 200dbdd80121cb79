"""What recording costs, against the training loop a user would write in plain PyTorch.

The reference is five lines of PyTorch: an ``nn.Sequential`` of ``nn.Linear``, the activation
module (and ``nn.BatchNorm1d``/``nn.LayerNorm`` where the config has them), then per step
``optimizer.zero_grad()``, forward, ``F.cross_entropy``, ``loss.backward()``,
``optimizer.step()``. It starts from the same weights and trains on the same data in the same
batch order, with the same thread count, in the same process.

The recorded path is what ``vgrad-gui record`` does: ``Trainer.run_block`` in blocks of 16 with
everything the app records (grad norms every step; activation statistics, update ratios, the
forward signal and the back-propagated gradient on every statistics step, 1 then every 100;
the held-out evaluation every 100 steps) and ``RunHistory.append``.

The two run interleaved: each round times one block of each (order alternating), and the
figure is the median over rounds of the paired time ratio, so drift in machine load (other
processes on a shared machine) hits both alike. A timed block is ``--steps`` steps, a multiple
of 100, so every block holds its share of statistics steps and evaluations.

    python benchmarks/bench_probe.py [--rounds 25] [--steps 100] [--seconds 90] [--no-big]

Target (issue 8): record >= 0.95x the plain loop's steps/s, i.e. time ratio <= 1/0.95 = 1.053.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from vgrad_gui.core.history import RunHistory
from vgrad_gui.core.spec import Config
from vgrad_gui.core.trainer import Trainer, make_optimizer, threads_for

TARGET = 0.95  # record's steps/s over the plain loop's, at least
BASE = Config(activation="tanh", init="xavier_uniform", lr=0.01, device="cpu")
CONFIGS = [
    BASE.replace(depth=20, width=32, batch_size=128),  # the measurement
    BASE.replace(depth=50, width=16),
    BASE.replace(depth=10, width=256),
    BASE.replace(depth=20, width=64),  # issue 7's second size
    BASE.replace(depth=20, width=32, norm="batch", activation="relu", init="he_normal"),
]
BIG = BASE.replace(depth=200, width=1024)

MODULES: dict[str, Callable[[], nn.Module]] = {
    "sigmoid": nn.Sigmoid, "tanh": nn.Tanh, "relu": nn.ReLU,
    "leaky_relu": lambda: nn.LeakyReLU(0.01), "elu": nn.ELU, "gelu": nn.GELU, "selu": nn.SELU,
    "linear": nn.Identity,
}


def plain_model(cfg: Config, trainer: Trainer) -> nn.Sequential:
    """The user's nn.Sequential, holding the trainer's initial weights."""
    if cfg.residual:
        raise ValueError("a residual net is not an nn.Sequential; bench it another way")
    layers: list[nn.Module] = []
    dims = [trainer.data.input_dim] + [cfg.width] * cfg.depth
    for i in range(cfg.depth):
        layers.append(nn.Linear(dims[i], dims[i + 1]))
        if cfg.norm == "batch":
            layers.append(nn.BatchNorm1d(cfg.width))
        elif cfg.norm == "layer":
            layers.append(nn.LayerNorm(cfg.width))
        layers.append(MODULES[cfg.activation]())
    layers.append(nn.Linear(cfg.width, trainer.data.n_classes))
    model = nn.Sequential(*layers)
    linears = [m for m in model if isinstance(m, nn.Linear)]
    with torch.no_grad():
        for mine, theirs in zip(linears, trainer.model.linears, strict=True):
            mine.weight.copy_(theirs.weight)
            assert theirs.bias is not None
            mine.bias.copy_(theirs.bias)
    return model.to(trainer.device).train()


class PlainLoop:
    """The baseline: what a person would write with no probe at all."""

    def __init__(self, trainer: Trainer) -> None:
        cfg = trainer.config
        self.model = plain_model(cfg, trainer)
        self.optimizer = make_optimizer(cfg, list(self.model.parameters()))
        self.x, self.y = trainer.x_train, trainer.y_train
        self.batch = trainer.batch_size
        self.gen = torch.Generator().manual_seed(cfg.seed + 1)  # the trainer's batch order
        self.order = torch.empty(0, dtype=torch.long)
        self.cursor = 0

    def steps(self, k: int) -> None:
        model, optimizer = self.model, self.optimizer
        for _ in range(k):
            if self.cursor + self.batch > len(self.order):
                self.order = torch.randperm(len(self.x), generator=self.gen)
                self.cursor = 0
            idx = self.order[self.cursor : self.cursor + self.batch]
            self.cursor += self.batch
            optimizer.zero_grad()
            loss = F.cross_entropy(model(self.x[idx]), self.y[idx])
            loss.backward()
            optimizer.step()


THREADS: int | None = None  # --threads: override the app's choice (threads_for) for both


def threads(config: Config) -> int:
    return THREADS or threads_for(config)


def paired(config: Config, rounds: int, steps: int, seconds: float
           ) -> tuple[float, float, list[float]]:
    """Median ms/step of each loop, and the per-round time ratios recorded/plain: ``rounds``
    rounds, fewer (at least 3) where they would take more than ``seconds``."""
    torch.set_num_threads(threads(config))
    trainer = Trainer(config)
    history = RunHistory(config, trainer.layer_names, trainer.probe.inactive_kind)
    plain = PlainLoop(trainer)

    def recorded(k: int) -> None:
        # What 'record' does: Trainer.run in blocks of 16, each appended to the history.
        trainer.run(k, history.append, block=16)

    recorded(min(steps, 32))  # warm up both
    plain.steps(min(steps, 32))
    t_plain: list[float] = []
    t_rec: list[float] = []
    runs: list[tuple[Callable[[int], None], list[float]]] = [(plain.steps, t_plain),
                                                               (recorded, t_rec)]
    began = time.perf_counter()
    for r in range(rounds):
        if r >= 3 and time.perf_counter() - began > seconds:
            break
        for fn, times in runs if r % 2 == 0 else runs[::-1]:
            start = time.perf_counter()
            fn(steps)
            times.append((time.perf_counter() - start) / steps)
    ratios = [b / a for a, b in zip(t_plain, t_rec, strict=True)]
    return statistics.median(t_plain), statistics.median(t_rec), ratios


def report(cfg: Config, rounds: int, steps: int, seconds: float) -> None:
    p, q, ratios = paired(cfg, rounds, steps, seconds)
    ratio = statistics.median(ratios)
    q1, _, q3 = statistics.quantiles(ratios, n=4) if len(ratios) > 1 else (ratio,) * 3
    speed = 1 / ratio
    verdict = "ok" if speed >= TARGET else "MISSED"
    name = f"{cfg.depth:3d} x {cfg.width:4d} {cfg.activation}" + (
        f" +{cfg.norm} norm" if cfg.norm != "none" else "")
    print(f"{name:<26} batch {cfg.batch_size:3d}, {threads(cfg)} thr: "
          f"plain {p * 1e3:7.3f} ms/step, record {q * 1e3:7.3f} ms/step; "
          f"{len(ratios)} rounds, time ratio {ratio:.3f} (IQR {q1:.3f}-{q3:.3f}, "
          f"target <= {1 / TARGET:.3f}), "
          f"record/plain steps/s {speed:.3f}x (target >= {TARGET}x) {verdict}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=25)
    parser.add_argument("--steps", type=int, default=100,
                        help="steps per timed block (a multiple of 100 keeps the statistics "
                        "and evaluation steps in proportion)")
    parser.add_argument("--seconds", type=float, default=90,
                        help="stop a configuration's rounds after this long (at least 3 rounds)")
    parser.add_argument("--only", type=int, default=None, help="run only config number N")
    parser.add_argument("--no-big", action="store_true", help="skip depth 200 x width 1024")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch threads for both loops (default: the app's choice)")
    args = parser.parse_args()
    global THREADS
    THREADS = args.threads
    print(f"torch {torch.__version__}; {args.rounds} interleaved rounds of {args.steps} steps "
          f"per loop; reference: nn.Sequential + zero_grad/backward/step in this process")
    configs = CONFIGS if args.only is None else [CONFIGS[args.only]]
    for cfg in configs:
        report(cfg, args.rounds, args.steps, args.seconds)
    if not args.no_big and args.only is None:
        # Matrix products dominate here; a few single steps show the ratio (expected ~1).
        report(BIG, 3, 1, args.seconds)


if __name__ == "__main__":
    main()
