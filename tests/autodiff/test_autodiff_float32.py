"""Every output and every gradient of every op is float32, whatever the input dtype."""

from __future__ import annotations

import numpy as np
import pytest

import smearnet.autodiff as ad

R = np.random.default_rng(0)
X4 = R.uniform(0.2, 1.0, (2, 6, 6, 3))  # float64 on purpose: the engine must convert
M = R.uniform(0.2, 1.0, (3, 4))

# op name -> (function of Tensors, inputs)
OPS = {
    "add": (ad.add, [M, M]), "sub": (ad.sub, [M, M]), "mul": (ad.mul, [M, M]),
    "div": (ad.div, [M, M]), "neg": (ad.neg, [M]), "pow": (lambda a: ad.pow(a, 2), [M]),
    "exp": (ad.exp, [M]), "log": (ad.log, [M]), "sqrt": (ad.sqrt, [M]), "abs": (ad.abs, [M]),
    "relu": (ad.relu, [M - 0.5]), "sigmoid": (ad.sigmoid, [M]), "tanh": (ad.tanh, [M]),
    "maximum": (ad.maximum, [M, M.T.copy().reshape(3, 4)]), "clip": (lambda a: ad.clip(a, 0.3, 0.8), [M]),
    "matmul": (ad.matmul, [M, M.T]),
    "sum": (lambda a: ad.sum(a, axis=1), [M]), "mean": (lambda a: ad.mean(a, axis=0), [M]),
    "max": (lambda a: ad.max(a, axis=1, keepdims=True), [M]),
    "reshape": (lambda a: ad.reshape(a, (2, 6)), [M]), "flatten": (ad.flatten, [X4]),
    "transpose": (ad.transpose, [M]), "getitem": (lambda a: a[1:, ::2], [M]),
    "concatenate": (lambda a, b: ad.concatenate([a, b], axis=1), [M, M]),
    "stack": (lambda a, b: ad.stack([a, b]), [M, M]), "pad": (lambda a: ad.pad(a, 1), [M]),
    "conv2d": (lambda x, w, b: ad.conv2d(x, w, b, stride=2, padding="same"),
               [X4, R.standard_normal((3, 3, 3, 4)), R.standard_normal(4)]),
    "conv2d_relu": (lambda x, w, b: ad.conv2d(x, w, b, stride=2, activation="relu"),
                    [X4, R.standard_normal((3, 3, 3, 4)), R.standard_normal(4)]),
    "max_pool2d": (lambda a: ad.max_pool2d(a, 3, 2, "same"), [X4]),
    "avg_pool2d": (lambda a: ad.avg_pool2d(a, 3, 2, "same"), [X4]),
    "global_avg_pool2d": (ad.global_avg_pool2d, [X4]),
    "batch_norm": (lambda x, g, b: ad.batch_norm(x, g, b, np.zeros(3, np.float32),
                                                 np.ones(3, np.float32), training=True),
                   [X4, np.ones(3), np.zeros(3)]),
    "batch_norm_relu_max_pool2d": (
        lambda x, g, b: ad.batch_norm_relu_max_pool2d(x, g, b, np.zeros(3, np.float32),
                                                      np.ones(3, np.float32), training=True),
        [X4, np.ones(3), np.zeros(3)]),
    "dropout": (lambda a: ad.dropout(a, 0.5, True, np.random.default_rng(0)), [M]),
    "binary_cross_entropy_with_logits": (ad.binary_cross_entropy_with_logits, [M, M]),
    "binary_cross_entropy": (ad.binary_cross_entropy, [M, M]),
    "mse_loss": (ad.mse_loss, [M, M]),
}
NO_GRADIENT = {"round": ad.round, "sign": ad.sign}
UTILITIES = {"Tensor", "tensor", "to_tensor", "make", "no_grad", "is_grad_enabled", "precision",
             "default_dtype", "NoGradientError", "gradcheck", "unbroadcast", "non_differentiable",
             "conv_output_size"}


def test_every_exported_op_is_covered():
    assert set(ad.__all__) - UTILITIES == (set(OPS) | set(NO_GRADIENT)) - {"conv2d_relu"}


@pytest.mark.parametrize("name", sorted(OPS))
def test_outputs_and_gradients_are_float32(name):
    fn, inputs = OPS[name]
    leaves = [ad.Tensor(a, requires_grad=True) for a in inputs]
    out = fn(*leaves)
    assert out.dtype == np.float32, name
    out.backward(np.ones(out.shape, np.float32))
    for t in leaves:
        assert t.grad is not None and t.grad.dtype == np.float32, name


@pytest.mark.parametrize("name", sorted(NO_GRADIENT))
def test_non_differentiable_outputs_are_float32(name):
    assert NO_GRADIENT[name](M).dtype == np.float32


def test_integer_and_bool_inputs_become_float32():
    assert ad.Tensor(np.arange(3)).dtype == np.float32
    assert ad.add(np.arange(3), np.array([True, False, True])).dtype == np.float32
