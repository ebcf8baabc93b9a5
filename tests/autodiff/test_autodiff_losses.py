"""Losses: stable at extremes, equal to PyTorch, gradients checked."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import smearnet.autodiff as ad

TOL = 1e-6


def test_bce_with_logits_gradcheck_and_torch(vs_torch, torch):
    rng = np.random.default_rng(0)
    z, t = 3 * rng.standard_normal((7, 1)), (rng.random((7, 1)) > 0.5).astype(float)
    assert max(ad.gradcheck(ad.binary_cross_entropy_with_logits, z, t)) < TOL
    vs_torch(ad.binary_cross_entropy_with_logits,
             torch.nn.functional.binary_cross_entropy_with_logits, z, t)


def test_bce_with_logits_at_plus_minus_1000():
    z = ad.Tensor(np.array([1000.0, -1000.0], np.float32), requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loss = ad.binary_cross_entropy_with_logits(z, np.array([0.0, 1.0]))
        loss.backward()
    assert loss.item() == pytest.approx(1000.0)  # 1000 each, mean 1000
    np.testing.assert_allclose(z.grad, [0.5, -0.5])  # (sigmoid(z) - t) / n
    per_item = [ad.binary_cross_entropy_with_logits(ad.Tensor([v]), [t]).item()
                for v, t in ((1000.0, 0.0), (-1000.0, 1.0))]
    assert per_item == [pytest.approx(1000.0), pytest.approx(1000.0)]


def test_bce_with_logits_label_smoothing(vs_torch, torch):
    rng = np.random.default_rng(1)
    z, t = rng.standard_normal(6), (rng.random(6) > 0.5).astype(float)
    fn = lambda a: ad.binary_cross_entropy_with_logits(a, t, label_smoothing=0.2)  # noqa: E731
    smoothed = torch.tensor(t * 0.8 + 0.1)
    vs_torch(fn, lambda a: torch.nn.functional.binary_cross_entropy_with_logits(a, smoothed), z)
    assert max(ad.gradcheck(fn, z)) < TOL


def test_bce_on_probabilities_gradcheck_and_torch(vs_torch, torch):
    rng = np.random.default_rng(2)
    p, t = rng.uniform(0.05, 0.95, (5, 3)), (rng.random((5, 3)) > 0.5).astype(float)
    assert max(ad.gradcheck(ad.binary_cross_entropy, p, t)) < TOL
    vs_torch(ad.binary_cross_entropy, torch.nn.functional.binary_cross_entropy, p, t)


def test_bce_probability_zero_with_label_one_is_large_and_finite():
    p = ad.Tensor(np.array([0.0, 1.0], np.float32), requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loss = ad.binary_cross_entropy(p, np.array([1.0, 0.0]))
        loss.backward()
    assert np.isfinite(loss.item()) and loss.item() > 10
    assert np.all(np.isfinite(p.grad))
    assert p.grad[0] < 0 < p.grad[1]  # still pushes towards the label


def test_bce_label_smoothing_on_probabilities(vs_torch, torch):
    rng = np.random.default_rng(3)
    p, t = rng.uniform(0.1, 0.9, 4), np.array([0.0, 1.0, 1.0, 0.0])
    vs_torch(lambda a: ad.binary_cross_entropy(a, t, label_smoothing=0.1),
             lambda a: torch.nn.functional.binary_cross_entropy(a, torch.tensor(t * 0.9 + 0.05)), p)


def test_mse_gradcheck_and_torch(vs_torch, torch):
    rng = np.random.default_rng(4)
    p, t = rng.standard_normal((6, 2)), rng.standard_normal((6, 2))
    assert max(ad.gradcheck(ad.mse_loss, p, t)) < TOL
    vs_torch(ad.mse_loss, torch.nn.functional.mse_loss, p, t)


@pytest.mark.parametrize("loss", [ad.mse_loss, ad.binary_cross_entropy_with_logits, ad.binary_cross_entropy])
def test_targets_of_shape_n_against_predictions_n_by_1_are_not_broadcast(loss):
    p = np.array([[0.2], [0.7], [0.9]])
    t = np.array([0.0, 1.0, 1.0])
    np.testing.assert_allclose(loss(p, t).item(), loss(p, t.reshape(3, 1)).item())
    with pytest.raises(ValueError):
        loss(p, np.zeros(4))


@pytest.mark.parametrize("loss", [ad.mse_loss, ad.binary_cross_entropy_with_logits, ad.binary_cross_entropy])
def test_losses_are_float32_scalars(loss):
    out = loss(np.array([0.2, 0.6], np.float32), np.array([0.0, 1.0], np.float32))
    assert out.shape == () and out.dtype == np.float32
