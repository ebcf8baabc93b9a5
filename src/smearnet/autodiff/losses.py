"""Numerically stable losses, each returning the scalar mean, with their VJPs.

Targets may be arrays or Tensors; a target with as many elements as the prediction but another
shape (``(N,)`` against ``(N, 1)``) is reshaped to the prediction's shape, never broadcast
(broadcasting ``(N, 1)`` with ``(N,)`` would silently compare every pair).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .math import _sigmoid
from .tensor import Array, Tensor, make, to_tensor


def _targets(pred: Tensor, target: Any, what: str) -> Tensor:
    t = to_tensor(target)
    if t.shape == pred.shape:
        return t
    if t.size != pred.size:
        raise ValueError(f"{what}: targets of shape {t.shape} do not match predictions {pred.shape}")
    from .shape import reshape  # local: keeps this module's imports to the core
    return reshape(t, pred.shape)


def _smooth(t: Array, label_smoothing: float) -> Array:
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"label_smoothing must be in [0, 1], got {label_smoothing}")
    return t if label_smoothing == 0.0 else t * (1.0 - label_smoothing) + 0.5 * label_smoothing


def binary_cross_entropy_with_logits(logits: Any, targets: Any, label_smoothing: float = 0.0) -> Tensor:
    """Mean of ``-t log sigmoid(z) - (1-t) log(1 - sigmoid(z))``, computed from the logits ``z``.

    Uses ``max(z, 0) - z t + log1p(exp(-|z|))``, finite for any finite logit (logit 1000 with
    target 0 gives 1000). Gradient: ``(sigmoid(z) - t) / n``. Shape: any -> scalar.
    """
    z = to_tensor(logits)
    t_t = _targets(z, targets, "binary_cross_entropy_with_logits")
    t = _smooth(t_t.data, label_smoothing)
    n = z.size
    zd = z.data
    loss = (np.maximum(zd, 0) - zd * t + np.log1p(np.exp(-np.abs(zd)))).mean()

    def vjp(g: Array) -> tuple[Array | None, Array | None]:
        gz = g * (_sigmoid(zd) - t) / n if z.requires_grad else None
        gt = g * -zd * (1.0 - label_smoothing) / n if t_t.requires_grad else None
        return gz, gt

    return make(np.asarray(loss), (z, t_t), vjp, "binary_cross_entropy_with_logits")


def binary_cross_entropy(probs: Any, targets: Any, eps: float = 1e-7,
                         label_smoothing: float = 0.0) -> Tensor:
    """Mean of ``-t log p - (1-t) log(1-p)`` with ``p`` clipped to ``[eps, 1 - eps]``.

    Never takes log(0): probability 0 with label 1 gives ``-log(eps)`` (~16.1). The gradient
    ``(p - t) / (p (1 - p)) / n`` is evaluated at the clipped ``p`` (straight through the clip,
    as PyTorch's clamped BCE), so a saturated prediction still gets pushed back. Shape: any -> scalar.
    """
    p_t = to_tensor(probs)
    t_t = _targets(p_t, targets, "binary_cross_entropy")
    t = _smooth(t_t.data, label_smoothing)
    n = p_t.size
    p = np.clip(p_t.data, eps, 1.0 - eps)
    log_p, log_q = np.log(p), np.log1p(-p)
    loss = -(t * log_p + (1.0 - t) * log_q).mean()

    def vjp(g: Array) -> tuple[Array | None, Array | None]:
        gp = g * (p - t) / (p * (1.0 - p)) / n if p_t.requires_grad else None
        gt = g * (log_q - log_p) * (1.0 - label_smoothing) / n if t_t.requires_grad else None
        return gp, gt

    return make(np.asarray(loss), (p_t, t_t), vjp, "binary_cross_entropy")


def mse_loss(pred: Any, target: Any) -> Tensor:
    """Mean of ``(pred - target) ** 2``. Shape: any -> scalar."""
    p = to_tensor(pred)
    t = _targets(p, target, "mse_loss")
    diff = p.data - t.data
    n = p.size

    def vjp(g: Array) -> tuple[Array | None, Array | None]:
        gd = g * (2.0 / n) * diff
        return (gd if p.requires_grad else None), (-gd if t.requires_grad else None)

    return make(np.asarray(np.mean(diff * diff)), (p, t), vjp, "mse_loss")
