"""Data sets, generated from the seed or read from the bundled files; nothing is downloaded.

Pure numpy, so the GUI can use them without importing torch. Inputs are standardised with the
training split's mean and standard deviation.
"""

from __future__ import annotations

import gzip
from dataclasses import dataclass
from importlib import resources

import numpy as np

TEST_FRACTION = 0.2

DESCRIPTIONS = {
    "moons": "two interleaving half circles (2-D, 2 classes)",
    "circles": "a ring around a disc (2-D, 2 classes)",
    "spirals": "two interleaved spirals (2-D, 2 classes); hard for shallow nets",
    "xor": "the four quadrants, opposite ones alike (2-D, 2 classes)",
    "blobs": "three Gaussian clusters (2-D, 3 classes)",
    "digits": "UCI 8x8 handwritten digits, 1,797 images (64-D, 10 classes)",
}


@dataclass(frozen=True)
class Dataset:
    name: str
    x_train: np.ndarray  # float32 [n, d]
    y_train: np.ndarray  # int64 [n]
    x_test: np.ndarray
    y_test: np.ndarray
    n_classes: int

    @property
    def input_dim(self) -> int:
        return int(self.x_train.shape[1])


def _moons(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    n0 = n // 2
    t0 = rng.uniform(0, np.pi, n0)
    t1 = rng.uniform(0, np.pi, n - n0)
    a = np.stack([np.cos(t0), np.sin(t0)], 1)
    b = np.stack([1 - np.cos(t1), 0.5 - np.sin(t1)], 1)
    return np.concatenate([a, b]), np.repeat([0, 1], [n0, n - n0])


def _circles(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    n0 = n // 2
    t = rng.uniform(0, 2 * np.pi, n)
    r = np.where(np.arange(n) < n0, 1.0, 0.5)
    return np.stack([r * np.cos(t), r * np.sin(t)], 1), (np.arange(n) >= n0).astype(np.int64)


def _spirals(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    n0 = n // 2
    y = (np.arange(n) >= n0).astype(np.int64)
    t = np.sqrt(rng.uniform(0, 1, n)) * 3 * np.pi
    angle = t + np.pi * y
    r = t / (3 * np.pi)
    return np.stack([r * np.cos(angle), r * np.sin(angle)], 1), y


def _xor(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    x = rng.uniform(-1, 1, (n, 2))
    # Keep points off the axes so the classes are separable before noise.
    x += np.sign(x) * 0.1
    return x, ((x[:, 0] > 0) ^ (x[:, 1] > 0)).astype(np.int64)


def _blobs(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    centres = np.array([[-1.0, -0.6], [1.0, -0.6], [0.0, 1.0]])
    y = np.arange(n) % 3
    return centres[y] + rng.normal(0, 0.35, (n, 2)), y.astype(np.int64)


_GENERATORS = {"moons": _moons, "circles": _circles, "spirals": _spirals, "xor": _xor,
               "blobs": _blobs}


def load_digits() -> tuple[np.ndarray, np.ndarray]:
    """The bundled UCI digits: 1,797 rows of 64 pixels (0..16) and a label (0..9)."""
    ref = resources.files("vgrad_gui.resources").joinpath("data/digits.csv.gz")
    with ref.open("rb") as fh, gzip.open(fh, "rt") as text:
        table = np.loadtxt(text, delimiter=",", dtype=np.float32)
    return table[:, :64], table[:, 64].astype(np.int64)


def make_dataset(name: str, samples: int = 1000, noise: float = 0.1, seed: int = 0) -> Dataset:
    rng = np.random.default_rng(seed)
    if name == "digits":
        x, y = load_digits()
        n_classes = 10
    else:
        x, y = _GENERATORS[name](samples, rng)
        # + 0.0 turns -0.0 into 0.0, which numpy refuses as a scale ("scale < 0").
        x = x + rng.normal(0.0, noise * 0.5 + 0.0, x.shape)
        n_classes = int(y.max()) + 1
    order = rng.permutation(len(x))
    x, y = x[order], y[order]
    n_test = max(1, round(len(x) * TEST_FRACTION))
    x_train, x_test = x[n_test:], x[:n_test]
    y_train, y_test = y[n_test:], y[:n_test]
    mean = x_train.mean(0)
    std = x_train.std(0)
    std[std == 0] = 1.0
    return Dataset(
        name=name,
        x_train=((x_train - mean) / std).astype(np.float32),
        y_train=y_train.astype(np.int64),
        x_test=((x_test - mean) / std).astype(np.float32),
        y_test=y_test.astype(np.int64),
        n_classes=n_classes,
    )
