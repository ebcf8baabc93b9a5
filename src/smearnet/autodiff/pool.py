"""Max, average and global-average pooling over NHWC arrays, each with its VJP.

Windows are visited one kernel offset at a time with strided slices (``KH*KW`` whole-array
ops, no Python loop over pixels): the forward keeps a running max / sum, the backward adds
each offset's share back with a strided ``+=`` so overlapping windows accumulate (or assigns
it, when the windows tile the input and no pixel is shared).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .conv import Padding, _pair, conv_output_size, pad_nhwc, resolve_padding, window_slice
from .tensor import Array, Tensor, is_grad_enabled, make, to_tensor


def _geometry(x: Tensor, pool_size: Any, strides: Any, padding: Padding
              ) -> tuple[tuple[int, int], tuple[int, int], Any, tuple[int, int]]:
    """Window, stride, ``((top, bottom), (left, right))`` padding and output size."""
    if x.ndim != 4:
        raise ValueError(f"pooling needs an (N, H, W, C) input, got shape {x.shape}")
    k = _pair(pool_size, "pool_size")
    s = k if strides is None else _pair(strides, "strides")
    pads = resolve_padding(padding, x.shape[1:3], k, s)
    if max(pads[0]) >= k[0] or max(pads[1]) >= k[1]:  # a window of padding only has no value
        raise ValueError(f"pooling padding {pads} must be smaller than the window {k}")
    out_hw = (conv_output_size(x.shape[1], k[0], s[0], pads[0]),
              conv_output_size(x.shape[2], k[1], s[1], pads[1]))
    return k, s, pads, out_hw


def _crop(gxp: Array, pads: Any, shape: tuple[int, ...]) -> Array:
    if gxp.shape == shape:
        return gxp
    (t, _), (l, _) = pads
    return np.ascontiguousarray(gxp[:, t:t + shape[1], l:l + shape[2], :])


def max_pool2d(x: Any, pool_size: int | tuple[int, int] = 2, strides: Any = None,
               padding: Padding = "valid") -> Tensor:
    """Maximum over each window, as Keras ``MaxPool2D``.

    Shape: ``(N, H, W, C) -> (N, OH, OW, C)``, ``OH = conv_output_size(H, pool, stride, padding)``;
    ``strides`` defaults to ``pool_size``; "same" pads with -inf so padding never wins.
    Tied maxima: the whole upstream gradient goes to the first maximum in row-major window
    order (as PyTorch and TensorFlow), never split and never duplicated.
    """
    x = to_tensor(x)
    k, s, pads, out_hw = _geometry(x, pool_size, strides, padding)
    if k == s == (2, 2) and out_hw[0] * 2 == x.shape[1] and out_hw[1] * 2 == x.shape[2]:
        return _max_pool_2x2(x)
    xp = pad_nhwc(x.data, pads, value=-np.inf)
    offsets = [(i, j) for i in range(k[0]) for j in range(k[1])]
    out = None
    for i, j in offsets:
        v = xp[window_slice(i, j, s, out_hw)]
        out = v.copy() if out is None else np.maximum(out, v, out=out)

    def vjp(g: Array) -> tuple[Array]:
        tiled = k == s  # windows tile the input: each pixel is in at most one window
        if tiled:  # assign instead of add; only the rows/columns no window reaches need zeros
            gxp = np.empty(xp.shape, dtype=g.dtype)
            gxp[:, out_hw[0] * s[0]:] = 0
            gxp[:, :, out_hw[1] * s[1]:] = 0
        else:
            gxp = np.zeros(xp.shape, dtype=g.dtype)
        free = np.ones(out.shape, dtype=bool)  # windows whose max has not been routed yet
        hit = np.empty(out.shape, dtype=bool)
        for n, (i, j) in enumerate(offsets):
            idx = window_slice(i, j, s, out_hw)
            np.equal(xp[idx], out, out=hit)
            hit &= free
            if n + 1 < len(offsets):
                free ^= hit  # hit is a subset of free
            if tiled:
                np.multiply(g, hit, out=gxp[idx])
            else:
                gxp[idx] += g * hit
        return (_crop(gxp, pads, x.shape),)

    return make(out, (x,), vjp, "max_pool2d")


def _max_pool_2x2(x: Tensor) -> Tensor:
    """2x2 windows, stride 2, tiling the input exactly: by reshape, one pass per comparison.

    Each window's gradient goes to its first maximum in row-major order: to the top row when
    the top row holds the maximum (``top >= bottom``), and within the chosen row to the left
    pixel when it is at least the right one. The forward keeps these three quarter-size boolean
    maps (only when a graph is recorded), so the backward is four masked strided writes.
    Inference: the maximum of the two rows of each window (long contiguous runs), then of the
    two columns.
    """
    n, h, w, c = x.shape
    oh, ow = h // 2, w // 2
    x6 = x.data.reshape(n * oh, 2, ow, 2, c)
    if not (x.requires_grad and is_grad_enabled()):
        rows = np.maximum(x6[:, 0], x6[:, 1])  # (n*oh, ow, 2, c)
        out = np.maximum(rows[:, :, 0], rows[:, :, 1])
        return make(out.reshape(n, oh, ow, c), (x,), None, "max_pool2d")
    top = np.maximum(x6[:, 0, :, 0], x6[:, 0, :, 1])
    out = np.maximum(x6[:, 1, :, 0], x6[:, 1, :, 1])
    pick_top = top >= out
    np.maximum(top, out, out=out)
    del top
    left = (x6[:, 0, :, 0] >= x6[:, 0, :, 1], x6[:, 1, :, 0] >= x6[:, 1, :, 1])

    def vjp(g: Array) -> tuple[Array]:
        g3 = g.reshape(n * oh, ow, c)
        gx6 = np.empty((n * oh, 2, ow, 2, c), dtype=g.dtype)
        pick_bottom = ~pick_top
        for r, row in ((0, pick_top), (1, pick_bottom)):
            m = row & left[r]
            np.multiply(g3, m, out=gx6[:, r, :, 0])
            np.logical_xor(row, m, out=m)  # row picked, left not picked
            np.multiply(g3, m, out=gx6[:, r, :, 1])
        return (gx6.reshape(x.shape),)

    return make(out.reshape(n, oh, ow, c), (x,), vjp, "max_pool2d")


def avg_pool2d(x: Any, pool_size: int | tuple[int, int] = 2, strides: Any = None,
               padding: Padding = "valid") -> Tensor:
    """Mean over each window, as Keras ``AveragePooling2D``.

    Shape as :func:`max_pool2d`. With "same" (or explicit) padding each window averages over its
    valid (unpadded) elements only, like Keras.
    """
    x = to_tensor(x)
    k, s, pads, out_hw = _geometry(x, pool_size, strides, padding)
    xp = pad_nhwc(x.data, pads)
    offsets = [(i, j) for i in range(k[0]) for j in range(k[1])]
    total = None
    for i, j in offsets:
        v = xp[window_slice(i, j, s, out_hw)]
        total = v.copy() if total is None else np.add(total, v, out=total)
    if xp.shape == x.shape:
        count: Array | float = float(k[0] * k[1])
    else:  # how many real pixels each window covers: pool a map of ones the same way
        ones = pad_nhwc(np.ones((1, x.shape[1], x.shape[2], 1), dtype=x.dtype), pads)
        count = sum(ones[window_slice(i, j, s, out_hw)] for i, j in offsets)
    out = total / count

    def vjp(g: Array) -> tuple[Array]:
        share = g / count
        gxp = np.zeros(xp.shape, dtype=g.dtype)
        for i, j in offsets:
            gxp[window_slice(i, j, s, out_hw)] += share
        return (_crop(gxp, pads, x.shape),)

    return make(out.astype(x.dtype, copy=False), (x,), vjp, "avg_pool2d")


def global_avg_pool2d(x: Any) -> Tensor:
    """Mean over height and width. Shape: ``(N, H, W, C) -> (N, C)``."""
    x = to_tensor(x)
    if x.ndim != 4:
        raise ValueError(f"global_avg_pool2d needs an (N, H, W, C) input, got shape {x.shape}")
    n, h, w, c = x.shape
    area = h * w

    def vjp(g: Array) -> tuple[Array]:
        return (np.broadcast_to((g / area)[:, None, None, :], x.shape).copy(),)

    return make(x.data.mean(axis=(1, 2)), (x,), vjp, "global_avg_pool2d")
