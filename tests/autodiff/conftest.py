"""Helpers for the engine's tests: compare an op with PyTorch in float64, values and gradients."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import smearnet.autodiff as ad


def engine_grads(fn: Callable[..., ad.Tensor], arrays: list[np.ndarray], upstream_seed: int = 1,
                 dtype: Any = np.float64) -> tuple[np.ndarray, list[np.ndarray | None], np.ndarray]:
    """Run ``fn`` in ``dtype`` on leaves made from ``arrays``; backward a fixed random upstream.

    Returns (output, gradient of each input, the upstream used).
    """
    with ad.precision(dtype):
        leaves = [ad.Tensor(a, requires_grad=True) for a in arrays]
        out = fn(*leaves)
        g = np.random.default_rng(upstream_seed).standard_normal(out.shape).astype(dtype)
        out.backward(g)
    return out.data, [t.grad for t in leaves], g


@pytest.fixture
def grads():
    """:func:`engine_grads` for tests: ``grads(fn, arrays) -> (out, input grads, upstream)``."""
    return engine_grads


@pytest.fixture
def torch():
    return pytest.importorskip("torch")


@pytest.fixture
def vs_torch(torch):
    """``check(sn_fn, torch_fn, *arrays, tol)``: same values and gradients as PyTorch (float64)."""

    def check(sn_fn: Callable[..., ad.Tensor], torch_fn: Callable[..., Any], *arrays: np.ndarray,
              tol: float = 1e-9) -> None:
        arrays = [np.asarray(a, dtype=np.float64) for a in arrays]
        out, grads, g = engine_grads(sn_fn, arrays)
        ts = [torch.tensor(a, requires_grad=True) for a in arrays]
        ref = torch_fn(*ts)
        ref.backward(torch.tensor(g).reshape(ref.shape))
        np.testing.assert_allclose(out, ref.detach().numpy(), rtol=tol, atol=tol)
        for k, (mine, t) in enumerate(zip(grads, ts)):
            theirs = t.grad.numpy() if t.grad is not None else np.zeros_like(arrays[k])
            mine = mine if mine is not None else np.zeros_like(arrays[k])
            np.testing.assert_allclose(mine, theirs, rtol=tol, atol=tol, err_msg=f"input {k}")

    return check
