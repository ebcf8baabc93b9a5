"""Part 2: forward accumulation == reverse accumulation == the engine; exact FLOP counts."""

from __future__ import annotations

import numpy as np
import pytest

from smearnet import autodiff as ad
from smearnet.backprop.bench import fit_slope
from smearnet.backprop.part2 import (METHODS, Chain, FlopCounter, engine_chain_gradients,
                                     flop_counts, forward_accumulation, forward_input_jacobian,
                                     random_chain, reverse_accumulation)


def _rel(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-12))


CASES = [
    ([4, 3], "tanh"),                      # L = 1
    ([5, 5, 5], "relu"),                   # L = 2
    ([6, 4, 7, 3, 5], "sigmoid"),          # L = 4, uneven widths
    ([8] * 6, "identity"),                 # L = 5
    ([16] * 9, "tanh"),                    # L = 8
    ([3, 9, 2, 6, 1], ["relu", "tanh", "sigmoid", "identity"]),  # mixed, one output
]


@pytest.mark.parametrize("widths,activation", CASES)
def test_forward_reverse_engine_agree(widths, activation):
    chain, x, y = random_chain(widths, activation, seed=1, dtype=np.float64)
    engine = engine_chain_gradients(chain, x, y)
    for method in (forward_accumulation, reverse_accumulation):
        got = method(chain, x, y)
        assert got.loss == pytest.approx(engine.loss, rel=1e-12)
        assert _rel(got.x, engine.x) < 1e-10
        assert len(got.weights) == chain.depth
        for gw, ew in zip(got.weights, engine.weights):
            assert gw.shape == ew.shape
            assert _rel(gw, ew) < 1e-10
    assert _rel(forward_input_jacobian(chain, x, y).x, engine.x) < 1e-10


@pytest.mark.parametrize("L,n", [(2, 16), (8, 32), (32, 8)])
def test_float32_like_the_benchmark(L, n):
    chain, x, y = random_chain([n] * (L + 1), "tanh", seed=2)
    assert chain.weights[0].dtype == np.float32
    engine = engine_chain_gradients(chain, x, y)
    fwd, rev = forward_accumulation(chain, x, y), reverse_accumulation(chain, x, y)
    assert fwd.x.dtype == rev.x.dtype == np.float32
    for got in (fwd, rev):
        assert _rel(got.x, engine.x) < 1e-4
        for gw, ew in zip(got.weights, engine.weights):
            assert _rel(gw, ew) < 1e-4


def test_forward_jacobian_is_the_input_output_jacobian():
    chain, x, y = random_chain([5, 6, 4, 3], "tanh", seed=3, dtype=np.float64)
    J = forward_accumulation(chain, x, y).jacobian
    np.testing.assert_allclose(forward_input_jacobian(chain, x, y).jacobian, J, rtol=1e-12)
    # Row r of J_{N_L}(N_0) is the engine's gradient of output r with respect to x.
    for r in range(J.shape[0]):
        with ad.precision(np.float64):
            xt = ad.Tensor(x, requires_grad=True)
            h = xt
            for w, name in zip(chain.weights, chain.activations):
                h = ad.tanh(ad.matmul(ad.Tensor(w), h))
            h[r].backward()
        np.testing.assert_allclose(J[r], xt.grad, rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("n,L", [(1, 1), (3, 1), (4, 2), (7, 3), (5, 8), (16, 4)])
def test_counted_flops_equal_formulas(n, L):
    chain, x, y = random_chain([n] * (L + 1), "relu", seed=0)
    formulas = flop_counts(n, L)
    for name, method in METHODS.items():
        counter = FlopCounter()
        method(chain, x, y, counter)
        assert counter.flops == formulas[name], name
    assert formulas["forward_pass"] == 2 * L * n * n


def test_flop_growth():
    widths = [256, 512, 1024, 2048]
    for L in (2, 8, 32):
        c = [flop_counts(n, L) for n in widths]
        assert fit_slope(widths, [f["forward"] for f in c]) == pytest.approx(3, abs=0.02)
        assert fit_slope(widths, [f["forward_input"] for f in c]) == pytest.approx(3, abs=0.02)
        assert fit_slope(widths, [f["reverse"] for f in c]) == pytest.approx(2, abs=0.01)
    # Per layer: reverse is constant in L; forward (all weights) grows like L; the chain alone does not.
    n, depths = 512, [64, 128, 256]
    per_layer = {m: [flop_counts(n, L)[m] / L for L in depths] for m in METHODS}
    assert fit_slope(depths, per_layer["reverse"]) == pytest.approx(0, abs=1e-3)
    assert fit_slope(depths, per_layer["forward"]) == pytest.approx(1, abs=0.02)
    assert fit_slope(depths, per_layer["forward_input"]) == pytest.approx(0, abs=0.02)
    # The leading terms: L(L-1) n^3 against 5 L n^2.
    f = flop_counts(1024, 8)
    assert f["forward"] / (8 * 7 * 1024**3) == pytest.approx(1, rel=1e-3)
    assert f["reverse"] / (5 * 8 * 1024**2) == pytest.approx(1, rel=1e-3)


def test_fit_slope_recovers_power_law():
    xs = [2.0, 4.0, 8.0, 16.0]
    assert fit_slope(xs, [3 * x**2.5 for x in xs]) == pytest.approx(2.5)


def test_chain_rejects_bad_shapes_and_names():
    with pytest.raises(ValueError, match="activations"):
        Chain([np.ones((2, 2))], ["relu", "relu"])
    with pytest.raises(ValueError, match="unknown activation"):
        Chain([np.ones((2, 2))], ["softplus"])
    with pytest.raises(ValueError, match="layer 2"):
        Chain([np.ones((3, 2)), np.ones((2, 2))], ["relu", "relu"])
    with pytest.raises(ValueError, match="two entries"):
        random_chain([4])
