"""Conv2D: a layer holding an HWIO kernel and a bias; the math is ``autodiff.conv2d``."""

from __future__ import annotations

from typing import Any

from ... import autodiff as ad
from ...autodiff import Tensor
from .. import activations, initializers
from ..registry import LAYERS
from .base import INIT_STREAM, Layer, Shape, check_pair, check_padding, check_positive_int


@LAYERS.register("Convolution2D")
class Conv2D(Layer):
    """2-D convolution over NHWC images, as Keras ``Conv2D`` (channels last only).

    Shape: ``(N, H, W, C) -> (N, OH, OW, filters)`` with, per spatial dim,
    ``OH = (H - KH) // stride + 1`` for ``"valid"`` and ``ceil(H / stride)`` for ``"same"``.
    Kernel ``(KH, KW, C, filters)`` (glorot-uniform), bias ``(filters,)`` (zeros).
    Example: ``Conv2D(128, (3, 3), strides=(2, 2), activation="relu")`` on 133x133x3 gives
    66x66x128 with 3*3*3*128 + 128 = 3,584 parameters.
    """

    def __init__(self, filters: int, kernel_size: Any, strides: Any = (1, 1),
                 padding: str = "valid", activation: Any = None, use_bias: bool = True,
                 kernel_initializer: Any = "glorot_uniform", bias_initializer: Any = "zeros",
                 data_format: str | None = None, dilation_rate: Any = (1, 1), **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if data_format not in (None, "channels_last"):
            raise ValueError(f"Conv2D supports data_format='channels_last' only, got {data_format!r}")
        if check_pair(dilation_rate, "dilation_rate") != (1, 1):
            raise ValueError(f"Conv2D does not support dilation, got dilation_rate={dilation_rate!r}")
        self.filters = check_positive_int(filters, "Conv2D filters")
        self.kernel_size = check_pair(kernel_size, "Conv2D kernel_size")
        self.strides = check_pair(strides, "Conv2D strides")
        self.padding = check_padding(padding)
        self.activation = activations.get(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        if len(input_shape) != 3:
            raise ValueError(f"Conv2D needs samples of shape (H, W, C), got {input_shape}")
        h, w, _ = input_shape
        try:
            oh = ad.conv_output_size(h, self.kernel_size[0], self.strides[0], self.padding)
            ow = ad.conv_output_size(w, self.kernel_size[1], self.strides[1], self.padding)
        except ValueError as e:
            raise ValueError(f"Conv2D {self.name!r} on input {input_shape}: {e}") from None
        return (oh, ow, self.filters)

    def build(self, input_shape: Shape) -> None:
        rng = self.rng(INIT_STREAM)
        shape = (*self.kernel_size, input_shape[-1], self.filters)
        self.kernel = self.add_weight("kernel", shape, self.kernel_initializer, rng)
        self.bias = self.add_weight("bias", (self.filters,), self.bias_initializer, rng) if self.use_bias else None

    def call(self, x: Tensor, training: bool) -> Tensor:
        if self.activation is activations.relu:  # the engine fuses conv + bias + relu into one op
            return ad.conv2d(x, self.kernel, self.bias, stride=self.strides, padding=self.padding,
                             activation="relu")
        out = ad.conv2d(x, self.kernel, self.bias, stride=self.strides, padding=self.padding)
        return self.activation(out)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "filters": self.filters, "kernel_size": list(self.kernel_size),
                "strides": list(self.strides), "padding": self.padding,
                "activation": activations.serialize(self.activation), "use_bias": self.use_bias,
                "kernel_initializer": initializers.serialize(self.kernel_initializer),
                "bias_initializer": initializers.serialize(self.bias_initializer)}
