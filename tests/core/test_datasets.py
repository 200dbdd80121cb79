import numpy as np
import pytest

from vgrad_gui.core.datasets import DESCRIPTIONS, make_dataset
from vgrad_gui.core.spec import DATASETS


@pytest.mark.parametrize("name", [d for d in DATASETS if d != "digits"])
def test_toy_sets_are_seeded_split_and_standardised(name):
    a = make_dataset(name, samples=500, noise=0.1, seed=3)
    b = make_dataset(name, samples=500, noise=0.1, seed=3)
    c = make_dataset(name, samples=500, noise=0.1, seed=4)
    assert np.array_equal(a.x_train, b.x_train) and np.array_equal(a.y_test, b.y_test)
    assert not np.array_equal(a.x_train, c.x_train)
    assert a.input_dim == 2
    assert len(a.x_train) + len(a.x_test) == 500
    assert len(a.x_test) == 100
    assert np.allclose(a.x_train.mean(0), 0, atol=1e-5)
    assert np.allclose(a.x_train.std(0), 1, atol=1e-4)
    assert set(np.unique(a.y_train)) == set(range(a.n_classes))
    assert a.x_train.dtype == np.float32 and a.y_train.dtype == np.int64


def test_digits_is_the_bundled_uci_set():
    d = make_dataset("digits", seed=0)
    assert len(d.x_train) + len(d.x_test) == 1797
    assert d.input_dim == 64 and d.n_classes == 10
    assert np.isfinite(d.x_train).all()


def test_every_dataset_is_described():
    assert set(DESCRIPTIONS) == set(DATASETS)
