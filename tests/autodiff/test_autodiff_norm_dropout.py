"""batch_norm (training statistics, running averages, inference) and inverted dropout."""

from __future__ import annotations

import numpy as np
import pytest

import smearnet.autodiff as ad

TOL = 1e-5  # batch norm's x-gradient sums nearly cancelling terms; 1e-5 is still tight


@pytest.mark.parametrize("shape", [(6, 3), (2, 3, 4, 3), (1, 5, 5, 2)])
def test_batch_norm_training_gradcheck_and_torch(shape, vs_torch, torch):
    rng = np.random.default_rng(0)
    c = shape[-1]
    x, gamma, beta = rng.standard_normal(shape), rng.standard_normal(c), rng.standard_normal(c)

    def fn(a, g, b):
        return ad.batch_norm(a, g, b, np.zeros(c, np.float32), np.ones(c, np.float32), training=True)

    assert max(ad.gradcheck(fn, x, gamma, beta)) < TOL

    def tfn(a, g, b):
        flat = a.reshape(-1, c)
        y = torch.nn.functional.batch_norm(flat, None, None, g, b, training=True, eps=1e-3)
        return y.reshape(a.shape)

    vs_torch(fn, tfn, x, gamma, beta, tol=1e-8)


def test_batch_norm_running_statistics_keras_convention():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((8, 4, 4, 3)).astype(np.float32) * 2 + 1
    rm, rv = np.zeros(3, np.float32), np.ones(3, np.float32)
    rm_id, rv_id = id(rm), id(rv)
    ad.batch_norm(x, np.ones(3), np.zeros(3), rm, rv, training=True, momentum=0.9)
    mean, var = x.reshape(-1, 3).mean(0), x.reshape(-1, 3).var(0)  # biased, like Keras
    np.testing.assert_allclose(rm, 0.1 * mean, rtol=1e-5)
    np.testing.assert_allclose(rv, 0.9 + 0.1 * var, rtol=1e-5)
    assert id(rm) == rm_id and id(rv) == rv_id and rm.dtype == np.float32


def test_batch_norm_inference_uses_running_stats_and_leaves_them(vs_torch, torch):
    rng = np.random.default_rng(2)
    x, gamma, beta = rng.standard_normal((5, 4)), rng.standard_normal(4), rng.standard_normal(4)
    rm, rv = rng.standard_normal(4).astype(np.float32), rng.uniform(0.5, 2, 4).astype(np.float32)
    before = rm.copy(), rv.copy()
    fn = lambda a, g, b: ad.batch_norm(a, g, b, rm, rv, training=False)  # noqa: E731
    assert max(ad.gradcheck(fn, x, gamma, beta)) < TOL
    tfn = lambda a, g, b: torch.nn.functional.batch_norm(  # noqa: E731
        a, torch.tensor(rm, dtype=torch.float64), torch.tensor(rv, dtype=torch.float64), g, b,
        training=False, eps=1e-3)
    vs_torch(fn, tfn, x, gamma, beta)
    np.testing.assert_array_equal(rm, before[0])
    np.testing.assert_array_equal(rv, before[1])


def test_batch_norm_without_scale_and_shift():
    x = np.random.default_rng(3).standard_normal((10, 2)).astype(np.float32)
    y = ad.batch_norm(x, None, None, np.zeros(2, np.float32), np.ones(2, np.float32), training=True)
    np.testing.assert_allclose(y.data.mean(0), 0, atol=1e-6)
    np.testing.assert_allclose(y.data.var(0), 1, atol=2e-3)  # eps=1e-3 shrinks it a little


def test_batch_norm_rejects_wrong_parameter_shape():
    with pytest.raises(ValueError, match="gamma"):
        ad.batch_norm(np.zeros((2, 3)), np.ones(2), np.zeros(3), np.zeros(3, np.float32),
                      np.ones(3, np.float32), training=True)


def test_dropout_identity_when_not_training_or_rate_zero():
    x = ad.Tensor(np.ones((3, 4)), requires_grad=True)
    rng = np.random.default_rng(0)
    assert ad.dropout(x, 0.5, training=False, rng=rng) is x
    assert ad.dropout(x, 0.0, training=True, rng=rng) is x


def test_dropout_inverted_scaling_statistics_and_gradient():
    x = ad.Tensor(np.ones((200, 500), np.float32), requires_grad=True)
    y = ad.dropout(x, 0.1, training=True, rng=np.random.default_rng(0))
    kept = y.data != 0
    assert abs(kept.mean() - 0.9) < 0.005
    np.testing.assert_allclose(y.data[kept], 1 / 0.9, rtol=1e-6)
    assert abs(y.data.mean() - 1.0) < 0.01  # expectation preserved
    g = np.random.default_rng(1).standard_normal(x.shape).astype(np.float32)
    y.backward(g)
    np.testing.assert_allclose(x.grad, g * y.data, rtol=1e-6)  # gradient uses the same mask


def test_dropout_reproducible_with_seeded_generator_and_rate_one():
    x = np.ones((4, 5), np.float32)
    a = ad.dropout(x, 0.5, True, np.random.default_rng(7)).data
    b = ad.dropout(x, 0.5, True, np.random.default_rng(7)).data
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(ad.dropout(x, 1.0, True, np.random.default_rng(0)).data, 0)
    with pytest.raises(ValueError):
        ad.dropout(x, 1.5, True, np.random.default_rng(0))


def test_dropout_gradcheck_with_fixed_mask():
    x = np.random.default_rng(4).standard_normal((3, 4))
    fn = lambda a: ad.dropout(a, 0.3, True, np.random.default_rng(5))  # noqa: E731 (same mask each call)
    assert max(ad.gradcheck(fn, x)) < 1e-6


@pytest.mark.parametrize("shape", [(6, 3), (2, 3, 4, 3), (2, 5, 40, 16)])
def test_batch_norm_relu_fused_matches_separate_ops_gradcheck_and_torch(shape, grads, vs_torch, torch):
    """activation="relu" equals relu(batch_norm(...)); the wide layout folds >= 512 floats per row."""
    rng = np.random.default_rng(7)
    c = shape[-1]
    x, gamma, beta = rng.standard_normal(shape), rng.standard_normal(c), rng.standard_normal(c)

    def fused(a, g, b):
        return ad.batch_norm(a, g, b, np.zeros(c, np.float32), np.ones(c, np.float32), True,
                             activation="relu")

    def separate(a, g, b):
        return ad.relu(ad.batch_norm(a, g, b, np.zeros(c, np.float32), np.ones(c, np.float32), True))

    out_f, g_f, _ = grads(fused, [x, gamma, beta])
    out_s, g_s, _ = grads(separate, [x, gamma, beta])
    np.testing.assert_allclose(out_f, out_s, rtol=1e-12, atol=1e-12)
    for a, b in zip(g_f, g_s):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-10)
    assert max(ad.gradcheck(fused, x, gamma, beta)) < TOL

    def tfn(a, g, b):
        y = torch.nn.functional.batch_norm(a.reshape(-1, c), None, None, g, b, training=True, eps=1e-3)
        return torch.relu(y).reshape(a.shape)

    vs_torch(fused, tfn, x, gamma, beta, tol=1e-8)


def test_batch_norm_wide_layout_inference_matches_loop():
    """Inference on a (N,H,W,C) input folded to wide rows equals the per-channel formula."""
    rng = np.random.default_rng(8)
    x = rng.standard_normal((3, 4, 50, 12)).astype(np.float32)
    g, b = rng.standard_normal(12).astype(np.float32), rng.standard_normal(12).astype(np.float32)
    rm, rv = rng.standard_normal(12).astype(np.float32), rng.uniform(0.5, 2, 12).astype(np.float32)
    y = ad.batch_norm(x, g, b, rm, rv, training=False).data
    ref = np.empty_like(x)
    for k in range(12):
        ref[..., k] = (x[..., k] - rm[k]) / np.sqrt(rv[k] + 1e-3) * g[k] + b[k]
    np.testing.assert_allclose(y, ref, rtol=1e-5, atol=1e-5)


def _bn_pool_pair(c, training=True, rm=None, rv=None):
    rm = np.zeros(c, np.float32) if rm is None else rm
    rv = np.ones(c, np.float32) if rv is None else rv

    def fused(a, g, b):
        return ad.batch_norm_relu_max_pool2d(a, g, b, rm.copy(), rv.copy(), training)

    def separate(a, g, b):
        return ad.max_pool2d(ad.batch_norm(a, g, b, rm.copy(), rv.copy(), training,
                                           activation="relu"), 2)

    return fused, separate


@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("shape,gamma_sign", [((2, 4, 6, 3), 1), ((1, 6, 4, 2), -1),
                                              ((2, 5, 4, 3), 1), ((3, 4, 40, 16), 1)])
def test_batch_norm_relu_max_pool_equals_separate_ops(shape, gamma_sign, training, grads,
                                                       vs_torch, torch):
    """Same values (bit for bit) and gradients as max_pool2d(batch_norm(relu)); negative scales
    and odd sizes fall back to the separate ops; finite differences; PyTorch."""
    rng = np.random.default_rng(9)
    c = shape[-1]
    x = rng.standard_normal(shape)
    gamma = rng.uniform(0.5, 2, c) * gamma_sign
    gamma[0] = abs(gamma[0])  # mixed signs when gamma_sign is -1
    beta = rng.standard_normal(c)
    rm, rv = rng.standard_normal(c).astype(np.float32), rng.uniform(0.5, 2, c).astype(np.float32)
    fused, separate = _bn_pool_pair(c, training, rm, rv)
    for dtype in (np.float32, np.float64):
        out_f, g_f, _ = grads(fused, [x, gamma, beta], dtype=dtype)
        out_s, g_s, _ = grads(separate, [x, gamma, beta], dtype=dtype)
        np.testing.assert_array_equal(out_f, out_s)
        tol = 1e-5 if dtype == np.float32 else 1e-11
        for a, b in zip(g_f, g_s):
            np.testing.assert_allclose(a, b, rtol=tol, atol=tol)
    if x.size < 1000:
        assert max(ad.gradcheck(fused, x, gamma, beta)) < TOL

    def tfn(a, g, b):
        flat = a.reshape(-1, c)
        y = torch.nn.functional.batch_norm(
            flat, torch.tensor(rm, dtype=torch.float64), torch.tensor(rv, dtype=torch.float64),
            g, b, training=training, eps=1e-3)
        y = torch.relu(y).reshape(a.shape).permute(0, 3, 1, 2)
        return torch.nn.functional.max_pool2d(y, 2).permute(0, 2, 3, 1)

    vs_torch(fused, tfn, x, gamma, beta, tol=1e-8)


def test_batch_norm_relu_max_pool_updates_running_statistics_like_batch_norm():
    x = np.random.default_rng(10).standard_normal((4, 6, 6, 3)).astype(np.float32) * 2 + 1
    r1 = np.zeros(3, np.float32), np.ones(3, np.float32)
    r2 = np.zeros(3, np.float32), np.ones(3, np.float32)
    ad.batch_norm_relu_max_pool2d(x, np.ones(3), np.zeros(3), *r1, training=True, momentum=0.9)
    ad.batch_norm(x, np.ones(3), np.zeros(3), *r2, training=True, momentum=0.9)
    np.testing.assert_array_equal(r1[0], r2[0])
    np.testing.assert_array_equal(r1[1], r2[1])
    with ad.no_grad():  # inference path without routing maps
        y = ad.batch_norm_relu_max_pool2d(x, np.ones(3), np.zeros(3), *r1, training=False)
        ref = ad.max_pool2d(ad.relu(ad.batch_norm(x, np.ones(3), np.zeros(3), *r2, training=False)), 2)
    np.testing.assert_array_equal(y.data, ref.data)
