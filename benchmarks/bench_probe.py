"""Per-step cost of probing and recording, against the same plain PyTorch loop.

Both loops train the same model (same config, data, batch size, batch order and thread count)
in one process; they run interleaved in short blocks, so drift in machine load hits both alike.
The probed loop is what ``vgrad-gui record`` does: Trainer.run_block() (probe, accuracy, periodic
evaluation and heavier statistics) plus RunHistory.append(), in blocks of the same size as the
plain loop's timed blocks. The plain loop is forward,
cross-entropy, zero_grad(set_to_none=True), backward, optimizer step.

    python benchmarks/bench_probe.py [--rounds 40] [--block 50]

Prints the ratio probed/plain per configuration (target: <= 1.05 on the CPU).
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
import torch.nn.functional as F

from vgrad_gui.core.builder import build_model
from vgrad_gui.core.history import RunHistory
from vgrad_gui.core.spec import Config
from vgrad_gui.core.trainer import Trainer, make_optimizer

CONFIGS = [
    Config(depth=50, width=16, activation="tanh", init="xavier_uniform", lr=0.01, device="cpu"),
    Config(depth=20, width=64, activation="tanh", init="xavier_uniform", lr=0.01, device="cpu"),
]


class PlainLoop:
    """The baseline: what a person would write with no probe at all."""

    def __init__(self, trainer: Trainer) -> None:
        cfg = trainer.config
        self.model = build_model(cfg, trainer.data.input_dim, trainer.data.n_classes)
        self.opt = make_optimizer(cfg, list(self.model.parameters()))
        self.x, self.y = trainer.x_train, trainer.y_train
        self.batch = trainer.batch_size
        self.gen = torch.Generator().manual_seed(cfg.seed + 1)
        self.order = torch.empty(0, dtype=torch.long)
        self.cursor = 0

    def step(self) -> None:
        if self.cursor + self.batch > len(self.order):
            self.order = torch.randperm(len(self.x), generator=self.gen)
            self.cursor = 0
        idx = self.order[self.cursor : self.cursor + self.batch]
        self.cursor += self.batch
        out = self.model(self.x[idx])
        loss = F.cross_entropy(out, self.y[idx])
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()


def measure(config: Config, rounds: int, block: int) -> tuple[float, float, float]:
    trainer = Trainer(config)
    history = RunHistory(config, trainer.layer_names, trainer.probe.inactive_kind)
    plain = PlainLoop(trainer)

    def probed_block() -> None:
        history.append(trainer.run_block(block))

    def plain_block() -> None:
        for _ in range(block):
            plain.step()

    probed_block()  # warm up both
    plain_block()
    t_plain: list[float] = []
    t_probe: list[float] = []
    runs = [(plain_block, t_plain), (probed_block, t_probe)]
    for r in range(rounds):
        for fn, times in runs if r % 2 == 0 else runs[::-1]:
            start = time.perf_counter()
            fn()
            times.append((time.perf_counter() - start) / block)
    p, q = statistics.median(t_plain), statistics.median(t_probe)
    # Each round's two blocks ran back to back; the median of their ratios is robust to the
    # machine speeding up or slowing down between rounds.
    ratio = statistics.median(b / a for a, b in zip(t_plain, t_probe, strict=False))
    return p, q, ratio


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=150)
    parser.add_argument("--block", type=int, default=16)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {args.threads} thread(s), {args.rounds} rounds of "
          f"{args.block} steps each, interleaved")
    for cfg in CONFIGS:
        p, q, ratio = measure(cfg, args.rounds, args.block)
        print(f"depth {cfg.depth:3d} x width {cfg.width:3d}: plain {p * 1e3:.3f} ms/step, "
              f"probed+recorded {q * 1e3:.3f} ms/step, ratio {ratio:.3f} (target <= 1.05)")


if __name__ == "__main__":
    main()
