"""Reductions over axes: sum, mean, max (each with ``keepdims``)."""

from __future__ import annotations

from typing import Any

import numpy as np

from .tensor import Array, Tensor, make, to_tensor

Axis = int | tuple[int, ...] | None


def _axes(axis: Axis, ndim: int) -> tuple[int, ...]:
    if axis is None:
        return tuple(range(ndim))
    if isinstance(axis, int):
        axis = (axis,)
    return tuple(a % ndim for a in axis)


def _expand(g: Array, axes: tuple[int, ...], keepdims: bool) -> Array:
    """Give a reduced gradient back its reduced axes (as size 1) so it broadcasts."""
    return g if keepdims else np.expand_dims(g, axes)


def sum(a: Any, axis: Axis = None, keepdims: bool = False) -> Tensor:  # noqa: A001
    """Sum over ``axis`` (all axes when None)."""
    a = to_tensor(a)
    axes = _axes(axis, a.ndim)
    out = np.asarray(a.data.sum(axis=axes, keepdims=keepdims))
    return make(out, (a,),
                lambda g: (np.broadcast_to(_expand(g, axes, keepdims), a.shape).copy(),), "sum")


def mean(a: Any, axis: Axis = None, keepdims: bool = False) -> Tensor:
    """Mean over ``axis`` (all axes when None)."""
    a = to_tensor(a)
    axes = _axes(axis, a.ndim)
    n = int(np.prod([a.shape[i] for i in axes])) if axes else 1
    out = np.asarray(a.data.mean(axis=axes, keepdims=keepdims))
    return make(out, (a,),
                lambda g: (np.broadcast_to(_expand(g, axes, keepdims) / n, a.shape).copy(),), "mean")


def max(a: Any, axis: Axis = None, keepdims: bool = False) -> Tensor:  # noqa: A001
    """Maximum over ``axis``. Tied maxima share the gradient equally (as ``torch.amax``)."""
    a = to_tensor(a)
    axes = _axes(axis, a.ndim)
    m = a.data.max(axis=axes, keepdims=True)

    def vjp(g: Array) -> tuple[Array]:
        mask = (a.data == m)
        count = mask.sum(axis=axes, keepdims=True, dtype=g.dtype)  # int64 would promote to float64
        return (mask * (_expand(g, axes, keepdims) / count),)

    out = m if keepdims else np.squeeze(m, axis=axes)
    return make(np.asarray(out), (a,), vjp, "max")
