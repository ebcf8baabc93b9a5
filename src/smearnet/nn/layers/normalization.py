"""BatchNormalization: scale/offset parameters plus running statistics saved with the weights."""

from __future__ import annotations

from typing import Any

from ... import autodiff as ad
from ...autodiff import Tensor
from .. import initializers
from ..registry import LAYERS
from .base import INIT_STREAM, Layer, Shape


@LAYERS.register()
class BatchNormalization(Layer):
    """Normalize each channel (last axis) with batch statistics in training and running
    statistics in inference, as Keras.

    Training updates the running statistics in place:
    ``moving = momentum * moving + (1 - momentum) * batch_stat``, where the batch variance is
    the biased one (divided by n, Keras' convention; PyTorch uses n - 1 and
    ``momentum_torch = 1 - momentum``). ``moving_mean`` and ``moving_variance`` are
    non-trainable weights: ``get_weights``, ``save`` and checkpoints include them.

    Shape: unchanged, ``(N, ..., C)``; gamma, beta, moving_mean, moving_variance ``(C,)``.
    """

    def __init__(self, axis: int = -1, momentum: float = 0.99, epsilon: float = 1e-3,
                 center: bool = True, scale: bool = True, beta_initializer: Any = "zeros",
                 gamma_initializer: Any = "ones", moving_mean_initializer: Any = "zeros",
                 moving_variance_initializer: Any = "ones", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if axis not in (-1,):
            raise ValueError(f"BatchNormalization normalizes the channel axis (-1) only, got axis={axis!r}")
        if not 0.0 <= momentum < 1.0:
            raise ValueError(f"BatchNormalization momentum must be in [0, 1), got {momentum!r}")
        if not epsilon > 0:
            raise ValueError(f"BatchNormalization epsilon must be > 0, got {epsilon!r}")
        self.axis, self.momentum, self.epsilon = axis, float(momentum), float(epsilon)
        self.center, self.scale = bool(center), bool(scale)
        self.beta_initializer = initializers.get(beta_initializer)
        self.gamma_initializer = initializers.get(gamma_initializer)
        self.moving_mean_initializer = initializers.get(moving_mean_initializer)
        self.moving_variance_initializer = initializers.get(moving_variance_initializer)

    def build(self, input_shape: Shape) -> None:
        if len(input_shape) < 1:
            raise ValueError(f"BatchNormalization needs a channel axis, got sample shape {input_shape}")
        c = input_shape[-1]
        rng = self.rng(INIT_STREAM)
        self.gamma = self.add_weight("gamma", (c,), self.gamma_initializer, rng) if self.scale else None
        self.beta = self.add_weight("beta", (c,), self.beta_initializer, rng) if self.center else None
        self.moving_mean = self.add_state("moving_mean", (c,), self.moving_mean_initializer, rng)
        self.moving_variance = self.add_state("moving_variance", (c,), self.moving_variance_initializer, rng)

    def call(self, x: Tensor, training: bool) -> Tensor:
        # A frozen layer (trainable=False) runs in inference mode, as in Keras.
        return ad.batch_norm(x, self.gamma, self.beta, self.moving_mean, self.moving_variance,
                             training=training and self.trainable, momentum=self.momentum,
                             eps=self.epsilon)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "axis": self.axis, "momentum": self.momentum,
                "epsilon": self.epsilon, "center": self.center, "scale": self.scale,
                "beta_initializer": initializers.serialize(self.beta_initializer),
                "gamma_initializer": initializers.serialize(self.gamma_initializer),
                "moving_mean_initializer": initializers.serialize(self.moving_mean_initializer),
                "moving_variance_initializer": initializers.serialize(self.moving_variance_initializer)}
