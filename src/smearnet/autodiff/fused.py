"""``max_pool2d(batch_norm(x, ..., activation="relu"), 2)`` as one op, pooling before the affine.

Per channel, batch norm's output is ``scale * (x - mean) + beta`` with ``scale = gamma /
sqrt(var + eps)``; when every ``scale > 0`` this map and the ReLU are non-decreasing, so the
2x2 maximum of the output is the output at the 2x2 maximum of ``x`` (floating-point rounding is
monotone too: the values are bit-identical to the separate ops). The op pools ``x`` first and
normalises only the quarter-size result; the backward needs the BN sums only over the pooled
positions (the gradient is zero elsewhere). Any channel with ``scale <= 0``, odd sizes, or a
non-4-D input: the separate ops, unchanged. Tied maxima go to the first in row-major order.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .norm import _fold, batch_norm
from .pool import max_pool2d
from .tensor import Array, Tensor, is_grad_enabled, make, to_tensor


def batch_norm_relu_max_pool2d(x: Any, gamma: Any, beta: Any, running_mean: Array,
                               running_var: Array, training: bool, momentum: float = 0.99,
                               eps: float = 1e-3) -> Tensor:
    """``max_pool2d(batch_norm(x, ..., activation="relu"), 2)``: same values and gradients.

    Shape: x ``(N, H, W, C)`` -> ``(N, H//2, W//2, C)``; other arguments as :func:`batch_norm`
    (gamma and beta required; running statistics updated in place when training).
    """
    x = to_tensor(x)
    g_t, b_t = to_tensor(gamma), to_tensor(beta)

    def separate() -> Tensor:
        return max_pool2d(batch_norm(x, g_t, b_t, running_mean, running_var, training, momentum,
                                     eps, activation="relu"), 2)

    if x.ndim != 4 or x.shape[1] % 2 or x.shape[2] % 2 or x.shape[1] < 2 or x.shape[2] < 2:
        return separate()
    n, h, w, c = x.shape
    if g_t.shape != (c,) or b_t.shape != (c,):
        return separate()  # batch_norm raises the error
    m = x.size // c
    reps = _fold(x.shape)
    xw = x.data.reshape(m // reps, reps * c)
    tile = (lambda v: np.tile(v, reps)) if reps > 1 else (lambda v: v)
    if training:
        mean = xw.sum(axis=0).reshape(reps, c).sum(axis=0) / m
        centred = xw - tile(mean)
        var = np.einsum("ij,ij->j", centred, centred).reshape(reps, c).sum(axis=0) / m
        del centred
    else:
        mean, var = running_mean.astype(x.dtype), running_var.astype(x.dtype)
    inv_std = (1.0 / np.sqrt(var + eps)).astype(x.dtype)
    scale = inv_std * g_t.data
    if not np.all(scale > 0):
        return separate()  # (recomputes the statistics; running ones not yet touched)
    if training:
        running_mean *= momentum
        running_mean += (1 - momentum) * mean.astype(running_mean.dtype)
        running_var *= momentum
        running_var += (1 - momentum) * var.astype(running_var.dtype)

    oh, ow = h // 2, w // 2
    x6 = x.data.reshape(n * oh, 2, ow, 2, c)
    record = is_grad_enabled() and (x.requires_grad or g_t.requires_grad or b_t.requires_grad)
    top = np.maximum(x6[:, 0, :, 0], x6[:, 0, :, 1])
    xmax = np.maximum(x6[:, 1, :, 0], x6[:, 1, :, 1])
    pick_top = top >= xmax if record else None
    np.maximum(top, xmax, out=xmax)
    del top
    # the same element operations as batch_norm, on the pooled x only
    if training:
        out = np.subtract(xmax, mean)
        out *= scale
        out += b_t.data
    else:
        out = xmax * scale
        out += (b_t.data - mean * scale).astype(x.dtype)
    np.maximum(out, 0, out=out)
    if not record:
        return make(out.reshape(n, oh, ow, c), (x, g_t, b_t), None, "batch_norm_relu_max_pool2d")
    left = (x6[:, 0, :, 0] >= x6[:, 0, :, 1], x6[:, 1, :, 0] >= x6[:, 1, :, 1])

    def vjp(g: Array) -> tuple[Array | None, ...]:
        gy = g.reshape(n * oh, ow, c) * (out > 0)  # through the ReLU, at the pooled positions
        cen = xmax - mean  # x - mean at the pooled positions
        gsum = np.einsum("ijc->c", gy)
        sum_g_xhat = np.einsum("ijc,ijc->c", gy, cen) * inv_std
        gx = None
        if x.requires_grad:
            gys = gy * scale
            if training:  # gx = scale*gy - xhat*scale*mean(gy*xhat) - scale*mean(gy)
                k = scale * inv_std * sum_g_xhat / m
                const = scale * gsum / m
                gx6 = np.subtract(x6, mean)  # -(x - mean)*k - const everywhere (x - mean
                gx6 *= -k  # first, as batch_norm: no cancellation against a large mean)
                gx6 -= const
            else:
                gx6 = np.zeros_like(x6)
            pick_bottom = ~pick_top
            for r, row in ((0, pick_top), (1, pick_bottom)):
                msk = row & left[r]
                gx6[:, r, :, 0] += gys * msk
                np.logical_xor(row, msk, out=msk)
                gx6[:, r, :, 1] += gys * msk
            gx = gx6.reshape(x.shape)
        gg = sum_g_xhat if g_t.requires_grad else None
        gb = gsum if b_t.requires_grad else None
        return gx, gg, gb

    return make(out.reshape(n, oh, ow, c), (x, g_t, b_t), vjp, "batch_norm_relu_max_pool2d")
