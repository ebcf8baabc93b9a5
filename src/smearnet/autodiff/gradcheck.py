"""Gradient checking by central finite differences in float64."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from .tensor import Tensor, precision


def gradcheck(fn: Callable[..., Tensor], *inputs: Any, eps: float = 1e-6, seed: int = 0) -> list[float]:
    """Compare the engine's gradient of ``fn`` with central differences, in float64.

    Args:
        fn: takes one Tensor per input and returns a Tensor of any shape. A non-scalar output
            is reduced to a scalar by a fixed random projection ``sum(out * r)``, so every
            output element is checked.
        inputs: arrays (or Tensors); a copy of each is made in float64.
        eps: the finite-difference step.

    Returns:
        For each input, the worst error ``max|analytic - numeric| / max(max|numeric|,
        max|analytic|, 1e-12)``: the error relative to the gradient's own scale, so entries
        near zero do not inflate it. Float64 analytic gradients usually give < 1e-6.
    """
    arrays = [np.array(x.data if isinstance(x, Tensor) else x, dtype=np.float64) for x in inputs]
    with precision(np.float64):
        probe = fn(*[Tensor(a) for a in arrays])
        r = np.random.default_rng(seed).standard_normal(probe.shape)

        def scalar(*xs: Tensor) -> Tensor:
            out = fn(*xs)
            return out if out.size == 1 and probe.ndim == 0 else (out * Tensor(r)).sum()

        leaves = [Tensor(a, requires_grad=True) for a in arrays]
        scalar(*leaves).backward()
        errors = []
        for k, a in enumerate(arrays):
            analytic = leaves[k].grad if leaves[k].grad is not None else np.zeros_like(a)
            numeric = np.zeros_like(a)
            flat, nflat = a.reshape(-1), numeric.reshape(-1)
            for i in range(flat.size):
                old = flat[i]
                flat[i] = old + eps
                up = scalar(*[Tensor(x) for x in arrays]).item()
                flat[i] = old - eps
                down = scalar(*[Tensor(x) for x in arrays]).item()
                flat[i] = old
                nflat[i] = (up - down) / (2 * eps)
            scale = max(np.abs(numeric).max(initial=0), np.abs(analytic).max(initial=0), 1e-12)
            errors.append(float(np.abs(analytic - numeric).max(initial=0) / scale))
    return errors
