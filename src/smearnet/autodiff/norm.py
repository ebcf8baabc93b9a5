"""Batch normalization over every axis but the last, with its VJP."""

from __future__ import annotations

from typing import Any

import numpy as np

from .tensor import Array, Tensor, make, to_tensor


def batch_norm(x: Any, gamma: Any, beta: Any, running_mean: Array, running_var: Array,
               training: bool, momentum: float = 0.99, eps: float = 1e-3) -> Tensor:
    """``gamma * (x - mean) / sqrt(var + eps) + beta``, per channel (the last axis).

    Shape: x ``(..., C)``; gamma, beta ``(C,)`` (either may be None: no scale / no shift);
    running_mean, running_var float32 ndarrays ``(C,)``.

    Training: mean and (biased) variance of this batch over every axis but the last, and the
    running statistics are updated IN PLACE, Keras style:
    ``running = momentum * running + (1 - momentum) * batch_stat``.
    Inference: the running statistics, unchanged.
    """
    x = to_tensor(x)
    g_t = None if gamma is None else to_tensor(gamma)
    b_t = None if beta is None else to_tensor(beta)
    c = x.shape[-1]
    if x.ndim < 2:
        raise ValueError(f"batch_norm needs at least (N, C), got shape {x.shape}")
    for name, v in (("gamma", g_t), ("beta", b_t), ("running_mean", running_mean),
                    ("running_var", running_var)):
        if v is not None and tuple(v.shape) != (c,):
            raise ValueError(f"batch_norm: {name} must have shape ({c},), got {tuple(v.shape)}")
    m = x.size // c
    x2 = x.data.reshape(m, c)
    if training:
        mean = np.einsum("ic->c", x2) / m  # einsum: the fastest per-channel sum here
        centred = x2 - mean
        var = np.einsum("ic,ic->c", centred, centred) / m  # two-pass: no E[x^2] - E[x]^2 cancellation
        running_mean *= momentum
        running_mean += (1 - momentum) * mean.astype(running_mean.dtype)
        running_var *= momentum
        running_var += (1 - momentum) * var.astype(running_var.dtype)
    else:
        mean = running_mean.astype(x.dtype)
        var = running_var.astype(x.dtype)
        centred = None
    inv_std = (1.0 / np.sqrt(var + eps)).astype(x.dtype)
    scale = inv_std if g_t is None else inv_std * g_t.data  # y = centred * scale + beta
    if centred is not None:  # reuse the temporary: backward recomputes it rather than keep it
        out = np.multiply(centred, scale, out=centred)
        del centred
    else:
        out = x2 * scale
        out -= mean * scale
    if b_t is not None:
        out += b_t.data
    out = out.reshape(x.shape)

    def vjp(g: Array) -> tuple[Array | None, ...]:
        g2 = g.reshape(m, c)
        want_x = x.requires_grad
        want_g = g_t is not None and g_t.requires_grad
        want_b = b_t is not None and b_t.requires_grad
        gx = gg = gb = None
        gsum = np.einsum("ic->c", g2) if want_b or (want_x and training) else None
        centred = None
        if want_g or (want_x and training):  # sum(g * xhat) per channel, xhat never materialised
            centred = x2 - mean
            sum_g_xhat = np.einsum("ic,ic->c", g2, centred) * inv_std
            gg = sum_g_xhat if want_g else None
        if want_b:
            gb = gsum
        if want_x:
            gx = g2 * scale
            if training:  # the batch statistics depend on x too:
                # gx = scale * (g - mean(g) - xhat * mean(g * xhat))
                gx -= np.multiply(centred, scale * inv_std * sum_g_xhat / m, out=centred)
                gx -= scale * gsum / m
            gx = gx.reshape(x.shape)
        return gx, gg, gb

    parents = (x, g_t if g_t is not None else Tensor(0.0), b_t if b_t is not None else Tensor(0.0))
    return make(out, parents, vjp, "batch_norm")
