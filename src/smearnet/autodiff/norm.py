"""Batch normalization over every axis but the last, with its VJP (optionally fused with ReLU).

Every per-channel operation runs on a "wide" 2-D view of the input, ``(rows, L*C)`` with the
trailing non-channel dims folded into the columns (``(N*H, W*C)`` for NHWC), and the per-channel
vectors tiled ``L`` times. NumPy then runs long inner loops instead of loops of ``C`` floats,
and the per-channel sums are one column reduction plus a tiny fold (measured on the cellnet
benchmark: 64x64x64x16 forward + backward 56 -> see docs/engine.md).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .tensor import Array, Tensor, make, to_tensor

_WIDE = 512  # fold trailing dims into the columns until a row has at least this many floats


def _fold(shape: tuple[int, ...]) -> int:
    """How many positions ``L`` of the trailing non-channel dims make up one wide row."""
    c, lead = shape[-1], 1
    for d in reversed(shape[1:-1]):  # never the first (batch) dim
        if lead * c >= _WIDE:
            break
        lead *= d
    return lead


def _chan_sum(wide: Array, reps: int, c: int) -> Array:
    """Per-channel sum of a wide ``(rows, reps*c)`` array."""
    return wide.sum(axis=0).reshape(reps, c).sum(axis=0)


def batch_norm(x: Any, gamma: Any, beta: Any, running_mean: Array, running_var: Array,
               training: bool, momentum: float = 0.99, eps: float = 1e-3,
               activation: str | None = None) -> Tensor:
    """``gamma * (x - mean) / sqrt(var + eps) + beta``, per channel (the last axis).

    Shape: x ``(..., C)``; gamma, beta ``(C,)`` (either may be None: no scale / no shift);
    running_mean, running_var float32 ndarrays ``(C,)``.

    Training: mean and (biased) variance of this batch over every axis but the last, and the
    running statistics are updated IN PLACE, Keras style:
    ``running = momentum * running + (1 - momentum) * batch_stat``.
    Inference: the running statistics, unchanged.
    ``activation="relu"`` fuses ``relu(batch_norm(...))`` into one op (same values and
    gradients, one pass and one stored copy fewer).
    """
    x = to_tensor(x)
    g_t = None if gamma is None else to_tensor(gamma)
    b_t = None if beta is None else to_tensor(beta)
    if activation not in (None, "relu"):
        raise ValueError(f"batch_norm: activation must be None or 'relu', got {activation!r}")
    c = x.shape[-1]
    if x.ndim < 2:
        raise ValueError(f"batch_norm needs at least (N, C), got shape {x.shape}")
    for name, v in (("gamma", g_t), ("beta", b_t), ("running_mean", running_mean),
                    ("running_var", running_var)):
        if v is not None and tuple(v.shape) != (c,):
            raise ValueError(f"batch_norm: {name} must have shape ({c},), got {tuple(v.shape)}")
    m = x.size // c
    reps = _fold(x.shape)
    xw = x.data.reshape(m // reps, reps * c)  # the wide view
    tile = (lambda v: np.tile(v, reps)) if reps > 1 else (lambda v: v)
    if training:
        mean = _chan_sum(xw, reps, c) / m
        centred = xw - tile(mean)
        # two-pass variance: no E[x^2] - E[x]^2 cancellation
        var = np.einsum("ij,ij->j", centred, centred).reshape(reps, c).sum(axis=0) / m
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
    scale_w = tile(scale)
    if centred is not None:  # reuse the temporary: backward recomputes it rather than keep it
        out = np.multiply(centred, scale_w, out=centred)
        del centred
        if b_t is not None:
            out += tile(b_t.data)
    else:
        shift = -mean * scale if b_t is None else b_t.data - mean * scale
        out = x.data.reshape(xw.shape) * scale_w
        out += tile(shift.astype(x.dtype))
    if activation == "relu":
        np.maximum(out, 0, out=out)
    out = out.reshape(x.shape)

    def vjp(g: Array) -> tuple[Array | None, ...]:
        gw = g.reshape(xw.shape)
        owned = activation == "relu"  # gw is a fresh array that may be overwritten
        if owned:
            gw = gw * (out.reshape(xw.shape) > 0)
        want_x = x.requires_grad
        want_g = g_t is not None and g_t.requires_grad
        want_b = b_t is not None and b_t.requires_grad
        gx = gg = gb = None
        gsum = _chan_sum(gw, reps, c) if want_b or (want_x and training) else None
        centred = None
        if want_g or (want_x and training):  # sum(g * xhat) per channel, xhat never materialised
            centred = xw - tile(mean)
            sum_g_xhat = np.einsum("ij,ij->j", gw, centred).reshape(reps, c).sum(axis=0) * inv_std
            gg = sum_g_xhat if want_g else None
        if want_b:
            gb = gsum
        if want_x:
            gx = np.multiply(gw, scale_w, out=gw if owned else None)
            if training:  # the batch statistics depend on x too:
                # gx = scale * (g - mean(g) - xhat * mean(g * xhat))
                gx -= np.multiply(centred, tile(scale * inv_std * sum_g_xhat / m), out=centred)
                gx -= tile(scale * gsum / m)
            gx = gx.reshape(x.shape)
        return gx, gg, gb

    parents = (x, g_t if g_t is not None else Tensor(0.0), b_t if b_t is not None else Tensor(0.0))
    return make(out, parents, vjp, "batch_norm" if activation is None else "batch_norm_relu")
