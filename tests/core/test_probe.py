"""The probe against plain autograd, and the physics it must show."""

import threading
import time

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from vgrad_gui.core.builder import build_model
from vgrad_gui.core.records import RecordBlock
from vgrad_gui.core.spec import Config
from vgrad_gui.core.trainer import Trainer


def reference_norms(cfg: Config) -> tuple[np.ndarray, np.ndarray, float]:
    """Weight and bias gradient norms of the first step, by hand, on an unprobed model."""
    trainer = Trainer(cfg)
    idx = trainer._next_batch()
    model = build_model(cfg, trainer.data.input_dim, trainer.data.n_classes)
    loss = F.cross_entropy(model(trainer.x_train[idx]), trainer.y_train[idx])
    loss.backward()
    w = [lin.weight.grad.double().norm().item() for lin in model.linears]
    b = [lin.bias.grad.double().norm().item() for lin in model.linears]
    return np.array(w), np.array(b), loss.item()


CASES = [
    Config(depth=4, width=8),
    Config(depth=6, width=16, activation="relu", init="he_normal", norm="batch"),
    Config(depth=5, width=12, activation="tanh", norm="layer", residual=True),
    Config(depth=3, width=20, activation="gelu", init="orthogonal", dataset="digits"),
    Config(depth=30, width=8, activation="sigmoid"),  # norms near 1e-27
]


@pytest.mark.parametrize("cfg", CASES, ids=lambda c: f"{c.activation}-{c.norm}-d{c.depth}")
def test_first_step_norms_equal_plain_autograd(cfg):
    w_ref, b_ref, loss_ref = reference_norms(cfg)
    trainer = Trainer(cfg)
    block = trainer.step()
    n = trainer.n_layers
    np.testing.assert_allclose(block.rows[0, :n], w_ref, rtol=1e-5)
    np.testing.assert_allclose(block.rows[0, n : 2 * n], b_ref, rtol=1e-5)
    assert block.loss[0] == pytest.approx(loss_ref, rel=1e-6)


def test_norms_match_the_models_own_gradients_at_every_step():
    cfg = Config(depth=8, width=16, activation="tanh", init="xavier_uniform",
                 optimizer="adam", lr=0.01)
    trainer = Trainer(cfg)
    for _ in range(5):
        block = trainer.run_block(7)
        # After the block the .grad tensors still hold the last step's gradients.
        last = [lin.weight.grad.double().norm().item() for lin in trainer.model.linears]
        np.testing.assert_allclose(block.rows[-1, : trainer.n_layers], last, rtol=1e-5)


def test_tiny_gradients_do_not_underflow_after_the_first_block():
    cfg = Config(depth=40, width=8, activation="sigmoid")
    trainer = Trainer(cfg)
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
    ratio = block.probe_rows[0, -n:]
    np.testing.assert_allclose(ratio, 0.05 * grad / weight, rtol=1e-4)


def first_step_with_activations(cfg: Config) -> tuple[RecordBlock, list[torch.Tensor]]:
    """Train one step, and capture every hidden activation of its forward pass by hooks."""
    trainer = Trainer(cfg, stats_every=1)
    outs: list[torch.Tensor] = []
    hooks = [b.act.register_forward_hook(lambda m, i, o: outs.append(o.detach()))
             for b in trainer.model.blocks]
    block = trainer.step()
    for h in hooks:
        h.remove()
    # The training forward pass only (step 1 also evaluates the test set).
    return block, outs[: trainer.n_layers - 1]


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


def test_nan_and_inf_are_kept_and_flagged():
    cfg = Config(depth=10, width=32, activation="relu", init="large_normal", lr=0.01)
    trainer = Trainer(cfg)
    block = trainer.run_block(10)
    n = trainer.n_layers
    assert not np.isfinite(block.rows[:, : 2 * n + 1]).all()
    first = block.first_nonfinite(n)
    assert first is not None and 1 < first <= 10
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
    from vgrad_gui.core.probe import GradientProbe

    cfg = Config(depth=30, width=8, activation="sigmoid", norm="batch", seed=3)
    cpu, packed = Trainer(cfg, stats_every=7), Trainer(cfg, stats_every=7)
    packed.probe = GradientProbe(packed.model, cfg.activation, 7, accelerator_path=True)
    assert not packed.probe.on_cpu
    a = [cpu.run_block(13) for _ in range(4)]
    b = [packed.run_block(13) for _ in range(4)]
    for x, y in zip(a, b, strict=True):
        np.testing.assert_allclose(x.rows, y.rows, rtol=1e-5)
        np.testing.assert_array_equal(x.probe_steps, y.probe_steps)
        np.testing.assert_allclose(x.probe_rows, y.probe_rows, rtol=1e-5, atol=1e-12)
        np.testing.assert_allclose(x.eval_rows, y.eval_rows, rtol=1e-6)
