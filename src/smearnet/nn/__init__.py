"""smearnet.nn: a Keras-style neural-network library on ``smearnet.autodiff``.

``Sequential``, ``layers``, ``optimizers``, ``losses``, ``metrics``, ``callbacks``,
``load_model`` (also re-exported as ``smearnet.Sequential`` etc.). Layers hold parameters and
call autodiff functions; optimizers receive parameter lists; names such as ``"adam"``,
``"mse"`` or ``"accuracy"`` resolve through :mod:`smearnet.nn.registry`.
"""

from . import activations, callbacks, initializers, layers, losses, metrics, optimizers, registry, schedules
from .callbacks import History
from .model import Sequential
from .saving import Checkpoint, ModelFileError, load_checkpoint, load_model, save_checkpoint, save_model
from .training import NonFiniteLossError

__all__ = [
    "Sequential", "layers", "optimizers", "losses", "metrics", "callbacks", "schedules",
    "activations", "initializers", "registry", "load_model", "save_model", "load_checkpoint",
    "save_checkpoint", "Checkpoint", "ModelFileError", "NonFiniteLossError", "History",
]
