"""smearnet: a NumPy autodiff engine, a Keras-style neural-network library on it, and a malaria
thin-smear cell classifier built on both."""

__version__ = "0.1.0"

from ._kernels import pin_openblas_kernels  # noqa: E402 - before NumPy loads OpenBLAS

pin_openblas_kernels()

from .nn import (Sequential, callbacks, layers, load_checkpoint, load_model, losses,  # noqa: E402
                 metrics, optimizers)

__all__ = ["Sequential", "layers", "optimizers", "losses", "metrics", "callbacks", "load_model",
           "load_checkpoint", "__version__"]
