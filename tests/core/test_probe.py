"""The probe against plain autograd, and the physics it must show."""

import threading
import time

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from vgrad_gui.core.records import RecordBlock, channel_widths
from vgrad_gui.core.spec import Config
from vgrad_gui.core.trainer import Trainer

ACTIVATIONS = {"sigmoid": nn.Sigmoid, "tanh": nn.Tanh, "relu": nn.ReLU, "gelu": nn.GELU,
               "linear": nn.Identity}


class Reference(nn.Module):
    """The network written independently, with the standard modules, from given weights."""

    def __init__(self, cfg: Config, weights: list[torch.Tensor], biases: list[torch.Tensor]):
        super().__init__()
        self.linears = nn.ModuleList()
        for w, b in zip(weights, biases, strict=True):
            lin = nn.Linear(w.shape[1], w.shape[0])
            with torch.no_grad():
                lin.weight.copy_(w)
                lin.bias.copy_(b)
            self.linears.append(lin)
        norm = {"batch": nn.BatchNorm1d, "layer": nn.LayerNorm}.get(cfg.norm)
        self.norms = nn.ModuleList(norm(cfg.width) if norm else nn.Identity()
                                   for _ in range(cfg.depth))
        self.act = ACTIVATIONS[cfg.activation]()
        self.residual = cfg.residual

    def forward(self, x):
        """Logits, hidden activations, and every layer's block output (the logits last)."""
        acts, outs = [], []
        for lin, norm in zip(self.linears[:-1], self.norms, strict=True):
            y = self.act(norm(lin(x)))
            x = x + y if self.residual and x.shape == y.shape else y
            acts.append(y)
            outs.append(x)
        logits = self.linears[-1](x)
        return logits, acts, [*outs, logits]


def reference_step(cfg: Config):
    """Everything step 1 records, computed independently: plain modules from the trainer's
    initial weights, on its first batch; gradients by torch.autograd.grad, w.r.t. the weights
    and the block outputs; reductions in float64."""
    before = Trainer(cfg)
    ws = [lin.weight.detach().clone() for lin in before.model.linears]
    bs = [lin.bias.detach().clone() for lin in before.model.linears]
    ref = Reference(cfg, ws, bs).train()
    idx = before._next_batch()
    logits, acts, outs = ref(before.x_train[idx])
    loss = F.cross_entropy(logits, before.y_train[idx])
    params = [lin.weight for lin in ref.linears] + [lin.bias for lin in ref.linears]
    grads = torch.autograd.grad(loss, params + outs)
    n = len(ref.linears)

    def norm(t):
        return t.double().norm().item()

    w_grad = np.array([norm(g) for g in grads[:n]])
    after = [w - cfg.lr * g for w, g in zip(ws, grads[:n], strict=True)]  # plain SGD
    return dict(
        grad_norm=w_grad,
        bias_grad_norm=np.array([norm(g) for g in grads[n : 2 * n]]),
        loss=loss.item(),
        act_mean=np.array([a.double().mean().item() for a in acts]),
        act_std=np.array([a.double().std(unbiased=False).item() for a in acts]),
        update_ratio=np.array([norm(w - a) / norm(a) for w, a in zip(ws, after, strict=True)]),
        signal_std=np.array([o.double().std(unbiased=False).item() for o in outs]),
        backprop_grad=np.array([g.double().pow(2).mean().sqrt().item() for g in grads[2 * n :]]),
    )


def channels(block: RecordBlock, n_layers: int, row: int = 0) -> dict[str, np.ndarray]:
    """One probe row split into its named channels (records.PROBE_CHANNELS)."""
    out, at = {}, 0
    for name, width in channel_widths("probes", n_layers):
        out[name] = block.probe_rows[row, at : at + width]
        at += width
    return out


CASES = [
    Config(depth=4, width=8),
    Config(depth=6, width=16, activation="relu", init="he_normal", norm="batch"),
    Config(depth=5, width=12, activation="tanh", norm="layer", residual=True),
    Config(depth=3, width=20, activation="gelu", init="orthogonal", dataset="digits"),
    Config(depth=30, width=8, activation="sigmoid"),  # norms near 1e-27
    Config(depth=4, width=8, activation="relu", init="he_normal", norm="batch", residual=True),
    Config(depth=4, width=6, activation="linear", residual=True),
]


@pytest.mark.parametrize("cfg", CASES, ids=lambda c: f"{c.activation}-{c.norm}-d{c.depth}"
                         + ("-res" if c.residual else ""))
@pytest.mark.parametrize("separate", [False, True], ids=["buffer", "separate"])
def test_first_step_records_equal_an_independent_autograd_computation(cfg, separate):
    cfg = cfg.replace(optimizer="sgd", lr=0.05)
    ref = reference_step(cfg)
    trainer = Trainer(cfg, stats_every=1, separate=separate)
    assert trainer.probe.separate == separate
    block = trainer.step()
    n = trainer.n_layers
    np.testing.assert_allclose(block.rows[0, :n], ref["grad_norm"], rtol=1e-5)
    np.testing.assert_allclose(block.rows[0, n : 2 * n], ref["bias_grad_norm"], rtol=1e-5)
    assert block.loss[0] == pytest.approx(ref["loss"], rel=1e-6)
    got = channels(block, n)
    for name in ("signal_std", "backprop_grad", "act_std", "update_ratio"):
        np.testing.assert_allclose(got[name], ref[name], rtol=1e-4, err_msg=name)
    np.testing.assert_allclose(got["act_mean"], ref["act_mean"], rtol=1e-4, atol=1e-7)


@pytest.mark.parametrize("separate", [False, True], ids=["buffer", "separate"])
def test_tiny_back_propagated_gradients_are_exact(separate):
    """Deep sigmoid: dL/dh at the first layer ~1e-20 and weight gradients ~1e-27, whose float32
    squares underflow; the records still equal autograd's values."""
    cfg = Config(depth=30, width=8, activation="sigmoid", optimizer="sgd", lr=0.05)
    ref = reference_step(cfg)
    assert ref["grad_norm"][0] < 1e-20 and ref["backprop_grad"][0] < 1e-15
    trainer = Trainer(cfg, stats_every=1, separate=separate)
    block = trainer.step()
    got = channels(block, trainer.n_layers)
    np.testing.assert_allclose(block.rows[0, : trainer.n_layers], ref["grad_norm"], rtol=1e-5)
    np.testing.assert_allclose(got["backprop_grad"], ref["backprop_grad"], rtol=1e-5)
    assert got["backprop_grad"][0] > 0


def test_a_vanished_signal_beside_a_large_mean_is_not_rounded_to_zero():
    """The signal's spread can be ~1e-8 of its mean (a saturated deep sigmoid): a one-pass
    float32 variance would report 0."""
    from vgrad_gui.core.probe import _std64

    rows = torch.full((2, 1000), 0.5) + torch.linspace(-1e-6, 1e-6, 1000)
    expect = rows.double().std(dim=1, unbiased=False)
    torch.testing.assert_close(_std64(rows), expect, rtol=1e-6, atol=0)


@pytest.mark.parametrize("separate", [False, True], ids=["buffer", "separate"])
def test_norms_match_the_models_own_gradients_at_every_step(separate):
    cfg = Config(depth=8, width=16, activation="tanh", init="xavier_uniform",
                 optimizer="adam", lr=0.01)
    trainer = Trainer(cfg, separate=separate)
    for _ in range(5):
        block = trainer.run_block(7)
        # After the block the .grad tensors still hold the last step's gradients.
        last = [lin.weight.grad.double().norm().item() for lin in trainer.model.linears]
        np.testing.assert_allclose(block.rows[-1, : trainer.n_layers], last, rtol=1e-5)


@pytest.mark.parametrize("separate", [False, True], ids=["buffer", "separate"])
def test_tiny_gradients_do_not_underflow_after_the_first_block(separate):
    cfg = Config(depth=40, width=8, activation="sigmoid")
    trainer = Trainer(cfg, separate=separate)
    trainer.run_block(10)
    block = trainer.run_block(10)
    last = [lin.weight.grad.double().norm().item() for lin in trainer.model.linears]
    assert last[0] < 1e-25  # float32 squares of these would underflow to 0
    np.testing.assert_allclose(block.rows[-1, : trainer.n_layers], last, rtol=1e-5)


def test_accuracy_is_the_batch_accuracy():
    cfg = Config(depth=2, width=8, batch_size=32)
    trainer = Trainer(cfg)
    block = trainer.run_block(5)
    assert ((block.accuracy * 32) % 1 == 0).all()
    assert ((block.accuracy >= 0) & (block.accuracy <= 1)).all()


def test_update_ratio_for_plain_sgd_is_lr_times_grad_over_weight():
    cfg = Config(depth=3, width=8, lr=0.05, optimizer="sgd")
    trainer = Trainer(cfg, stats_every=1)
    block = trainer.step()
    n = trainer.n_layers
    grad = block.rows[0, :n]
    weight = np.array([lin.weight.double().norm().item() for lin in trainer.model.linears])
    ratio = channels(block, n)["update_ratio"]
    np.testing.assert_allclose(ratio, 0.05 * grad / weight, rtol=1e-4)


def first_step_with_activations(cfg: Config) -> tuple[RecordBlock, list[torch.Tensor]]:
    """Train one step; and every hidden activation of that step's forward pass, computed
    independently by the reference modules."""
    before = Trainer(cfg)
    ref = Reference(cfg, [lin.weight.detach() for lin in before.model.linears],
                    [lin.bias.detach() for lin in before.model.linears])
    idx = before._next_batch()
    with torch.no_grad():
        _, acts, _ = ref(before.x_train[idx])
    return Trainer(cfg, stats_every=1).step(), acts


def test_activation_statistics_match_a_direct_computation():
    cfg = Config(depth=3, width=10, activation="tanh", init="large_normal")
    block, outs = first_step_with_activations(cfg)
    hdn = len(outs)
    mean, std, inactive = np.split(block.probe_rows[0, : 3 * hdn], 3)
    np.testing.assert_allclose(mean, [o.mean().item() for o in outs], rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(std, [o.std(unbiased=False).item() for o in outs], rtol=1e-3)
    np.testing.assert_allclose(inactive, [(o.abs() > 0.95).float().mean().item() for o in outs],
                               atol=1e-6)
    assert inactive.max() > 0.3  # large weights saturate tanh


def test_dead_relu_fraction_counts_units_zero_for_the_whole_batch():
    block, outs = first_step_with_activations(Config(depth=3, width=16, activation="relu"))
    hdn = len(outs)
    dead = block.probe_rows[0, 2 * hdn : 3 * hdn]
    expect = [(o <= 0).all(dim=0).float().mean().item() for o in outs]
    np.testing.assert_allclose(dead, expect)


def test_records_end_at_the_first_nan_or_inf_which_is_kept():
    cfg = Config(depth=10, width=32, activation="relu", init="large_normal", lr=0.01)
    trainer = Trainer(cfg)
    block = trainer.run_block(10)
    n = trainer.n_layers
    first = block.first_nonfinite(n)
    assert first is not None and 1 < first <= 10
    assert block.last_step == first == trainer.step_count
    assert not np.isfinite(block.rows[-1, : 2 * n + 1]).all()  # the bad step itself is kept
    assert np.isfinite(block.rows[0, :n]).all() and block.rows[0, 0] > 1e3


def ratio_first_to_last_hidden(cfg: Config) -> float:
    row = Trainer(cfg).step().rows[0]
    return row[0] / row[cfg.depth - 1]


def test_physics_deep_sigmoid_vanishes_and_the_fixes_restore_flow():
    base = dict(depth=10, width=32, seed=0)
    sigmoid = ratio_first_to_last_hidden(Config(**base, activation="sigmoid"))
    relu_he = ratio_first_to_last_hidden(Config(**base, activation="relu", init="he_normal"))
    tanh_xavier = ratio_first_to_last_hidden(
        Config(**base, activation="tanh", init="xavier_uniform"))
    batch = ratio_first_to_last_hidden(Config(**base, activation="sigmoid", norm="batch"))
    residual = ratio_first_to_last_hidden(Config(**base, activation="sigmoid", residual=True))
    assert sigmoid < 1e-5  # orders of magnitude less gradient at the input end
    assert 0.1 < relu_he < 10
    assert 0.1 < tanh_xavier < 10
    assert batch > 1e-2 and residual > 1e-2
    assert batch > 1e3 * sigmoid and residual > 1e3 * sigmoid


def test_same_spec_and_seed_give_identical_records():
    cfg = Config(depth=6, width=16, activation="relu", init="he_uniform", optimizer="momentum",
                 lr=0.05, device="cpu")
    a, b = Trainer(cfg), Trainer(cfg)
    blocks_a = [a.run_block(25) for _ in range(8)]
    blocks_b = [b.run_block(50) for _ in range(4)]
    rows_a = np.concatenate([x.rows for x in blocks_a])
    rows_b = np.concatenate([x.rows for x in blocks_b])
    assert np.array_equal(rows_a, rows_b)
    probes_a = np.concatenate([x.probe_rows for x in blocks_a])
    probes_b = np.concatenate([x.probe_rows for x in blocks_b])
    assert np.array_equal(probes_a, probes_b)
    other = Trainer(cfg.replace(seed=1)).run_block(5).rows
    assert not np.array_equal(other, rows_a[:5])


def test_pause_resume_and_stop_from_another_thread():
    trainer = Trainer(Config(depth=2, width=4))
    done: list[int] = []
    worker = threading.Thread(target=lambda: done.append(trainer.run(10**9, block=1)))
    worker.start()
    time.sleep(0.2)
    trainer.pause()
    time.sleep(0.1)
    held = trainer.step_count
    time.sleep(0.2)
    assert trainer.step_count == held  # nothing trains while paused
    trainer.resume()
    time.sleep(0.2)
    assert trainer.step_count > held
    trainer.stop()
    worker.join(2)
    assert not worker.is_alive()
    assert done and done[0] == trainer.step_count


def test_unavailable_device_is_a_clear_config_error():
    if torch.cuda.is_available():
        pytest.skip("CUDA is available here")
    from vgrad_gui.core.spec import ConfigError

    with pytest.raises(ConfigError, match=r"'device'.*not available"):
        Trainer(Config(depth=1, width=2, device="cuda"))


def test_the_accelerator_path_records_what_the_cpu_path_records():
    """The float64, one-transfer path that GPUs take, run on the CPU: same records."""
    cfg = Config(depth=30, width=8, activation="sigmoid", norm="batch", seed=3)
    cpu = Trainer(cfg, stats_every=7)
    packed = Trainer(cfg, stats_every=7, accelerator_path=True)
    assert cpu.probe.on_cpu and not packed.probe.on_cpu
    a = [cpu.run_block(13) for _ in range(4)]
    b = [packed.run_block(13) for _ in range(4)]
    for x, y in zip(a, b, strict=True):
        np.testing.assert_allclose(x.rows, y.rows, rtol=1e-5)
        np.testing.assert_array_equal(x.steps, y.steps)
        np.testing.assert_array_equal(x.probe_steps, y.probe_steps)
        np.testing.assert_allclose(x.probe_rows, y.probe_rows, rtol=1e-5, atol=1e-12)
        np.testing.assert_allclose(x.eval_rows, y.eval_rows, rtol=1e-6)


def test_the_two_gradient_paths_record_the_same_numbers():
    """Gradients accumulated in the buffer (narrow nets) or kept as autograd hands them over
    (wide nets): the same records, for every optimizer."""
    for optimizer in ("sgd", "momentum", "adam"):
        cfg = Config(depth=6, width=12, activation="relu", norm="batch", optimizer=optimizer,
                     lr=0.01, seed=2)
        a = Trainer(cfg, stats_every=5, separate=False)
        b = Trainer(cfg, stats_every=5, separate=True)
        for _ in range(3):
            x, y = a.run_block(11), b.run_block(11)
            np.testing.assert_allclose(x.rows, y.rows, rtol=1e-4, err_msg=optimizer)
            np.testing.assert_allclose(x.probe_rows, y.probe_rows, rtol=1e-4, atol=1e-9,
                                       err_msg=optimizer)


def test_wide_layers_take_the_separate_path_and_narrow_ones_the_buffer():
    assert Trainer(Config(depth=2, width=128, device="cpu")).probe.separate
    assert not Trainer(Config(depth=2, width=64, device="cpu")).probe.separate


@pytest.mark.parametrize("step", [1, 5, 40])
def test_norms_float32_cannot_hold_are_retaken_in_float64_at_any_step(step):
    """Inf (overflow above ~1.8e19) and 0 (underflow below ~1e-19) in float32, exact here,
    whenever they happen; NaN stays NaN."""
    from vgrad_gui.core.probe import _NormBlock

    rows = torch.tensor([[1e20, 1e20, 0.0], [3e-25, 4e-25, 0.0], [1.0, 2.0, 2.0],
                         [float("nan"), 1.0, 0.0]])
    for source in (rows, [torch.nn.Parameter(r.clone()) for r in rows]):
        if isinstance(source, list):
            for p, r in zip(source, rows, strict=True):
                p.grad = r.clone()
        norms = _NormBlock(source, exact=False)
        norms.measure(0, step)
        got = norms.finish(norms.block(1).numpy())[0]
        np.testing.assert_allclose(got[:3], [np.sqrt(2) * 1e20, 5e-25, 3.0], rtol=1e-6)
        assert np.isnan(got[3])
