"""Pooling layers over NHWC images: MaxPool2D, AveragePooling2D, GlobalAveragePooling2D."""

from __future__ import annotations

from typing import Any

from ... import autodiff as ad
from ...autodiff import Tensor
from ..registry import LAYERS
from .base import Layer, Shape, check_pair, check_padding


class _Pool2D(Layer):
    """Shared arguments: ``pool_size`` (int or pair), ``strides`` (default ``pool_size``),
    ``padding`` ("valid" or "same").

    Shape: ``(N, H, W, C) -> (N, OH, OW, C)``, ``OH = (H - pool) // stride + 1`` ("valid")
    or ``ceil(H / stride)`` ("same"). Example: ``MaxPool2D((2, 2), strides=2)`` on 66x66x128
    gives 33x33x128.
    """

    def __init__(self, pool_size: Any = (2, 2), strides: Any = None, padding: str = "valid",
                 data_format: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if data_format not in (None, "channels_last"):
            raise ValueError(f"{type(self).__name__} supports data_format='channels_last' only, "
                             f"got {data_format!r}")
        self.pool_size = check_pair(pool_size, "pool_size")
        self.strides = self.pool_size if strides is None else check_pair(strides, "strides")
        self.padding = check_padding(padding)

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        if len(input_shape) != 3:
            raise ValueError(f"{type(self).__name__} needs samples of shape (H, W, C), got {input_shape}")
        h, w, c = input_shape
        try:
            return (ad.conv_output_size(h, self.pool_size[0], self.strides[0], self.padding),
                    ad.conv_output_size(w, self.pool_size[1], self.strides[1], self.padding), c)
        except ValueError as e:
            raise ValueError(f"{type(self).__name__} {self.name!r} on input {input_shape}: {e}") from None

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "pool_size": list(self.pool_size),
                "strides": list(self.strides), "padding": self.padding}


@LAYERS.register("MaxPool2D")
class MaxPooling2D(_Pool2D):
    __doc__ = "Maximum over each window. " + (_Pool2D.__doc__ or "")

    def call(self, x: Tensor, training: bool) -> Tensor:
        return ad.max_pool2d(x, self.pool_size, self.strides, self.padding)


MaxPool2D = MaxPooling2D


@LAYERS.register("AvgPool2D")
class AveragePooling2D(_Pool2D):
    __doc__ = ("Mean over each window (with 'same' padding, over the valid pixels only). "
               + (_Pool2D.__doc__ or ""))

    def call(self, x: Tensor, training: bool) -> Tensor:
        return ad.avg_pool2d(x, self.pool_size, self.strides, self.padding)


AvgPool2D = AveragePooling2D


@LAYERS.register("GlobalAvgPool2D")
class GlobalAveragePooling2D(Layer):
    """Mean over height and width. Shape: ``(N, H, W, C) -> (N, C)``."""

    def __init__(self, data_format: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if data_format not in (None, "channels_last"):
            raise ValueError(f"GlobalAveragePooling2D supports channels_last only, got {data_format!r}")

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        if len(input_shape) != 3:
            raise ValueError(f"GlobalAveragePooling2D needs samples (H, W, C), got {input_shape}")
        return (input_shape[-1],)

    def call(self, x: Tensor, training: bool) -> Tensor:
        return ad.global_avg_pool2d(x)


GlobalAvgPool2D = GlobalAveragePooling2D
