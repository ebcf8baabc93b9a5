"""Losses: ``loss(y_true, y_pred) -> scalar Tensor`` (the batch mean), resolved by name.

The math is the engine's fused, numerically stable ops (``autodiff.mse_loss``,
``binary_cross_entropy[_with_logits]``). Targets of shape ``(N,)`` against predictions
``(N, 1)`` are reshaped, never broadcast.
"""

from __future__ import annotations

from typing import Any

from .. import autodiff as ad
from ..autodiff import Tensor
from .registry import LOSSES


class Loss:
    """Base class. ``from_logits`` tells metrics where the decision threshold lies (0 for
    logits, 0.5 otherwise)."""

    from_logits = False

    def __call__(self, y_true: Any, y_pred: Tensor) -> Tensor:
        return self.call(y_true, ad.to_tensor(y_pred))

    def call(self, y_true: Any, y_pred: Tensor) -> Tensor:
        raise NotImplementedError

    def get_config(self) -> dict[str, Any]:
        return {}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Loss:
        return cls(**config)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.get_config()})"


@LOSSES.register("mse", "mean_squared_error")
class MeanSquaredError(Loss):
    """Mean of ``(y_pred - y_true)^2`` over every element. Shape: any -> scalar."""

    def call(self, y_true: Any, y_pred: Tensor) -> Tensor:
        return ad.mse_loss(y_pred, y_true)


@LOSSES.register("mae", "mean_absolute_error")
class MeanAbsoluteError(Loss):
    """Mean of ``|y_pred - y_true|``. Shape: any -> scalar."""

    def call(self, y_true: Any, y_pred: Tensor) -> Tensor:
        t = ad.to_tensor(y_true)
        if t.shape != y_pred.shape:
            if t.size != y_pred.size:
                raise ValueError(f"targets of shape {t.shape} do not match predictions {y_pred.shape}")
            t = ad.reshape(t, y_pred.shape)
        return ad.mean(ad.abs(y_pred - t))


@LOSSES.register("binary_crossentropy", "bce", "binary_cross_entropy")
class BinaryCrossentropy(Loss):
    """Binary cross-entropy, mean over elements.

    Args:
        from_logits: True when the model ends without a sigmoid (recommended: the loss is then
            computed from the logit, finite for any value); False for probabilities, clipped
            to ``[1e-7, 1 - 1e-7]``.
        label_smoothing: targets become ``t (1 - s) + s / 2``.
    """

    def __init__(self, from_logits: bool = False, label_smoothing: float = 0.0) -> None:
        if not 0.0 <= label_smoothing <= 1.0:
            raise ValueError(f"label_smoothing must be in [0, 1], got {label_smoothing!r}")
        self.from_logits = bool(from_logits)
        self.label_smoothing = float(label_smoothing)

    def call(self, y_true: Any, y_pred: Tensor) -> Tensor:
        if self.from_logits:
            return ad.binary_cross_entropy_with_logits(y_pred, y_true, label_smoothing=self.label_smoothing)
        return ad.binary_cross_entropy(y_pred, y_true, label_smoothing=self.label_smoothing)

    def get_config(self) -> dict[str, Any]:
        return {"from_logits": self.from_logits, "label_smoothing": self.label_smoothing}


class _Function(Loss):
    """Wraps a plain ``fn(y_true, y_pred) -> Tensor`` so it can be compiled (not saved)."""

    def __init__(self, fn: Any) -> None:
        self.fn = fn

    def call(self, y_true: Any, y_pred: Tensor) -> Tensor:
        return ad.to_tensor(self.fn(y_true, y_pred))

    def __repr__(self) -> str:
        return f"Loss({getattr(self.fn, '__name__', self.fn)!r})"


def mean_squared_error(y_true: Any, y_pred: Any) -> Tensor:
    """Functional form of :class:`MeanSquaredError`."""
    return MeanSquaredError()(y_true, y_pred)


def binary_crossentropy(y_true: Any, y_pred: Any, from_logits: bool = False) -> Tensor:
    """Functional form of :class:`BinaryCrossentropy`."""
    return BinaryCrossentropy(from_logits=from_logits)(y_true, y_pred)


def get(identifier: Any) -> Loss:
    """A Loss from a name (``"mse"``, ``"binary_crossentropy"``), a config, an instance or a
    plain function ``fn(y_true, y_pred)``."""
    loss = LOSSES.get(identifier)
    if isinstance(loss, Loss):
        return loss
    if callable(loss):
        return _Function(loss)
    raise ValueError(f"loss must be a name, a Loss or a callable, got {identifier!r}")
