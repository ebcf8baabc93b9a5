"""Elementwise primitives, broadcasting and matmul: finite differences and PyTorch parity."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import smearnet.autodiff as ad

RNG_SEED = 0
TOL = 1e-6  # worst relative error of a float64 gradient check

# (name, engine fn, torch fn (given the torch module), input makers)
_normal = lambda r, s: r.standard_normal(s)  # noqa: E731
_positive = lambda r, s: r.uniform(0.5, 2.0, s)  # noqa: E731
_away0 = lambda r, s: r.choice([-1, 1], s) * r.uniform(0.3, 2.0, s)  # noqa: E731 (relu/abs kink)

BINARY = [
    ("add", ad.add, lambda T, a, b: a + b, _normal, _normal),
    ("sub", ad.sub, lambda T, a, b: a - b, _normal, _normal),
    ("mul", ad.mul, lambda T, a, b: a * b, _normal, _normal),
    ("div", ad.div, lambda T, a, b: a / b, _normal, _positive),
    ("maximum", ad.maximum, lambda T, a, b: T.maximum(a, b), _normal, _normal),
]
UNARY = [
    ("neg", ad.neg, lambda T, a: -a, _normal),
    ("pow3", lambda a: ad.pow(a, 3), lambda T, a: a ** 3, _normal),
    ("pow_frac", lambda a: ad.pow(a, 1.5), lambda T, a: a ** 1.5, _positive),
    ("pow_neg", lambda a: ad.pow(a, -2), lambda T, a: a ** -2, _positive),
    ("exp", ad.exp, lambda T, a: T.exp(a), _normal),
    ("log", ad.log, lambda T, a: T.log(a), _positive),
    ("sqrt", ad.sqrt, lambda T, a: T.sqrt(a), _positive),
    ("abs", ad.abs, lambda T, a: T.abs(a), _away0),
    ("relu", ad.relu, lambda T, a: T.relu(a), _away0),
    ("sigmoid", ad.sigmoid, lambda T, a: T.sigmoid(a), lambda r, s: 4 * r.standard_normal(s)),
    ("tanh", ad.tanh, lambda T, a: T.tanh(a), _normal),
    ("clip", lambda a: ad.clip(a, -0.5, 0.7), lambda T, a: T.clamp(a, -0.5, 0.7), _away0),
]
# pairs of broadcastable shapes, odd sizes included
SHAPES = [((3, 5), (3, 5)), ((4, 1, 3), (5, 1)), ((1,), (2, 3)), ((), (3, 4)), ((2, 3, 4), (4,)),
          ((7, 1), (1, 5))]


@pytest.mark.parametrize("name,fn,tfn,mka,mkb", BINARY, ids=[b[0] for b in BINARY])
@pytest.mark.parametrize("sa,sb", SHAPES, ids=[f"{a}-{b}" for a, b in SHAPES])
def test_binary_gradcheck_and_torch(name, fn, tfn, mka, mkb, sa, sb, vs_torch, torch):
    rng = np.random.default_rng(RNG_SEED)
    a, b = mka(rng, sa), mkb(rng, sb)
    assert max(ad.gradcheck(fn, a, b)) < TOL
    vs_torch(fn, lambda x, y: tfn(torch, x, y), a, b)


@pytest.mark.parametrize("name,fn,tfn,mk", UNARY, ids=[u[0] for u in UNARY])
@pytest.mark.parametrize("shape", [(5,), (3, 7), (2, 1, 3)])
def test_unary_gradcheck_and_torch(name, fn, tfn, mk, shape, vs_torch, torch):
    rng = np.random.default_rng(RNG_SEED)
    a = mk(rng, shape)
    assert max(ad.gradcheck(fn, a)) < TOL
    vs_torch(fn, lambda x: tfn(torch, x), a)


def test_operators_match_functions():
    rng = np.random.default_rng(RNG_SEED)
    a, b = ad.Tensor(rng.uniform(1, 2, (3, 4))), ad.Tensor(rng.uniform(1, 2, (4,)))
    for op_result, fn_result in [(a + b, ad.add(a, b)), (a - b, ad.sub(a, b)), (a * b, ad.mul(a, b)),
                                 (a / b, ad.div(a, b)), (-a, ad.neg(a)), (a ** 2, ad.pow(a, 2)),
                                 (2.0 - a, ad.sub(2.0, a)), (1.0 / a, ad.div(1.0, a)),
                                 (a @ b, ad.matmul(a, b))]:
        np.testing.assert_array_equal(op_result.data, fn_result.data)


def test_broadcast_gradient_sums_to_operand_shape():
    # (4,1,3) + (5,1) -> (4,5,3): the gradient of the (5,1) operand sums over 4 and 3 -> 12 each
    a = ad.Tensor(np.zeros((4, 1, 3)), requires_grad=True)
    b = ad.Tensor(np.zeros((5, 1)), requires_grad=True)
    ad.add(a, b).sum().backward()
    np.testing.assert_array_equal(b.grad, np.full((5, 1), 12.0))
    np.testing.assert_array_equal(a.grad, np.full((4, 1, 3), 5.0))


MATMUL_SHAPES = [((3, 4), (4, 5)), ((1, 7), (7, 1)), ((2, 3, 4), (2, 4, 5)), ((2, 3, 4), (4, 2)),
                 ((3, 1, 2, 3), (4, 3, 2)), ((4,), (4, 3)), ((2, 5), (5,)), ((6,), (6,))]


@pytest.mark.parametrize("sa,sb", MATMUL_SHAPES, ids=[f"{a}@{b}" for a, b in MATMUL_SHAPES])
def test_matmul_gradcheck_and_torch(sa, sb, vs_torch, torch):
    rng = np.random.default_rng(RNG_SEED)
    a, b = rng.standard_normal(sa), rng.standard_normal(sb)
    assert max(ad.gradcheck(ad.matmul, a, b)) < TOL
    vs_torch(ad.matmul, torch.matmul, a, b)


def test_sigmoid_at_plus_minus_1000_no_warning():
    x = ad.Tensor(np.array([1000.0, -1000.0, 0.0], dtype=np.float32), requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        y = ad.sigmoid(x)
        y.sum().backward()
    np.testing.assert_array_equal(y.data, np.array([1.0, 0.0, 0.5], dtype=np.float32))
    assert np.all(np.isfinite(x.grad))
    np.testing.assert_allclose(x.grad, [0.0, 0.0, 0.25])


def test_tanh_and_exp_extremes_are_finite_where_defined():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        y = ad.tanh(ad.Tensor([1000.0, -1000.0]))
    np.testing.assert_array_equal(y.data, [1.0, -1.0])
