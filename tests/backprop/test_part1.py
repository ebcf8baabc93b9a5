"""Part 1: closed form == engine == finite differences, and relu's derivative at 0 is 0."""

from __future__ import annotations

import numpy as np
import pytest

from smearnet.backprop.part1 import (closed_form_gradients, engine_gradients, example_problem,
                                     finite_difference_gradients, layer_forward, three_way_check)


def _problem(rng: np.random.Generator, k: int, m: int, batch: int | None = None):
    W = rng.standard_normal((k, m))
    b = rng.standard_normal(k)
    x = rng.standard_normal((m,) if batch is None else (batch, m))
    y = rng.standard_normal((k,) if batch is None else (batch, k))
    return W, b, x, y


@pytest.mark.parametrize("seed", [None, 0, 1, 2])
def test_example_three_ways_agree(seed):
    check = three_way_check(*example_problem(seed))
    assert check.fd_trustworthy
    assert check.errors[("closed", "engine")]["W"] < 1e-14
    assert check.errors[("closed", "engine")]["b"] < 1e-14
    assert check.worst < 1e-8


@pytest.mark.parametrize("k,m,batch", [(1, 1, None), (5, 7, None), (4, 3, 1), (3, 6, 5)])
def test_random_shapes_three_ways_agree(k, m, batch, rng):
    check = three_way_check(*_problem(rng, k, m, batch))
    assert check.closed.W.shape == (k, m) and check.closed.b.shape == (k,)
    assert check.fd_trustworthy  # fixed seed: no h within a step of the kink
    assert check.worst < 1e-7
    assert check.errors[("closed", "engine")]["W"] < 1e-13


def test_closed_form_matches_hand_computation():
    W, b, x, y = example_problem()
    h, t, loss = layer_forward(W, b, x, y)
    np.testing.assert_allclose(h, [0.25, 0.65, -0.35])
    assert loss == pytest.approx(0.5 * (0.75**2 + 0.15**2 + 0.4**2))
    g = closed_form_gradients(W, b, x, y)
    np.testing.assert_allclose(g.delta, [-0.75, 0.15, 0.0])
    np.testing.assert_allclose(g.W, np.outer([-0.75, 0.15, 0.0], x))
    assert np.all(g.W[2] == 0) and g.b[2] == 0 and y[2] != 0  # the off unit gets nothing


def test_batched_is_sum_of_single_samples(rng):
    W, b, X, Y = _problem(rng, 3, 4, batch=6)
    g = closed_form_gradients(W, b, X, Y)
    singles = [closed_form_gradients(W, b, X[i], Y[i]) for i in range(len(X))]
    np.testing.assert_allclose(g.W, sum(s.W for s in singles), rtol=1e-12)
    np.testing.assert_allclose(g.b, sum(s.b for s in singles), rtol=1e-12)
    assert layer_forward(W, b, X, Y)[2] == pytest.approx(sum(layer_forward(W, b, X[i], Y[i])[2]
                                                             for i in range(len(X))))


def test_relu_derivative_at_zero_is_zero():
    # Unit 0 has h exactly 0 (zero weights, zero bias) and a target above t = 0.
    W = np.array([[0.0, 0.0], [1.0, -1.0]])
    b = np.array([0.0, 0.5])
    x = np.array([2.0, 1.0])
    y = np.array([1.0, 0.0])
    closed = closed_form_gradients(W, b, x, y)
    engine = engine_gradients(W, b, x, y)
    assert closed.delta[0] == 0 and closed.b[0] == 0 and np.all(closed.W[0] == 0)
    np.testing.assert_array_equal(engine.W, closed.W)
    np.testing.assert_array_equal(engine.b, closed.b)
    # Central differences straddle the kink and see the average slope -(y - 0) * 1/2 instead:
    # which is why the check flags it rather than trusting the finite differences there.
    fd = finite_difference_gradients(W, b, x, y)
    assert fd.b[0] == pytest.approx(-0.5, abs=1e-6)
    assert not three_way_check(W, b, x, y).fd_trustworthy


def test_engine_in_float32_is_close(rng):
    W, b, x, y = _problem(rng, 4, 5)
    g32 = engine_gradients(W, b, x, y, dtype=np.float32)
    assert g32.W.dtype == np.float32
    g = closed_form_gradients(W, b, x, y)
    np.testing.assert_allclose(g32.W, g.W, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(g32.b, g.b, rtol=1e-5, atol=1e-5)
