"""Activation functions by name: ``Dense(256, activation="relu")``.

Each is a function ``Tensor -> Tensor`` built from the engine's ops; ``get(None)`` and
``get("linear")`` give the identity.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .. import autodiff as ad
from ..autodiff import Tensor
from .registry import ACTIVATIONS

Activation = Callable[[Tensor], Tensor]


def _register(*aliases: str) -> Callable[[Activation], Activation]:
    return ACTIVATIONS.register(*aliases)


@_register("identity", "none")
def linear(x: Tensor) -> Tensor:
    """Identity."""
    return x


@_register()
def relu(x: Tensor) -> Tensor:
    """``max(x, 0)``."""
    return ad.relu(x)


@_register()
def sigmoid(x: Tensor) -> Tensor:
    """``1 / (1 + e^-x)`` (overflow-free)."""
    return ad.sigmoid(x)


@_register()
def tanh(x: Tensor) -> Tensor:
    """Hyperbolic tangent."""
    return ad.tanh(x)


@_register("silu")
def swish(x: Tensor) -> Tensor:
    """``x * sigmoid(x)``."""
    return x * ad.sigmoid(x)


@_register()
def leaky_relu(x: Tensor) -> Tensor:
    """``max(x, 0.2 x)`` (Keras' default slope 0.2)."""
    return ad.maximum(x, x * 0.2)


@_register()
def softmax(x: Tensor) -> Tensor:
    """Softmax over the last axis (shifted by the row max, so it never overflows)."""
    shifted = x - x.data.max(axis=-1, keepdims=True)  # a constant shift: softmax ignores it
    e = ad.exp(shifted)
    return e / ad.sum(e, axis=-1, keepdims=True)


def get(identifier: Any) -> Activation:
    """An activation from a name, a registered function, None (identity) or any callable."""
    if identifier is None:
        return linear
    fn = ACTIVATIONS.get(identifier)
    if not callable(fn):
        raise ValueError(f"activation must be a name or a callable, got {identifier!r}")
    return fn


def serialize(fn: Activation) -> str:
    """The registered name of ``fn`` (for layer configs)."""
    name = ACTIVATIONS.serialize(fn)
    if not isinstance(name, str):
        raise ValueError(f"activation {fn!r} is not a registered function")
    return name
