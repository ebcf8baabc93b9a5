"""Inverted dropout."""

from __future__ import annotations

from typing import Any

import numpy as np

from .tensor import Array, Tensor, make, to_tensor


def dropout(x: Any, rate: float, training: bool, rng: np.random.Generator) -> Tensor:
    """Zero each element with probability ``rate`` and scale the rest by ``1 / (1 - rate)``.

    Shape: any, unchanged. Identity (the same tensor) when not training or ``rate == 0``, so
    the expected value is the same in training and inference.
    """
    x = to_tensor(x)
    if not 0.0 <= rate <= 1.0:
        raise ValueError(f"dropout rate must be in [0, 1], got {rate}")
    if not training or rate == 0.0:
        return x
    if rate == 1.0:
        mask = np.zeros(x.shape, dtype=x.dtype)
    else:
        keep = rng.random(x.shape, dtype=np.float32) >= rate
        mask = keep.astype(x.dtype) * x.dtype.type(1.0 / (1.0 - rate))
    return make(x.data * mask, (x,), lambda g: (g * mask,), "dropout")
