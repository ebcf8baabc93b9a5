"""Core layers: InputLayer, Dense, Flatten, Dropout, Activation, ReLU, Rescaling."""

from __future__ import annotations

from typing import Any

import numpy as np

from ... import autodiff as ad
from ...autodiff import Tensor
from .. import activations, initializers
from ..registry import LAYERS
from .base import INIT_STREAM, NOISE_STREAM, Layer, Shape, check_positive_int


@LAYERS.register()
class InputLayer(Layer):
    """Declares the shape of one sample: ``InputLayer(input_shape=(133, 133, 3))``.

    In a ``Sequential`` it only fixes the input shape (so the model builds at once); it is
    not listed in ``model.layers`` and has no weights. ``shape=`` is accepted as a synonym.
    """

    def __init__(self, input_shape: Any = None, shape: Any = None, **kwargs: Any) -> None:
        if (input_shape is None) == (shape is None):
            raise ValueError("InputLayer needs exactly one of input_shape= or shape=, "
                             f"got input_shape={input_shape!r}, shape={shape!r}")
        super().__init__(input_shape=input_shape if shape is None else shape, **kwargs)

    def call(self, x: Tensor, training: bool) -> Tensor:
        return x


@LAYERS.register()
class Dense(Layer):
    """Fully connected: ``activation(x @ kernel + bias)`` over the last axis.

    Shape: ``(N, ..., in) -> (N, ..., units)``; kernel ``(in, units)`` (glorot-uniform by
    default), bias ``(units,)`` (zeros). Example: ``Dense(256)`` on ``(N, 576)`` has
    576 * 256 + 256 = 147,712 parameters.
    """

    def __init__(self, units: int, activation: Any = None, use_bias: bool = True,
                 kernel_initializer: Any = "glorot_uniform", bias_initializer: Any = "zeros",
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.units = check_positive_int(units, "Dense units")
        self.activation = activations.get(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        if len(input_shape) < 1:
            raise ValueError(f"Dense needs inputs with a feature axis, got sample shape {input_shape}")
        return (*input_shape[:-1], self.units)

    def build(self, input_shape: Shape) -> None:
        rng = self.rng(INIT_STREAM)
        self.kernel = self.add_weight("kernel", (input_shape[-1], self.units), self.kernel_initializer, rng)
        self.bias = self.add_weight("bias", (self.units,), self.bias_initializer, rng) if self.use_bias else None

    def call(self, x: Tensor, training: bool) -> Tensor:
        out = ad.matmul(x, self.kernel)
        if self.bias is not None:
            out = out + self.bias
        return self.activation(out)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "units": self.units,
                "activation": activations.serialize(self.activation), "use_bias": self.use_bias,
                "kernel_initializer": initializers.serialize(self.kernel_initializer),
                "bias_initializer": initializers.serialize(self.bias_initializer)}


@LAYERS.register()
class Flatten(Layer):
    """``(N, d1, d2, ...) -> (N, d1 * d2 * ...)`` in row-major (NHWC) order."""

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        return (int(np.prod(input_shape)),)

    def call(self, x: Tensor, training: bool) -> Tensor:
        return ad.reshape(x, (x.shape[0], -1))


@LAYERS.register()
class Dropout(Layer):
    """Inverted dropout: in training, zero each value with probability ``rate`` and scale the
    rest by ``1 / (1 - rate)``; the identity when ``training`` is False.

    The noise comes from the model's seed (or ``seed`` when given) and ``fit`` restarts it at
    every epoch from (seed, layer, epoch), so a resumed run draws the same masks.
    Shape: unchanged.
    """

    def __init__(self, rate: float, seed: int | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0.0 <= rate < 1.0:
            raise ValueError(f"Dropout rate must be a number in [0, 1), got {rate!r}")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0):
            raise ValueError(f"Dropout seed must be a non-negative int or None, got {seed!r}")
        self.rate = float(rate)
        self.seed = None if seed is None else int(seed)
        self._noise: np.random.Generator | None = None

    def reseed(self, *extra: int) -> None:
        if self.seed is not None:
            self._noise = np.random.default_rng(np.random.SeedSequence((self.seed, NOISE_STREAM, *extra)))
        else:
            self._noise = self.rng(NOISE_STREAM, *extra)

    def call(self, x: Tensor, training: bool) -> Tensor:
        if not training or self.rate == 0.0:
            return x
        if self._noise is None:
            self.reseed()
        return ad.dropout(x, self.rate, training, self._noise)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "rate": self.rate, "seed": self.seed}


@LAYERS.register()
class Activation(Layer):
    """Apply an activation by name or function: ``Activation("relu")``. Shape: unchanged."""

    def __init__(self, activation: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.activation = activations.get(activation)

    def call(self, x: Tensor, training: bool) -> Tensor:
        return self.activation(x)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "activation": activations.serialize(self.activation)}


@LAYERS.register()
class ReLU(Layer):
    """``min(max(x, negative_slope * x), max_value)``; plain ReLU by default. Shape: unchanged."""

    def __init__(self, max_value: float | None = None, negative_slope: float = 0.0,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if max_value is not None and not max_value >= 0:
            raise ValueError(f"ReLU max_value must be >= 0, got {max_value!r}")
        if not 0.0 <= negative_slope <= 1.0:
            raise ValueError(f"ReLU negative_slope must be in [0, 1], got {negative_slope!r}")
        self.max_value = None if max_value is None else float(max_value)
        self.negative_slope = float(negative_slope)

    def call(self, x: Tensor, training: bool) -> Tensor:
        out = ad.relu(x) if self.negative_slope == 0.0 else ad.maximum(x, x * self.negative_slope)
        if self.max_value is not None:
            out = ad.clip(out, -np.inf, self.max_value)
        return out

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "max_value": self.max_value,
                "negative_slope": self.negative_slope}


@LAYERS.register()
class Rescaling(Layer):
    """``x * scale + offset``, e.g. ``Rescaling(1 / 255)`` for uint8 images. Shape: unchanged."""

    def __init__(self, scale: float, offset: float = 0.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.scale, self.offset = float(scale), float(offset)

    def call(self, x: Tensor, training: bool) -> Tensor:
        out = x * self.scale
        return out + self.offset if self.offset else out

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "scale": self.scale, "offset": self.offset}
