"""Losses and metrics: values, thresholds (0.5 vs. logits), exact AUC, name resolution."""

from __future__ import annotations

import math

import numpy as np
import pytest

import smearnet
from smearnet import layers, losses, metrics


def test_mse_and_bce_values() -> None:
    y = np.array([0, 1, 1, 0], np.float32)
    p = np.array([[0.2], [0.7], [0.9], [0.4]], np.float32)  # (N, 1) against (N,): reshaped
    assert losses.get("mse")(y, p).item() == pytest.approx(np.mean((p[:, 0] - y) ** 2), rel=1e-6)
    bce = -np.mean(y * np.log(p[:, 0]) + (1 - y) * np.log(1 - p[:, 0]))
    assert losses.get("binary_crossentropy")(y, p).item() == pytest.approx(bce, rel=1e-5)
    z = np.log(p / (1 - p))
    assert losses.BinaryCrossentropy(from_logits=True)(y, z).item() == pytest.approx(bce, rel=1e-5)


def test_bce_from_logits_is_stable() -> None:
    z = np.array([[1000.0], [-1000.0]], np.float32)
    val = losses.BinaryCrossentropy(from_logits=True)(np.array([0.0, 1.0]), z).item()
    assert val == pytest.approx(1000.0)


def test_loss_names_and_errors() -> None:
    assert isinstance(losses.get("MeanSquaredError"), losses.MeanSquaredError)
    assert isinstance(losses.get("bce"), losses.BinaryCrossentropy)
    with pytest.raises(ValueError, match="unknown loss 'hinge'.*MeanSquaredError"):
        losses.get("hinge")
    with pytest.raises(ValueError, match="do not match"):
        losses.get("mse")(np.zeros(3), np.zeros((4, 1), np.float32))


def test_accuracy_threshold_half_for_linear_output_with_mse() -> None:
    m = smearnet.Sequential([layers.Dense(1, input_shape=(2,))], seed=0)
    m.compile(optimizer="sgd", loss="mse", metrics=["accuracy"])
    acc = m.compiled_metrics[0]
    assert acc.effective_threshold == 0.5
    assert acc(np.array([0, 1, 1, 0]), np.array([[0.4], [0.6], [0.45], [0.1]])) == 0.75


def test_accuracy_threshold_zero_for_logits() -> None:
    m = smearnet.Sequential([layers.Dense(1, input_shape=(2,))], seed=0)
    m.compile(optimizer="sgd", loss=losses.BinaryCrossentropy(from_logits=True),
              metrics=["accuracy", "precision", "recall"])
    assert all(mt.effective_threshold == 0.0 for mt in m.compiled_metrics)
    assert m.compiled_metrics[0](np.array([0, 1]), np.array([[-0.1], [0.1]])) == 1.0
    explicit = metrics.Accuracy(threshold=0.3)
    explicit.bind_loss(losses.BinaryCrossentropy(from_logits=True))
    assert explicit.effective_threshold == 0.3


def test_precision_recall_counts() -> None:
    y = np.array([1, 1, 1, 0, 0, 0, 0, 1])
    p = np.array([0.9, 0.8, 0.2, 0.7, 0.1, 0.3, 0.6, 0.55])
    tp, fp, fn = 3, 2, 1
    assert metrics.get("precision")(y, p) == pytest.approx(tp / (tp + fp))
    assert metrics.get("recall")(y, p) == pytest.approx(tp / (tp + fn))
    assert metrics.Precision()(np.array([0, 1]), np.array([0.1, 0.2])) == 0.0


def test_auc_is_exact_and_streams() -> None:
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 500)
    s = rng.normal(size=500) + y
    auc = metrics.get("auc")
    for k in range(0, 500, 64):  # streamed over batches
        auc.update_state(y[k:k + 64], s[k:k + 64, None])
    assert auc.result() == pytest.approx(roc_auc_score(y, s), abs=1e-12)
    assert math.isnan(metrics.AUC()(np.ones(4), np.arange(4.0)))


def test_multiclass_accuracy_uses_argmax() -> None:
    p = np.array([[0.1, 0.9, 0.0], [0.8, 0.1, 0.1], [0.2, 0.3, 0.5]])
    assert metrics.Accuracy()(np.array([1, 0, 0]), p) == pytest.approx(2 / 3)
    assert metrics.Accuracy()(np.eye(3)[[1, 0, 2]], p) == 1.0
