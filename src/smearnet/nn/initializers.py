"""Weight initializers: ``initializer(shape, rng) -> float32 array``.

Fans follow Keras for dense ``(in, out)`` and HWIO conv ``(KH, KW, in, out)`` kernels:
``fan_in = in * KH * KW``, ``fan_out = out * KH * KW``. Randomness comes only from the
``rng`` the layer passes in (derived from the model's seed), never from global state.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .registry import INITIALIZERS

Shape = tuple[int, ...]


def compute_fans(shape: Shape) -> tuple[int, int]:
    """``(fan_in, fan_out)`` of a kernel shape (receptive field = product of leading dims)."""
    if len(shape) == 0:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    receptive = int(np.prod(shape[:-2])) if len(shape) > 2 else 1
    return shape[-2] * receptive, shape[-1] * receptive


class Initializer:
    """Base class: stores its arguments; ``__call__(shape, rng)`` draws the array."""

    def __call__(self, shape: Shape, rng: np.random.Generator) -> np.ndarray:
        raise NotImplementedError

    def get_config(self) -> dict[str, Any]:
        return {}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Initializer:
        return cls(**config)


@INITIALIZERS.register()
class Zeros(Initializer):
    """All zeros (Keras' default bias)."""

    def __call__(self, shape: Shape, rng: np.random.Generator) -> np.ndarray:
        return np.zeros(shape, dtype=np.float32)


@INITIALIZERS.register()
class Ones(Initializer):
    """All ones (batch-norm scale and moving variance)."""

    def __call__(self, shape: Shape, rng: np.random.Generator) -> np.ndarray:
        return np.ones(shape, dtype=np.float32)


@INITIALIZERS.register()
class Constant(Initializer):
    """Every element ``value``."""

    def __init__(self, value: float = 0.0) -> None:
        self.value = float(value)

    def __call__(self, shape: Shape, rng: np.random.Generator) -> np.ndarray:
        return np.full(shape, self.value, dtype=np.float32)

    def get_config(self) -> dict[str, Any]:
        return {"value": self.value}


@INITIALIZERS.register()
class RandomNormal(Initializer):
    """Normal with the given mean and standard deviation."""

    def __init__(self, mean: float = 0.0, stddev: float = 0.05) -> None:
        self.mean, self.stddev = float(mean), float(stddev)

    def __call__(self, shape: Shape, rng: np.random.Generator) -> np.ndarray:
        return rng.normal(self.mean, self.stddev, size=shape).astype(np.float32)

    def get_config(self) -> dict[str, Any]:
        return {"mean": self.mean, "stddev": self.stddev}


@INITIALIZERS.register()
class RandomUniform(Initializer):
    """Uniform on ``[minval, maxval)``."""

    def __init__(self, minval: float = -0.05, maxval: float = 0.05) -> None:
        self.minval, self.maxval = float(minval), float(maxval)

    def __call__(self, shape: Shape, rng: np.random.Generator) -> np.ndarray:
        return rng.uniform(self.minval, self.maxval, size=shape).astype(np.float32)

    def get_config(self) -> dict[str, Any]:
        return {"minval": self.minval, "maxval": self.maxval}


class VarianceScaling(Initializer):
    """Variance ``scale / n`` where n is fan_in, fan_out or their mean (Keras' family).

    ``distribution="uniform"`` draws from ``[-limit, limit)``, ``limit = sqrt(3 scale / n)``;
    ``"normal"`` draws a normal truncated at two standard deviations, rescaled (as Keras) so
    the variance is still ``scale / n``.
    """

    mode = "fan_avg"
    distribution = "uniform"
    scale = 1.0

    def __call__(self, shape: Shape, rng: np.random.Generator) -> np.ndarray:
        fan_in, fan_out = compute_fans(shape)
        n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2}[self.mode]
        var = self.scale / max(1.0, n)
        if self.distribution == "uniform":
            limit = math.sqrt(3.0 * var)
            return rng.uniform(-limit, limit, size=shape).astype(np.float32)
        std = math.sqrt(var) / 0.87962566103423978  # std of a unit normal truncated at +-2
        out = rng.normal(0.0, 1.0, size=shape)
        bad = np.abs(out) > 2.0
        while bad.any():  # redraw the tails; the loop runs a handful of vectorised passes
            out[bad] = rng.normal(0.0, 1.0, size=int(bad.sum()))
            bad = np.abs(out) > 2.0
        return (out * std).astype(np.float32)


@INITIALIZERS.register()
class GlorotUniform(VarianceScaling):
    """Keras' default kernel initializer: uniform, limit ``sqrt(6 / (fan_in + fan_out))``."""


@INITIALIZERS.register()
class GlorotNormal(VarianceScaling):
    """Truncated normal, variance ``2 / (fan_in + fan_out)``."""
    distribution = "normal"


@INITIALIZERS.register()
class HeUniform(VarianceScaling):
    """Uniform, variance ``2 / fan_in`` (for ReLU networks)."""
    mode, scale = "fan_in", 2.0


@INITIALIZERS.register()
class HeNormal(VarianceScaling):
    """Truncated normal, variance ``2 / fan_in`` (for ReLU networks)."""
    mode, scale, distribution = "fan_in", 2.0, "normal"


@INITIALIZERS.register()
class LecunNormal(VarianceScaling):
    """Truncated normal, variance ``1 / fan_in``."""
    mode, distribution = "fan_in", "normal"


def get(identifier: Any) -> Initializer:
    """An initializer from a name (``"glorot_uniform"``, ``"he_normal"``...), config or object."""
    init = INITIALIZERS.get(identifier)
    if not callable(init):
        raise ValueError(f"initializer must be a name or a callable, got {identifier!r}")
    return init


def serialize(init: Initializer) -> Any:
    return INITIALIZERS.serialize(init)
