"""Builders for the nn tests: the assignment's model, a small CNN, toy data (plain functions,
imported by the tests and wrapped as fixtures in conftest.py)."""

from __future__ import annotations

import numpy as np

import smearnet
from smearnet import layers


def build_assignment_model(seed: int = 0) -> smearnet.Sequential:
    """Part 3b of the assignment, transcribed layer by layer."""
    model = smearnet.Sequential(seed=seed)
    model.add(layers.InputLayer(input_shape=(133, 133, 3)))
    for _ in range(2):
        model.add(layers.Conv2D(128, (3, 3), strides=(2, 2), activation="relu"))
        model.add(layers.MaxPool2D((2, 2), strides=2))
    model.add(layers.Conv2D(64, (3, 3), strides=(2, 2), activation="relu"))
    model.add(layers.Flatten())
    for _ in range(5):
        model.add(layers.Dense(256, activation="relu"))
        model.add(layers.Dropout(0.1))
    model.add(layers.Dense(64, activation="relu"))
    model.add(layers.Dense(1))
    return model


def build_small_cnn(seed: int = 0, dropout: float = 0.25) -> smearnet.Sequential:
    """Conv, batch norm, ReLU, pooling, dropout, dense on 8x8x3 inputs (fast)."""
    return smearnet.Sequential([
        layers.InputLayer(input_shape=(8, 8, 3)),
        layers.Conv2D(4, 3, padding="same", use_bias=False),
        layers.BatchNormalization(),
        layers.ReLU(),
        layers.MaxPool2D(2),
        layers.Flatten(),
        layers.Dropout(dropout),
        layers.Dense(1),
    ], seed=seed)


def make_blobs(n: int = 200, seed: int = 0, dims: int = 2, gap: float = 2.0) -> tuple[np.ndarray, np.ndarray]:
    """Two Gaussian blobs, centres ``-gap/2`` and ``+gap/2`` on every axis, interleaved labels."""
    rng = np.random.default_rng(seed)
    y = (np.arange(n) % 2).astype(np.float32)
    x = rng.normal(0.0, 1.0, (n, dims)).astype(np.float32) + (y[:, None] - 0.5) * gap
    return x.astype(np.float32), y


def make_images(n: int = 24, size: int = 8, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Synthetic NHWC images in [0, 1]: label 1 has a bright square in the red channel."""
    rng = np.random.default_rng(seed)
    y = (np.arange(n) % 2).astype(np.float32)
    x = rng.uniform(0.0, 0.5, (n, size, size, 3)).astype(np.float32)
    lo, hi = size // 4, size - size // 4
    x[y == 1, lo:hi, lo:hi, 0] += 0.5
    return x, y
