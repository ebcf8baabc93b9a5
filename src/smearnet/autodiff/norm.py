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
    for name, v in (("gamma", g_t), ("beta", b_t), ("running_mean", running_mean),
                    ("running_var", running_var)):
        if v is not None and tuple(v.shape) != (c,):
            raise ValueError(f"batch_norm: {name} must have shape ({c},), got {tuple(v.shape)}")
    axes = tuple(range(x.ndim - 1))
    m = x.size // c
    if training:
        mean = x.data.mean(axis=axes)
        centred = x.data - mean
        flat = centred.reshape(-1, c)
        var = np.einsum("ic,ic->c", flat, flat) / m
        running_mean *= momentum
        running_mean += (1 - momentum) * mean.astype(running_mean.dtype)
        running_var *= momentum
        running_var += (1 - momentum) * var.astype(running_var.dtype)
    else:
        mean = running_mean.astype(x.dtype)
        var = running_var.astype(x.dtype)
        centred = x.data - mean
    inv_std = (1.0 / np.sqrt(var + eps)).astype(x.dtype)
    xhat = centred * inv_std
    scale = None if g_t is None else g_t.data
    out = xhat * scale if scale is not None else xhat.copy()
    if b_t is not None:
        out += b_t.data

    def vjp(g: Array) -> tuple[Array | None, ...]:
        gx = gg = gb = None
        if g_t is not None and g_t.requires_grad:
            gg = (g * xhat).sum(axis=axes)
        if b_t is not None and b_t.requires_grad:
            gb = g.sum(axis=axes)
        if x.requires_grad:
            gxhat = g * scale if scale is not None else g
            if training:  # the batch statistics depend on x too
                gx = (inv_std / m) * (m * gxhat - gxhat.sum(axis=axes)
                                      - xhat * (gxhat * xhat).sum(axis=axes))
            else:
                gx = gxhat * inv_std
        return gx, gg, gb

    parents = (x, g_t if g_t is not None else Tensor(0.0), b_t if b_t is not None else Tensor(0.0))
    return make(out, parents, vjp, "batch_norm")
