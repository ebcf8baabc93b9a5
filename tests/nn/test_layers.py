"""Layers: Keras defaults, output shapes, argument checks, weights on build, dropout, BN."""

from __future__ import annotations

import math

import numpy as np
import pytest

import smearnet
from smearnet import autodiff as ad
from smearnet import layers
from smearnet.nn.registry import LAYERS


def test_dense_keras_defaults() -> None:
    d = layers.Dense(5)
    assert not d.built
    out = d(np.ones((2, 7), np.float32))
    assert d.built and out.shape == (2, 5)
    limit = math.sqrt(6 / (7 + 5))  # glorot uniform
    assert d.kernel.shape == (7, 5) and np.abs(d.kernel.data).max() <= limit
    assert np.abs(d.kernel.data).max() > 0.5 * limit
    assert np.array_equal(d.bias.data, np.zeros(5, np.float32))
    assert d.kernel.dtype == np.float32 and d.kernel.requires_grad


def test_conv_keras_defaults_and_shapes() -> None:
    c = layers.Conv2D(8, 3)
    assert c.padding == "valid" and c.strides == (1, 1)
    out = c(np.zeros((1, 10, 12, 2), np.float32))
    assert out.shape == (1, 8, 10, 8)
    fan_in, fan_out = 3 * 3 * 2, 3 * 3 * 8
    assert np.abs(c.kernel.data).max() <= math.sqrt(6 / (fan_in + fan_out))
    assert c.kernel.shape == (3, 3, 2, 8) and not c.bias.data.any()
    assert layers.Conv2D(4, (3, 3), strides=2, padding="same").compute_output_shape((9, 9, 1)) == (5, 5, 4)
    assert layers.Conv2D(4, (3, 3), strides=(2, 2)).compute_output_shape((133, 133, 3)) == (66, 66, 4)


@pytest.mark.parametrize("layer, in_shape, out_shape", [
    (layers.MaxPool2D((2, 2), strides=2), (66, 66, 5), (33, 33, 5)),
    (layers.MaxPooling2D(3, strides=2, padding="same"), (7, 7, 2), (4, 4, 2)),
    (layers.AveragePooling2D(2), (5, 5, 2), (2, 2, 2)),
    (layers.GlobalAveragePooling2D(), (5, 4, 3), (3,)),
    (layers.Flatten(), (3, 3, 64), (576,)),
    (layers.Rescaling(1 / 255), (4, 4, 3), (4, 4, 3)),
    (layers.BatchNormalization(), (4, 4, 3), (4, 4, 3)),
])
def test_output_shapes_match_forward(layer: layers.Layer, in_shape: tuple, out_shape: tuple) -> None:
    x = np.random.default_rng(0).normal(size=(2, *in_shape)).astype(np.float32)
    assert layer.compute_output_shape(in_shape) == out_shape
    assert layer(x, training=False).shape == (2, *out_shape)


@pytest.mark.parametrize("make, word", [
    (lambda: layers.Dense(0), "units"),
    (lambda: layers.Dense(3.5), "units"),
    (lambda: layers.Conv2D(8, 0), "kernel_size"),
    (lambda: layers.Conv2D(8, (3, 3, 3)), "kernel_size"),
    (lambda: layers.Conv2D(8, 3, padding="full"), "padding"),
    (lambda: layers.Conv2D(8, 3, dilation_rate=2), "dilation"),
    (lambda: layers.Dropout(1.5), "rate"),
    (lambda: layers.MaxPool2D(2, strides=0), "strides"),
    (lambda: layers.Dense(3, activation="nope"), "activation"),
    (lambda: layers.Dense(3, kernel_initializer="nope"), "initializer"),
    (lambda: layers.BatchNormalization(momentum=1.5), "momentum"),
    (lambda: layers.InputLayer(), "input_shape"),
])
def test_bad_arguments_raise_naming_them(make, word: str) -> None:
    with pytest.raises(ValueError, match=word):
        make()


def test_kernel_larger_than_input_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="Conv2D"):
        smearnet.Sequential([layers.InputLayer(input_shape=(2, 2, 1)), layers.Conv2D(1, 3)])


def test_weights_created_when_input_shape_known() -> None:
    m = smearnet.Sequential([layers.Dense(3), layers.Dense(1)], seed=0)
    assert not m.built and m.layers[0].parameters == []
    m(np.zeros((4, 6), np.float32))
    assert m.built and m.layers[0].kernel.shape == (6, 3)
    m2 = smearnet.Sequential([layers.Dense(3, input_shape=(6,)), layers.Dense(1)], seed=0)
    assert m2.built  # built at once from input_shape=
    assert all(np.array_equal(a, b) for a, b in zip(m.get_weights(), m2.get_weights()))


def test_dropout_identity_in_inference_and_keeps_mean_in_training() -> None:
    x = ad.Tensor(np.random.default_rng(1).uniform(1, 2, (200, 500)).astype(np.float32))
    d = layers.Dropout(0.3, seed=7)
    assert np.array_equal(d(x, training=False).data, x.data)
    out = d(x, training=True).data
    assert abs((out == 0).mean() - 0.3) < 0.01
    assert abs(out.mean() / x.data.mean() - 1) < 0.01
    kept = out != 0
    np.testing.assert_allclose(out[kept], x.data[kept] / 0.7, rtol=1e-6)


def test_dropout_noise_is_seeded_per_epoch() -> None:
    x = np.ones((4, 50), np.float32)
    d1, d2 = layers.Dropout(0.5), layers.Dropout(0.5)
    d1.seed_entropy = d2.seed_entropy = (3, 1)
    d1.reseed(2)
    d2.reseed(2)
    a, b = d1(x, training=True).data, d2(x, training=True).data
    assert np.array_equal(a, b)
    d2.reseed(3)
    assert not np.array_equal(d1(x, training=True).data, d2(x, training=True).data)


def test_batch_norm_updates_running_stats_in_training_only() -> None:
    bn = layers.BatchNormalization(momentum=0.9)
    x = np.random.default_rng(0).normal(3.0, 2.0, (64, 4)).astype(np.float32)
    out = bn(x, training=True).data
    np.testing.assert_allclose(out.mean(axis=0), 0, atol=1e-5)
    np.testing.assert_allclose(bn.moving_mean, 0.1 * x.mean(axis=0), rtol=1e-5)
    np.testing.assert_allclose(bn.moving_variance, 0.9 + 0.1 * x.var(axis=0), rtol=1e-5)
    before = bn.moving_mean.copy()
    inf = bn(x, training=False).data
    assert np.array_equal(bn.moving_mean, before)
    np.testing.assert_allclose(inf, (x - bn.moving_mean) / np.sqrt(bn.moving_variance + 1e-3), rtol=1e-5)
    assert list(bn.named_weights()) == ["gamma", "beta", "moving_mean", "moving_variance"]
    assert bn.count_params() == (8, 8)


def test_activations_by_name() -> None:
    x = ad.Tensor(np.array([[-2.0, 0.5, 3.0]], np.float32))
    assert np.array_equal(layers.Activation("relu")(x).data, [[0, 0.5, 3]])
    np.testing.assert_allclose(layers.Activation("sigmoid")(x).data, 1 / (1 + np.exp(-x.data)), rtol=1e-6)
    np.testing.assert_allclose(layers.Activation("softmax")(x).data.sum(), 1.0, rtol=1e-6)
    assert np.array_equal(layers.ReLU(max_value=1.0)(x).data, [[0, 0.5, 1]])
    assert np.array_equal(layers.Dense(2, activation=None).activation(x).data, x.data)


@pytest.mark.parametrize("layer", [
    layers.Dense(3, activation="relu", use_bias=False, kernel_initializer="he_normal"),
    layers.Conv2D(4, (3, 2), strides=(2, 1), padding="same", activation="tanh"),
    layers.MaxPool2D(3, strides=2, padding="same"), layers.AveragePooling2D(2),
    layers.GlobalAveragePooling2D(), layers.Flatten(), layers.Dropout(0.2, seed=3),
    layers.BatchNormalization(momentum=0.9, epsilon=1e-5), layers.ReLU(max_value=6.0),
    layers.Activation("sigmoid"), layers.Rescaling(1 / 255, offset=-0.5),
])
def test_layer_config_round_trip(layer: layers.Layer) -> None:
    layer.name = "x"
    spec = LAYERS.serialize(layer)
    again = LAYERS.get(spec)
    assert type(again) is type(layer) and again.get_config() == layer.get_config()


def test_conv_relu_layer_uses_the_fused_op_with_the_same_values_and_gradients() -> None:
    x = np.random.default_rng(1).standard_normal((2, 9, 9, 3)).astype(np.float32)
    fused = layers.Conv2D(4, 3, strides=2, activation="relu")
    plain = layers.Conv2D(4, 3, strides=2)
    fused(x), plain(x)
    plain.kernel.data[...] = fused.kernel.data
    plain.bias.data[...] = fused.bias.data + 0.1
    fused.bias.data[...] += 0.1  # non-zero bias so relu cuts some outputs
    out_f = fused(x, training=True)
    out_p = ad.relu(plain(x, training=True))
    assert out_f.op == "conv2d_relu"  # one fused op, not conv2d then relu
    np.testing.assert_allclose(out_f.data, out_p.data, rtol=1e-6, atol=1e-6)
    g = np.random.default_rng(2).standard_normal(out_f.shape).astype(np.float32)
    out_f.backward(g)
    out_p.backward(g)
    np.testing.assert_allclose(fused.kernel.grad, plain.kernel.grad, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(fused.bias.grad, plain.bias.grad, rtol=1e-5, atol=1e-5)
