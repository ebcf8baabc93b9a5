"""Sequential runs BatchNormalization -> ReLU -> MaxPool2D(2) as one fused engine op (and
BatchNormalization -> ReLU without that pool as batch_norm(activation="relu")), with the same
values, gradients and running statistics as the layers one after the other."""

from __future__ import annotations

import numpy as np
import pytest

import smearnet
from smearnet import layers
from smearnet.nn import fusion


def small_cnn(relu: layers.Layer) -> smearnet.Sequential:
    return smearnet.Sequential([
        layers.InputLayer(input_shape=(12, 12, 3)),
        layers.Conv2D(6, 3, padding="same", use_bias=False),
        layers.BatchNormalization(momentum=0.9), relu, layers.MaxPool2D(2),
        layers.Conv2D(4, 3, padding="same", use_bias=False),
        layers.BatchNormalization(momentum=0.9), layers.ReLU(),
        layers.Conv2D(4, 3, padding="same", use_bias=False),
        layers.BatchNormalization(momentum=0.9), layers.ReLU(), layers.MaxPool2D((2, 2)),
        layers.GlobalAveragePooling2D(), layers.Dense(1)], seed=3)


def forward_backward(model: smearnet.Sequential, x: np.ndarray) -> tuple[np.ndarray, list, list]:
    out = model(x, training=True)
    (out * out).sum().backward()
    grads = [p.grad.copy() for p in model.trainable_weights]
    for p in model.trainable_weights:
        p.zero_grad()
    states = [l.moving_mean.copy() for l in model.layers if isinstance(l, layers.BatchNormalization)]
    return out.data.copy(), grads, states


@pytest.mark.parametrize("relu", [layers.ReLU(), layers.Activation("relu")], ids=["ReLU", "Activation"])
def test_fused_blocks_match_the_separate_layers(relu: layers.Layer, monkeypatch) -> None:
    x = np.random.default_rng(0).random((4, 12, 12, 3), dtype=np.float32)
    fused_model, plain_model = small_cnn(relu), small_cnn(type(relu)(*(["relu"] if isinstance(relu, layers.Activation) else [])))
    plain_model.set_weights(fused_model.get_weights())
    seen = []
    original = fusion.run_fused
    monkeypatch.setattr(fusion, "run_fused", lambda *a: seen.append(a[1]) or original(*a))
    fused = forward_backward(fused_model, x)
    assert seen == [1, 5, 8]  # BN -> ReLU -> pool, BN -> ReLU, BN -> ReLU -> pool
    monkeypatch.setattr(fusion, "fused_length", lambda layers, i: 0)
    plain = forward_backward(plain_model, x)
    np.testing.assert_allclose(fused[0], plain[0], rtol=1e-5, atol=1e-6)
    for a, b in zip(fused[1] + fused[2], plain[1] + plain[2]):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


def test_blocks_that_differ_are_not_fused() -> None:
    bn = layers.BatchNormalization()
    assert fusion.fused_length([bn, layers.ReLU(max_value=6.0), layers.MaxPool2D(2)], 0) == 0
    assert fusion.fused_length([bn, layers.Activation("tanh"), layers.MaxPool2D(2)], 0) == 0
    assert fusion.fused_length([layers.ReLU(), layers.MaxPool2D(2)], 0) == 0
    # another pool after BN -> ReLU: only BN -> ReLU is fused
    assert fusion.fused_length([bn, layers.ReLU(), layers.MaxPool2D(3)], 0) == 2
    assert fusion.fused_length([bn, layers.ReLU(), layers.MaxPool2D(2, padding="same")], 0) == 2
    assert fusion.fused_length([bn, layers.ReLU()], 0) == 2
    assert fusion.fused_length([bn, layers.ReLU(), layers.MaxPool2D(2)], 0) == 3
