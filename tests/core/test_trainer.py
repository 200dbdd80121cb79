"""The trainer: where it stops, what it promises to repeat, and the flat model it trains."""

import numpy as np
import pytest
import torch
from torch import nn

from vgrad_gui.core.builder import build_model
from vgrad_gui.core.history import RunHistory
from vgrad_gui.core.inits import INITIALISERS, initialise
from vgrad_gui.core.presets import get_preset
from vgrad_gui.core.spec import Config
from vgrad_gui.core.trainer import Trainer


def test_the_exploding_preset_stops_at_its_first_nonfinite_step_everywhere():
    cfg = get_preset("exploding").config
    trainer = Trainer(cfg)
    history = RunHistory(cfg, trainer.layer_names, trainer.probe.inactive_kind)
    blocks = []

    def on_block(block):
        blocks.append(block)
        history.append(block)

    done = trainer.run(cfg.steps, on_block, block=16)
    n = trainer.n_layers
    bad = blocks[-1].first_nonfinite(n)
    assert bad is not None and bad < 16  # it blows up inside the first block
    # One step named by the block, the trainer, the history and the number of steps run.
    assert blocks[-1].last_step == bad == trainer.step_count == trainer.nonfinite_step
    assert history.first_nonfinite_step == bad == history.step == done
    assert all(b.first_nonfinite(n) is None for b in blocks[:-1])
    # Every step before it is finite: the rule is records.first_nonfinite, nothing else.
    assert np.isfinite(blocks[-1].rows[:-1, : 2 * n + 1]).all()
    assert (blocks[-1].probe_steps <= bad).all() and (blocks[-1].eval_steps <= bad).all()


def test_a_step_after_the_nonfinite_one_keeps_the_first_nonfinite_step():
    trainer = Trainer(get_preset("exploding").config)
    first = trainer.run_block(16).last_step
    later = trainer.run_block(16)
    assert len(later) == 1 and later.last_step == first + 1
    assert trainer.nonfinite_step == first and trainer.step_count == first + 1


@pytest.mark.parametrize("cfg", [
    Config(depth=6, width=16, activation="relu", init="he_uniform", optimizer="momentum",
           lr=0.05, device="cpu"),
    Config(depth=5, width=12, activation="tanh", norm="batch", optimizer="adam", lr=0.01,
           device="cpu"),
    Config(depth=5, width=12, activation="gelu", norm="layer", residual=True, device="cpu"),
], ids=["relu-momentum", "batch-adam", "layer-residual"])
def test_same_config_and_seed_give_identical_records_however_split(cfg):
    a = Trainer(cfg, stats_every=10)
    b = Trainer(cfg, stats_every=10)
    blocks_a = [a.run_block(25) for _ in range(4)]
    blocks_b = [b.run_block(50) for _ in range(2)]
    for table in ("steps", "rows", "probe_steps", "probe_rows", "eval_steps", "eval_rows"):
        x = np.concatenate([getattr(blk, table) for blk in blocks_a])
        y = np.concatenate([getattr(blk, table) for blk in blocks_b])
        assert np.array_equal(x, y, equal_nan=True), table
    assert list(np.concatenate([blk.probe_steps for blk in blocks_a])) == [1, 10, 20, 30, 40,
                                                                             50, 60, 70, 80,
                                                                             90, 100]


@pytest.mark.parametrize("cfg", [
    Config(depth=5, width=12, activation="tanh", norm="batch", optimizer="adam", lr=0.01,
           device="cpu"),
    Config(depth=5, width=12, activation="gelu", norm="layer", residual=True, device="cpu"),
    Config(depth=3, width=160, activation="relu", init="he_uniform", device="cpu"),  # separate
], ids=["batch-adam", "layer-residual", "wide"])
def test_step_one_held_back_gives_the_same_records(cfg):
    """The live worker sends step 1's row before its statistics and evaluation
    (defer_first); the numbers are those of a trainer that does not."""
    plain = Trainer(cfg, stats_every=10)
    held = Trainer(cfg, stats_every=10)
    held.defer_first = True
    first = held.run_block(1)
    assert held.first_held and len(first.probe_steps) == len(first.eval_steps) == 0
    with pytest.raises(RuntimeError, match="finish_first"):
        held.run_block(1)  # step 2 would change the weights the statistics need
    rest = held.finish_first()
    assert rest is not None and len(rest.steps) == 0 and not held.first_held
    assert held.finish_first() is None
    blocks_a = [plain.run_block(1), plain.run_block(20)]
    blocks_b = [first, rest, held.run_block(20)]
    for table in ("steps", "rows", "probe_steps", "probe_rows", "eval_steps", "eval_rows"):
        x = np.concatenate([getattr(blk, table) for blk in blocks_a])
        y = np.concatenate([getattr(blk, table) for blk in blocks_b])
        assert x.tobytes() == y.tobytes(), table
    assert list(rest.probe_steps) == list(rest.eval_steps) == [1]


@pytest.mark.parametrize("cfg", [
    Config(depth=5, width=12, activation="tanh", norm="batch", optimizer="adam", lr=0.01,
           samples=200, device="cpu"),
    Config(depth=5, width=12, activation="gelu", norm="layer", residual=True, samples=200,
           device="cpu"),
    Config(depth=3, width=160, activation="relu", init="he_uniform", samples=200,
           device="cpu"),  # separate gradients
], ids=["batch-adam", "layer-residual", "wide"])
def test_a_step_cut_short_by_abort_leaves_no_trace(cfg):
    """A Pause during a slow step undoes it (run_block's abort): the records, batch order
    (reshuffles included), batch norm's running statistics (read by the held-out
    evaluation) and statistics are those of a run never interrupted."""
    plain = Trainer(cfg, stats_every=5, eval_every=4)
    cut = Trainer(cfg, stats_every=5, eval_every=4)
    cut.defer_first = True
    assert cut.batch_size * 8 > len(cut.x_train)  # the order reshuffles within 60 steps
    asked = 0

    def abort() -> bool:  # yes at questions 1 (step 1, after forward), 4, 9, 14, ...
        nonlocal asked
        asked += 1
        return asked == 1 or asked % 5 == 4

    got, empty, partial = [], 0, 0
    while cut.step_count < 60:
        if cut.first_held:
            got.append(cut.finish_first())
        before = cut.step_count
        block = cut.run_block(min(7, 60 - cut.step_count), abort)
        assert cut.aborted == (cut.step_count < before + min(7, 60 - before))
        empty += cut.aborted and len(block) == 0
        partial += cut.aborted and len(block) > 0
        got.append(block)
    assert empty and partial and asked > 60
    want = [plain.run_block(1)] + [plain.run_block(k) for k in (20, 20, 19)]
    assert not plain.aborted
    for table in ("steps", "rows", "probe_steps", "probe_rows", "eval_steps", "eval_rows"):
        x = np.concatenate([getattr(blk, table) for blk in want])
        y = np.concatenate([getattr(blk, table) for blk in got])
        assert x.tobytes() == y.tobytes(), table
    assert list(np.concatenate([b.steps for b in got])) == list(range(1, 61))


@pytest.mark.parametrize("init", ["default", *INITIALISERS])
def test_weights_are_what_nn_linear_and_the_initialiser_give(init):
    """The flat model starts from the weights the per-layer nn.Linear modules had."""
    cfg = Config(depth=3, width=6, init=init, norm="batch", seed=7)
    model = build_model(cfg, 2, 3)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(7)
        linears = [nn.Linear(2, 6), nn.Linear(6, 6), nn.Linear(6, 6), nn.Linear(6, 3)]
        for lin in linears:
            initialise(lin, init)
    for mine, theirs in zip(model.linears, linears, strict=True):
        assert torch.equal(mine.weight, theirs.weight)
        assert torch.equal(mine.bias, theirs.bias)


def test_the_flat_model_behaves_as_a_module():
    cfg = Config(depth=3, width=8, norm="batch")
    model = build_model(cfg, 2, 2)
    reference = nn.Sequential(nn.Linear(2, 8), nn.BatchNorm1d(8), nn.Sigmoid(),
                              nn.Linear(8, 8), nn.BatchNorm1d(8), nn.Sigmoid(),
                              nn.Linear(8, 8), nn.BatchNorm1d(8), nn.Sigmoid(), nn.Linear(8, 2))
    assert sum(p.numel() for p in model.parameters()) == sum(
        p.numel() for p in reference.parameters())
    x = torch.randn(32, 2)
    model.eval()
    before = model(x)
    model.train()
    model(x)  # updates the running statistics
    model.eval()
    assert not torch.equal(model(x), before)  # eval mode reads the running statistics
    model.to(torch.float64)
    assert model(x.double()).dtype == torch.float64


def test_public_api_the_worker_and_cli_use():
    trainer = Trainer(Config(depth=2, width=4, device="cpu"))
    assert trainer.layer_names == ["hidden 1", "hidden 2", "output"] and trainer.n_layers == 3
    assert trainer.probe.inactive_kind == "saturated" and trainer.probe.stats_every == 100
    assert trainer.device == torch.device("cpu") and trainer.step_count == 0
    block = trainer.step()
    assert trainer.step_count == 1 and block.last_step == 1
    assert trainer.evaluate().shape == (2,)
    cls, conf = trainer.predict_grid(np.linspace(-1, 1, 5), np.linspace(-1, 1, 4))
    assert cls.shape == conf.shape == (4, 5)
    assert trainer.run(3) == 3 and trainer.step_count == 4
    assert len(trainer.data.x_train) > 0


def test_changing_course_mid_run_keeps_the_weights_and_matches_a_plain_loop():
    """lr then optimizer changed at steps 20 and 40: the records equal a plain PyTorch loop
    that makes the same changes (same weights, same batches)."""
    import torch

    from vgrad_gui.core.spec import Config, ConfigError
    from vgrad_gui.core.trainer import Trainer

    config = Config(depth=3, width=8, steps=100, activation="tanh", init="xavier_uniform",
                    lr=0.1)
    tr = Trainer(config)
    ref = Trainer(config)
    tr.run_block(20)
    ref.run_block(20)
    assert tr.change(lr=0.01).lr == 0.01
    for group in ref.optimizer.param_groups:  # the plain way to lower a learning rate
        group["lr"] = 0.01
    a, b = tr.run_block(20), ref.run_block(20)
    assert (a.rows == b.rows).all()
    new = tr.change(optimizer="adam")
    assert new.optimizer == "adam" and new.lr == 0.01
    ref.optimizer = torch.optim.Adam(ref.probe.optimizer_params(), lr=0.01, foreach=True)
    a, b = tr.run_block(20), ref.run_block(20)
    assert (a.rows == b.rows).all()
    try:
        tr.change(lr=-1.0)
    except ConfigError as exc:
        assert "lr" in str(exc)
    else:
        raise AssertionError("a negative learning rate was taken")
    assert tr.config.lr == 0.01  # a refused change changes nothing
