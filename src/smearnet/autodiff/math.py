"""Elementwise primitives and matmul, each forward beside its vector-Jacobian product.

Binary ops broadcast like NumPy; :func:`unbroadcast` undoes it for every one of them.
Subtraction and division are built from the others where that costs nothing.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .blas import matmul as _mm
from .tensor import Array, Tensor, make, to_tensor


def unbroadcast(g: Array, shape: tuple[int, ...]) -> Array:
    """Sum ``g`` down to ``shape``: the adjoint of NumPy broadcasting ``shape -> g.shape``."""
    if g.shape == shape:
        return g
    extra = g.ndim - len(shape)
    if extra > 0:
        g = g.sum(axis=tuple(range(extra)))
    axes = tuple(i for i, n in enumerate(shape) if n == 1 and g.shape[i] != 1)
    if axes:
        g = g.sum(axis=axes, keepdims=True)
    return g.reshape(shape)


def add(a: Any, b: Any) -> Tensor:
    """``a + b`` with broadcasting."""
    a, b = to_tensor(a), to_tensor(b)
    return make(a.data + b.data, (a, b),
                lambda g: (unbroadcast(g, a.shape), unbroadcast(g, b.shape)), "add")


def sub(a: Any, b: Any) -> Tensor:
    """``a - b`` with broadcasting."""
    a, b = to_tensor(a), to_tensor(b)
    return make(a.data - b.data, (a, b),
                lambda g: (unbroadcast(g, a.shape), unbroadcast(-g, b.shape)), "sub")


def mul(a: Any, b: Any) -> Tensor:
    """``a * b`` with broadcasting."""
    a, b = to_tensor(a), to_tensor(b)

    def vjp(g: Array) -> tuple[Array | None, Array | None]:
        ga = unbroadcast(g * b.data, a.shape) if a.requires_grad else None
        gb = unbroadcast(g * a.data, b.shape) if b.requires_grad else None
        return ga, gb

    return make(a.data * b.data, (a, b), vjp, "mul")


def div(a: Any, b: Any) -> Tensor:
    """``a / b`` with broadcasting."""
    a, b = to_tensor(a), to_tensor(b)
    out = a.data / b.data

    def vjp(g: Array) -> tuple[Array | None, Array | None]:
        ga = unbroadcast(g / b.data, a.shape) if a.requires_grad else None
        gb = unbroadcast(-g * out / b.data, b.shape) if b.requires_grad else None
        return ga, gb

    return make(out, (a, b), vjp, "div")


def neg(a: Any) -> Tensor:
    """``-a``."""
    a = to_tensor(a)
    return make(-a.data, (a,), lambda g: (-g,), "neg")


def pow(a: Any, p: float) -> Tensor:  # noqa: A001 - mirrors the operator's name
    """``a ** p`` for a constant exponent ``p``."""
    if isinstance(p, Tensor):
        raise TypeError("pow supports a constant exponent only; use exp(p * log(a)) for a tensor one")
    a = to_tensor(a)
    p = float(p)
    return make(a.data ** p, (a,), lambda g: (g * p * a.data ** (p - 1.0),), "pow")


def exp(a: Any) -> Tensor:
    """``e ** a``."""
    a = to_tensor(a)
    out = np.exp(a.data)
    return make(out, (a,), lambda g: (g * out,), "exp")


def log(a: Any) -> Tensor:
    """Natural logarithm."""
    a = to_tensor(a)
    return make(np.log(a.data), (a,), lambda g: (g / a.data,), "log")


def sqrt(a: Any) -> Tensor:
    """Square root."""
    a = to_tensor(a)
    out = np.sqrt(a.data)
    return make(out, (a,), lambda g: (g * 0.5 / out,), "sqrt")


def abs(a: Any) -> Tensor:  # noqa: A001
    """``|a|``; the gradient at 0 is 0."""
    a = to_tensor(a)
    return make(np.abs(a.data), (a,), lambda g: (g * np.sign(a.data),), "abs")


def relu(a: Any) -> Tensor:
    """``max(a, 0)``; the derivative at 0 is 0, as the assignment states."""
    a = to_tensor(a)
    out = np.maximum(a.data, 0)
    return make(out, (a,), lambda g: (g * (a.data > 0),), "relu")


def sigmoid(a: Any) -> Tensor:
    """``1 / (1 + e^-a)``, computed without overflow for any finite ``a``."""
    a = to_tensor(a)
    out = _sigmoid(a.data)
    return make(out, (a,), lambda g: (g * out * (1 - out),), "sigmoid")


def _sigmoid(x: Array) -> Array:
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e)).astype(x.dtype, copy=False)


def tanh(a: Any) -> Tensor:
    """Hyperbolic tangent."""
    a = to_tensor(a)
    out = np.tanh(a.data)
    return make(out, (a,), lambda g: (g * (1 - out * out),), "tanh")


def maximum(a: Any, b: Any) -> Tensor:
    """Elementwise maximum; a tie sends the gradient to ``a``."""
    a, b = to_tensor(a), to_tensor(b)
    take_a = a.data >= b.data

    def vjp(g: Array) -> tuple[Array, Array]:
        return unbroadcast(g * take_a, a.shape), unbroadcast(g * ~take_a, b.shape)

    return make(np.maximum(a.data, b.data), (a, b), vjp, "maximum")


def clip(a: Any, lo: float, hi: float) -> Tensor:
    """Clamp to ``[lo, hi]``; the gradient passes only where ``a`` was inside."""
    a = to_tensor(a)
    inside = (a.data >= lo) & (a.data <= hi)
    return make(np.clip(a.data, lo, hi), (a,), lambda g: (g * inside,), "clip")


def matmul(a: Any, b: Any) -> Tensor:
    """Matrix product with NumPy semantics: 2-D, batched (``...ij,...jk``), 1-D vectors.

    Shape: ``(..., n, k) @ (..., k, m) -> (..., n, m)``; batch dimensions broadcast.
    """
    a, b = to_tensor(a), to_tensor(b)
    out = _mm(a.data, b.data)  # small products on one BLAS thread (see blas.py)

    def vjp(g: Array) -> tuple[Array | None, Array | None]:
        ad, bd, gg = a.data, b.data, g
        # Promote vectors to matrices so one rule covers every case (b first: for
        # vector @ vector the upstream gradient is 0-d and needs its last axis restored first).
        if bd.ndim == 1:
            bd = bd[:, None]
            gg = gg[..., None]
        if ad.ndim == 1:
            ad = ad[None, :]
            gg = gg[..., None, :]
        ga = gb = None
        if a.requires_grad:
            ga = unbroadcast(_mm(gg, np.swapaxes(bd, -1, -2)), ad.shape).reshape(a.shape)
        if b.requires_grad:
            gb = unbroadcast(_mm(np.swapaxes(ad, -1, -2), gg), bd.shape).reshape(b.shape)
        return ga, gb

    return make(out, (a, b), vjp, "matmul")


def non_differentiable(op: str, fn: Any, *inputs: Any) -> Tensor:
    """Apply a NumPy function that has no gradient rule (``round``, ``floor``, ``sign``...).

    The result may be used freely; backward through it raises ``NoGradientError`` naming
    ``op`` instead of silently returning zeros.
    """
    ts = [to_tensor(x) for x in inputs]
    return make(np.asarray(fn(*(t.data for t in ts))), ts, None, op)


def round(a: Any) -> Tensor:  # noqa: A001
    """Round to the nearest integer. Has no gradient rule (backward raises)."""
    return non_differentiable("round", np.round, a)


def sign(a: Any) -> Tensor:
    """-1, 0 or 1. Has no gradient rule (backward raises)."""
    return non_differentiable("sign", np.sign, a)
