"""Layer runs that the engine computes as one fused op.

``BatchNormalization -> ReLU -> MaxPool2D(2)`` (the block of the default preset) runs as
``autodiff.batch_norm_relu_max_pool2d``, and ``BatchNormalization -> ReLU`` with no such pool
after it as ``autodiff.batch_norm(..., activation="relu")``: the same values and gradients as
the layers one after the other, in fewer passes over the activations. The layers, their weights, their
saved form and ``summary()`` stay as they are; only the forward pass takes the shortcut.
"""

from __future__ import annotations

from collections.abc import Sequence

from smearnet import autodiff as ad
from smearnet.autodiff import Tensor

from . import activations
from .layers.base import Layer


def _is_plain_relu(layer: Layer) -> bool:
    from .layers.core import Activation, ReLU

    if type(layer) is ReLU:
        return layer.negative_slope == 0.0 and layer.max_value is None
    return type(layer) is Activation and layer.activation is activations.relu


def _is_pool_2x2(layer: Layer) -> bool:
    from .layers.pooling import MaxPool2D

    return (isinstance(layer, MaxPool2D) and tuple(layer.pool_size) == (2, 2)
            and tuple(layer.strides) == (2, 2) and layer.padding == "valid")


def _is_channel_bn(layer: Layer) -> bool:
    from .layers.normalization import BatchNormalization

    return (type(layer) is BatchNormalization and layer.axis in (-1, 3)
            and layer.center and layer.scale)


def fused_length(layers: Sequence[Layer], i: int) -> int:
    """How many layers starting at ``layers[i]`` run as one fused op (0: none)."""
    if not (i + 1 < len(layers) and _is_channel_bn(layers[i]) and _is_plain_relu(layers[i + 1])):
        return 0
    return 3 if i + 2 < len(layers) and _is_pool_2x2(layers[i + 2]) else 2


def run_fused(layers: Sequence[Layer], i: int, x: Tensor, training: bool) -> Tensor:
    """Apply the fused run that starts at ``layers[i]`` (see :func:`fused_length`)."""
    bn = layers[i]
    if fused_length(layers, i) == 2:
        return ad.batch_norm(x, bn.gamma, bn.beta, bn.moving_mean, bn.moving_variance,
                             training=training and bn.trainable, momentum=bn.momentum,
                             eps=bn.epsilon, activation="relu")
    return ad.batch_norm_relu_max_pool2d(x, bn.gamma, bn.beta, bn.moving_mean, bn.moving_variance,
                                         training=training and bn.trainable, momentum=bn.momentum,
                                         eps=bn.epsilon)
