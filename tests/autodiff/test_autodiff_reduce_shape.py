"""Reductions (sum, mean, max with axes and keepdims) and shape ops: gradcheck and PyTorch."""

from __future__ import annotations

import numpy as np
import pytest

import smearnet.autodiff as ad

TOL = 1e-6
AXES = [None, 0, 1, -1, (0, 2), (1, 2)]


def _tdims(axis, ndim):
    if axis is None:
        return tuple(range(ndim))
    return axis if isinstance(axis, tuple) else (axis,)


@pytest.mark.parametrize("axis", AXES, ids=str)
@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("op", ["sum", "mean", "max"])
def test_reductions(op, axis, keepdims, vs_torch, torch):
    x = np.random.default_rng(0).standard_normal((3, 4, 5))  # distinct values: no ties
    fn = lambda a: getattr(ad, op)(a, axis=axis, keepdims=keepdims)  # noqa: E731
    tfn = {"sum": torch.sum, "mean": torch.mean, "max": torch.amax}[op]
    assert max(ad.gradcheck(fn, x)) < TOL
    vs_torch(fn, lambda a: tfn(a, dim=_tdims(axis, 3), keepdim=keepdims), x)


def test_max_ties_share_gradient_like_torch_amax(vs_torch, torch):
    x = np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]])
    vs_torch(lambda a: ad.max(a, axis=1), lambda a: torch.amax(a, dim=1), x)


@pytest.mark.parametrize("shape,new", [((2, 3, 4), (6, 4)), ((2, 3, 4), (-1,)), ((5,), (1, 5, 1)),
                                       ((2, 3, 4), (4, -1))])
def test_reshape(shape, new, vs_torch):
    x = np.random.default_rng(0).standard_normal(shape)
    fn = lambda a: ad.reshape(a, new)  # noqa: E731
    assert max(ad.gradcheck(fn, x)) < TOL
    vs_torch(fn, lambda a: a.reshape(new), x)


def test_flatten(vs_torch, torch):
    x = np.random.default_rng(0).standard_normal((2, 3, 3, 2))
    vs_torch(ad.flatten, lambda a: torch.flatten(a, 1), x)


@pytest.mark.parametrize("axes", [None, (1, 0, 2), (2, 0, 1), (0, 2, 1)], ids=str)
def test_transpose(axes, vs_torch):
    x = np.random.default_rng(0).standard_normal((2, 3, 5))
    fn = lambda a: ad.transpose(a, axes)  # noqa: E731
    perm = axes if axes is not None else (2, 1, 0)
    assert max(ad.gradcheck(fn, x)) < TOL
    vs_torch(fn, lambda a: a.permute(*perm), x)


INDEXES = [np.s_[1], np.s_[:, 1:4], np.s_[::2, ::-1], np.s_[..., 2], np.s_[1, None, 2:],
           np.s_[[0, 2, 2, 0]], np.s_[:, [1, 1, 3]]]


@pytest.mark.parametrize("index", INDEXES, ids=[str(i) for i in range(len(INDEXES))])
def test_getitem(index, vs_torch):
    x = np.random.default_rng(0).standard_normal((3, 5, 4))
    fn = lambda a: a[index]  # noqa: E731
    assert max(ad.gradcheck(fn, x)) < TOL
    if isinstance(index, tuple) and any(isinstance(i, slice) and i.step and i.step < 0 for i in index):
        # torch has no negative steps: compare against the explicit formula instead
        g = np.ones_like(x[index])
        t = ad.Tensor(x, requires_grad=True)
        fn(t).backward(g)
        expected = np.zeros_like(x)
        expected[index] = 1
        np.testing.assert_array_equal(t.grad, expected)
    else:
        vs_torch(fn, lambda a: a[index], x)


def test_getitem_boolean_mask_and_repeated_indices_add():
    x = ad.Tensor(np.arange(5.0), requires_grad=True)
    (x[np.array([0, 0, 3])].sum() + x[np.arange(5) > 2].sum()).backward()
    np.testing.assert_array_equal(x.grad, [2, 0, 0, 2, 1])


@pytest.mark.parametrize("axis", [0, 1, -1])
def test_concatenate_and_stack(axis, vs_torch, torch):
    rng = np.random.default_rng(0)
    a, b, c = rng.standard_normal((2, 3)), rng.standard_normal((2, 3)), rng.standard_normal((2, 3))
    cat = lambda *ts: ad.concatenate(ts, axis=axis)  # noqa: E731
    assert max(ad.gradcheck(cat, a, b, c)) < TOL
    vs_torch(cat, lambda *ts: torch.cat(ts, dim=axis), a, b, c)
    st = lambda *ts: ad.stack(ts, axis=axis)  # noqa: E731
    vs_torch(st, lambda *ts: torch.stack(ts, dim=axis), a, b, c)


def test_concatenate_unequal_sizes(vs_torch, torch):
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((2, 1, 3)), rng.standard_normal((2, 4, 3))
    vs_torch(lambda x, y: ad.concatenate([x, y], axis=1), lambda x, y: torch.cat([x, y], 1), a, b)


@pytest.mark.parametrize("widths", [((1, 2), (0, 3)), 1, ((0, 0), (2, 0))], ids=str)
def test_pad(widths, vs_torch, torch):
    x = np.random.default_rng(0).standard_normal((3, 4))
    fn = lambda a: ad.pad(a, widths, value=0.5)  # noqa: E731
    assert max(ad.gradcheck(fn, x)) < TOL
    w = np.broadcast_to(np.asarray(widths), (2, 2))
    tw = (int(w[1, 0]), int(w[1, 1]), int(w[0, 0]), int(w[0, 1]))  # torch: last dim first
    vs_torch(fn, lambda a: torch.nn.functional.pad(a, tw, value=0.5), x)
