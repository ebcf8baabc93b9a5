"""Keras-style layers: ``smearnet.layers.Conv2D(128, (3, 3), strides=2, activation="relu")``.

Every layer checks its arguments in ``__init__``, creates its weights when the input shape is
known, and takes ``training`` explicitly in ``call``.
"""

from ..registry import LAYERS
from .base import Layer
from .conv import Conv2D
from .core import Activation, Dense, Dropout, Flatten, InputLayer, ReLU, Rescaling
from .normalization import BatchNormalization
from .pooling import (AveragePooling2D, AvgPool2D, GlobalAveragePooling2D, GlobalAvgPool2D,
                      MaxPool2D, MaxPooling2D)

Convolution2D = Conv2D
register = LAYERS.register

__all__ = [
    "Layer", "InputLayer", "Dense", "Flatten", "Dropout", "Activation", "ReLU", "Rescaling",
    "Conv2D", "Convolution2D", "MaxPool2D", "MaxPooling2D", "AveragePooling2D", "AvgPool2D",
    "GlobalAveragePooling2D", "GlobalAvgPool2D", "BatchNormalization", "register",
]
