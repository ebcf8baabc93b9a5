"""Pooling against slow loop implementations, PyTorch and finite differences; tied maxima."""

from __future__ import annotations

import numpy as np
import pytest

import smearnet.autodiff as ad
from smearnet.autodiff.conv import resolve_padding

TOL = 1e-6


def naive_pool(x, k, s, pads, kind):
    """One window at a time; padding excluded from both the max and the average."""
    (t, b), (l, r) = pads
    n, h, w, c = x.shape
    oh, ow = (h + t + b - k[0]) // s[0] + 1, (w + l + r - k[1]) // s[1] + 1
    out = np.zeros((n, oh, ow, c))
    for y in range(oh):
        for z in range(ow):
            y0, z0 = y * s[0] - t, z * s[1] - l
            win = x[:, max(y0, 0):y0 + k[0], max(z0, 0):z0 + k[1], :]
            out[:, y, z, :] = win.max(axis=(1, 2)) if kind == "max" else win.mean(axis=(1, 2))
    return out


def naive_max_pool_grad(x, k, s, pads, g):
    """Route each window's gradient to its first maximum (row-major), one window at a time."""
    (t, _), (l, _) = pads
    gx = np.zeros_like(x)
    for i in range(x.shape[0]):
        for y in range(g.shape[1]):
            for z in range(g.shape[2]):
                for ch in range(x.shape[3]):
                    best, where = -np.inf, None
                    for a in range(k[0]):
                        for b_ in range(k[1]):
                            yy, zz = y * s[0] - t + a, z * s[1] - l + b_
                            if 0 <= yy < x.shape[1] and 0 <= zz < x.shape[2] and x[i, yy, zz, ch] > best:
                                best, where = x[i, yy, zz, ch], (yy, zz)
                    gx[i, where[0], where[1], ch] += g[i, y, z, ch]
    return gx


CASES = [  # (x shape, pool, strides, padding)
    ((2, 6, 6, 3), 2, None, "valid"),
    ((1, 7, 5, 2), 2, None, "valid"),  # odd sizes: last row/column dropped
    ((2, 7, 7, 1), 3, 2, "valid"),  # overlapping windows
    ((1, 9, 9, 2), 3, 3, "valid"),
    ((2, 5, 7, 2), 2, 1, "valid"),
    ((1, 7, 6, 2), 3, 2, "same"),
    ((2, 5, 5, 1), 2, None, "same"),
    ((1, 8, 7, 2), (3, 2), (2, 3), "same"),
    ((1, 6, 6, 1), 3, 2, 1),
]


@pytest.mark.parametrize("kind", ["max", "avg"])
@pytest.mark.parametrize("xs,pool,strides,padding", CASES, ids=[str(i) for i in range(len(CASES))])
def test_pooling_matches_loops_and_finite_differences(kind, xs, pool, strides, padding):
    rng = np.random.default_rng(0)
    x = rng.standard_normal(xs)
    k = (pool, pool) if isinstance(pool, int) else pool
    s = k if strides is None else ((strides, strides) if isinstance(strides, int) else strides)
    pads = resolve_padding(padding, xs[1:3], k, s)
    op = ad.max_pool2d if kind == "max" else ad.avg_pool2d
    fn = lambda a: op(a, pool, strides, padding)  # noqa: E731
    with ad.precision(np.float64):
        xt = ad.Tensor(x, requires_grad=True)
        y = fn(xt)
        g = rng.standard_normal(y.shape)
        y.backward(g)
    np.testing.assert_allclose(y.data, naive_pool(x, k, s, pads, kind), atol=1e-12)
    if kind == "max":
        np.testing.assert_allclose(xt.grad, naive_max_pool_grad(x, k, s, pads, g), atol=1e-12)
    assert max(ad.gradcheck(fn, x)) < TOL


TORCH_CASES = [((2, 6, 6, 3), 2, 2, 0), ((1, 9, 7, 2), 3, 2, 0), ((1, 7, 7, 2), 3, 3, 0),
               ((2, 5, 6, 1), 3, 1, 1), ((1, 1, 1, 4), 1, 1, 0)]


@pytest.mark.parametrize("xs,k,s,p", TORCH_CASES, ids=[str(i) for i in range(len(TORCH_CASES))])
def test_pooling_matches_torch(xs, k, s, p, vs_torch, torch):
    x = np.random.default_rng(1).standard_normal(xs)
    F = torch.nn.functional
    nchw = lambda f: lambda a: f(a.permute(0, 3, 1, 2)).permute(0, 2, 3, 1)  # noqa: E731
    vs_torch(lambda a: ad.max_pool2d(a, k, s, p),
             nchw(lambda a: F.max_pool2d(a, k, s, padding=p)), x)
    # torch averages over the whole window including zero padding unless count_include_pad=False
    vs_torch(lambda a: ad.avg_pool2d(a, k, s, p),
             nchw(lambda a: F.avg_pool2d(a, k, s, padding=p, count_include_pad=False)), x)


def test_max_pool_tied_maxima_route_the_gradient_once():
    # window [1, 2, 2, 2]: exactly the upstream gradient (3.0) goes to one of the tied 2s
    x = ad.Tensor(np.array([[1.0, 2.0], [2.0, 2.0]]).reshape(1, 2, 2, 1), requires_grad=True)
    y = ad.max_pool2d(x, 2)
    y.backward(np.full((1, 1, 1, 1), 3.0))
    gx = x.grad.reshape(2, 2)
    assert gx.sum() == 3.0
    assert np.count_nonzero(gx) == 1
    assert gx[0, 0] == 0.0
    np.testing.assert_array_equal(gx, [[0.0, 3.0], [0.0, 0.0]])  # the first maximum, like torch


def test_max_pool_ties_match_torch(vs_torch, torch):
    x = np.ones((1, 4, 4, 2))
    x[0, 1, 1, 0] = 0
    vs_torch(lambda a: ad.max_pool2d(a, 2, 1),
             lambda a: torch.nn.functional.max_pool2d(a.permute(0, 3, 1, 2), 2, 1).permute(0, 2, 3, 1), x)


def test_avg_pool_same_padding_averages_valid_elements_only():
    x = ad.Tensor(np.ones((1, 3, 3, 1)))
    y = ad.avg_pool2d(x, 2, padding="same")  # output 2x2; the last row/col windows are partial
    np.testing.assert_array_equal(y.data, np.ones((1, 2, 2, 1)))


def test_global_avg_pool(vs_torch, torch):
    x = np.random.default_rng(2).standard_normal((3, 5, 4, 2))
    assert max(ad.gradcheck(ad.global_avg_pool2d, x)) < TOL
    vs_torch(ad.global_avg_pool2d, lambda a: a.mean(dim=(1, 2)), x)
    assert ad.global_avg_pool2d(x).shape == (3, 2)


def test_pooling_assignment_shapes():
    x = np.zeros((2, 66, 66, 4), dtype=np.float32)
    assert ad.max_pool2d(x, 2).shape == (2, 33, 33, 4)
    assert ad.max_pool2d(np.zeros((1, 16, 16, 1)), 2).shape == (1, 8, 8, 1)


@pytest.mark.parametrize("op", [ad.max_pool2d, ad.avg_pool2d])
def test_pooling_rejects_padding_as_large_as_the_window(op):
    with pytest.raises(ValueError, match="padding"):
        op(np.zeros((1, 4, 4, 1)), 2, 1, 2)
    with pytest.raises(ValueError):
        op(np.zeros((4, 4, 1)), 2)


def test_max_pool_2x2_fast_path_routes_every_tie_pattern_like_the_loop(vs_torch, torch):
    """The reshape path (2x2, stride 2, even sizes): all 16 windows of 0/1 values, plus random."""
    pats = np.array([[(p >> b) & 1 for b in range(4)] for p in range(16)], dtype=np.float64)
    x = pats.reshape(4, 4, 2, 2).transpose(0, 2, 1, 3).reshape(1, 8, 8, 1)  # one pattern per window
    x = np.concatenate([x, np.random.default_rng(3).standard_normal((1, 8, 8, 1))], axis=3)
    g = np.random.default_rng(4).standard_normal((1, 4, 4, 2))
    with ad.precision(np.float64):
        xt = ad.Tensor(x, requires_grad=True)
        y = ad.max_pool2d(xt, 2)
        y.backward(g)
    pads = ((0, 0), (0, 0))
    np.testing.assert_array_equal(y.data, naive_pool(x, (2, 2), (2, 2), pads, "max"))
    np.testing.assert_array_equal(xt.grad, naive_max_pool_grad(x, (2, 2), (2, 2), pads, g))
    with ad.no_grad():  # the inference path (rows first, no boolean maps)
        np.testing.assert_array_equal(ad.max_pool2d(x.astype(np.float32), 2).data,
                                      y.data.astype(np.float32))
    vs_torch(lambda a: ad.max_pool2d(a, 2),
             lambda a: torch.nn.functional.max_pool2d(a.permute(0, 3, 1, 2), 2).permute(0, 2, 3, 1), x)
