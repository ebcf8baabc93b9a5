"""smearnet's reverse-mode automatic differentiation engine on NumPy.

Every op is a function here (``add``, ``conv2d``, ...) and many are also Tensor methods and
operators. Tensors are float32; gradients flow backwards as vector-Jacobian products.
"""

from . import methods as _methods  # noqa: F401  (binds operators to Tensor)
from .conv import conv2d, conv_output_size
from .dropout import dropout
from .fused import batch_norm_relu_max_pool2d
from .gradcheck import gradcheck
from .losses import binary_cross_entropy, binary_cross_entropy_with_logits, mse_loss
from .math import (abs, add, clip, div, exp, log, matmul, maximum, mul, neg, non_differentiable,
                   pow, relu, round, sigmoid, sign, sqrt, sub, tanh, unbroadcast)
from .norm import batch_norm
from .pool import avg_pool2d, global_avg_pool2d, max_pool2d
from .reduce import max, mean, sum
from .shape import concatenate, flatten, getitem, pad, reshape, stack, transpose
from .memory import tune_allocator
from .tensor import (NoGradientError, Tensor, default_dtype, is_grad_enabled, make, no_grad,
                     precision, tensor, to_tensor)

tune_allocator()  # keep large freed buffers in the process: no page faults every step

__all__ = [
    "Tensor", "tensor", "to_tensor", "make", "no_grad", "is_grad_enabled", "precision",
    "default_dtype", "NoGradientError", "gradcheck", "unbroadcast",
    "add", "sub", "mul", "div", "neg", "pow", "exp", "log", "sqrt", "abs", "relu", "sigmoid",
    "tanh", "maximum", "clip", "matmul", "round", "sign", "non_differentiable",
    "sum", "mean", "max", "reshape", "flatten", "transpose", "getitem", "concatenate", "stack",
    "pad",
    "conv2d", "conv_output_size", "max_pool2d", "avg_pool2d", "global_avg_pool2d", "batch_norm",
    "batch_norm_relu_max_pool2d", "dropout", "binary_cross_entropy_with_logits", "binary_cross_entropy", "mse_loss",
]
