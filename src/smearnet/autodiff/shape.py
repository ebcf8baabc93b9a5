"""Ops that move values without changing them: reshape, transpose, slicing, concatenate, pad."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .tensor import Array, Tensor, make, to_tensor


def reshape(a: Any, shape: Sequence[int] | int) -> Tensor:
    """Same values, new shape (one dimension may be -1)."""
    a = to_tensor(a)
    return make(a.data.reshape(shape), (a,), lambda g: (g.reshape(a.shape),), "reshape")


def flatten(a: Any) -> Tensor:
    """``(N, ...) -> (N, prod(...))``."""
    a = to_tensor(a)
    return reshape(a, (a.shape[0], -1))


def transpose(a: Any, axes: Sequence[int] | None = None) -> Tensor:
    """Permute axes (reverse them when ``axes`` is None)."""
    a = to_tensor(a)
    axes = tuple(reversed(range(a.ndim))) if axes is None else tuple(axes)
    inverse = tuple(np.argsort(axes))
    return make(np.transpose(a.data, axes), (a,),
                lambda g: (np.transpose(g, inverse),), "transpose")


def _is_basic(index: Any) -> bool:
    items = index if isinstance(index, tuple) else (index,)
    return all(isinstance(i, (slice, int, np.integer, type(None), type(Ellipsis))) for i in items)


def getitem(a: Any, index: Any) -> Tensor:
    """``a[index]``: basic slicing and integer/boolean array indexing.

    Repeated indices (``a[[0, 0]]``) add their gradients.
    """
    a = to_tensor(a)
    if isinstance(index, Tensor):
        index = index.data.astype(np.int64)
    basic = _is_basic(index)

    def vjp(g: Array) -> tuple[Array]:
        full = np.zeros(a.shape, dtype=g.dtype)
        if basic:
            full[index] += g  # a basic index never repeats an element
        else:
            np.add.at(full, index, g)
        return (full,)

    return make(np.array(a.data[index]), (a,), vjp, "getitem")


def concatenate(tensors: Sequence[Any], axis: int = 0) -> Tensor:
    """Join along an existing axis."""
    ts = [to_tensor(t) for t in tensors]
    sizes = [t.shape[axis] for t in ts]
    cuts = np.cumsum(sizes)[:-1]
    return make(np.concatenate([t.data for t in ts], axis=axis), ts,
                lambda g: tuple(np.split(g, cuts, axis=axis)), "concatenate")


def stack(tensors: Sequence[Any], axis: int = 0) -> Tensor:
    """Join along a new axis."""
    ts = [to_tensor(t) for t in tensors]
    return make(np.stack([t.data for t in ts], axis=axis), ts,
                lambda g: tuple(np.moveaxis(g, axis, 0)), "stack")


def pad(a: Any, pad_width: Sequence[tuple[int, int]] | int, value: float = 0.0) -> Tensor:
    """Constant padding, ``pad_width`` as in ``np.pad`` (one ``(before, after)`` per axis)."""
    a = to_tensor(a)
    widths = np.broadcast_to(np.asarray(pad_width, dtype=np.int64), (a.ndim, 2))
    if (widths < 0).any():
        raise ValueError(f"pad widths must be >= 0, got {widths.tolist()}")
    inner = tuple(slice(int(lo), int(lo) + n) for (lo, _), n in zip(widths, a.shape))
    out = np.pad(a.data, widths, mode="constant", constant_values=value)
    return make(out, (a,), lambda g: (np.ascontiguousarray(g[inner]),), "pad")
