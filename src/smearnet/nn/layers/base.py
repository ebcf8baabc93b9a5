"""The layer contract (Keras'): arguments are checked in ``__init__``; weights are created by
``build`` once the input shape is known; ``call(x, training)`` takes ``training`` explicitly.

A layer holds parameters (``Tensor`` with ``requires_grad``) and non-trainable state (plain
float32 arrays such as batch-norm running statistics); the math lives in
``smearnet.autodiff`` functions. Randomness comes from ``self.seed_entropy``, which the model
sets from its own seed and the layer's position, so a layer draws the same weights however
and whenever the model is built.
"""

from __future__ import annotations

import contextlib
import contextvars
import re
from collections.abc import Iterator
from typing import Any

import numpy as np

from ... import autodiff as ad
from ...autodiff import Tensor
from .. import initializers

Shape = tuple[int, ...]

INIT_STREAM, NOISE_STREAM = 0, 1  # sub-streams of a layer's seed: weights vs. dropout noise

_skip_init = contextvars.ContextVar("skip_init", default=False)


@contextlib.contextmanager
def skip_initializers() -> Iterator[None]:
    """Build layers with zero-filled weights, no random draws (loading overwrites them all)."""
    token = _skip_init.set(True)
    try:
        yield
    finally:
        _skip_init.reset(token)


def _initial_value(initializer: Any, shape: Shape, rng: np.random.Generator) -> np.ndarray:
    if _skip_init.get():
        return np.zeros(shape, dtype=np.float32)
    return np.asarray(initializers.get(initializer)(shape, rng), dtype=np.float32)


def snake_case(name: str) -> str:
    """``"MaxPooling2D" -> "max_pooling2d"``, ``"Conv2D" -> "conv2d"`` (Keras' default names)."""
    s = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", s).lower()


def check_positive_int(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{what} must be a positive integer, got {value!r}")
    return int(value)


def check_pair(value: Any, what: str) -> tuple[int, int]:
    """An int or a pair of positive ints, as Keras' ``kernel_size`` / ``strides`` / ``pool_size``."""
    pair = (value, value) if isinstance(value, (int, np.integer)) and not isinstance(value, bool) else value
    try:
        pair = tuple(pair)
    except TypeError:
        raise ValueError(f"{what} must be an int or a pair of ints, got {value!r}") from None
    if len(pair) != 2:
        raise ValueError(f"{what} must be an int or a pair of ints, got {value!r}")
    return check_positive_int(pair[0], what), check_positive_int(pair[1], what)


def check_padding(value: Any) -> str:
    if not isinstance(value, str) or value.lower() not in ("valid", "same"):
        raise ValueError(f"padding must be 'valid' or 'same', got {value!r}")
    return value.lower()


class Layer:
    """Base class of every layer.

    Args:
        name: unique name inside a model (the model assigns ``snake_case(class)`` + ``_k``
            when None); weights are saved as ``"<name>.<weight>"``.
        input_shape: the shape of one sample (no batch axis), accepted on the first layer of a
            ``Sequential`` as in Keras.
        trainable: False freezes the layer's parameters (the optimizer skips them).
    """

    def __init__(self, name: str | None = None, input_shape: Any = None,
                 trainable: bool = True) -> None:
        if name is not None and (not isinstance(name, str) or not name or "." in name):
            raise ValueError(f"layer name must be a non-empty string without '.', got {name!r}")
        self.name = name
        self.input_shape_arg: Shape | None = None
        if input_shape is not None:
            self.input_shape_arg = tuple(check_positive_int(d, "input_shape entries") for d in input_shape)
        self.trainable = bool(trainable)
        self.built = False
        self.input_shape: Shape | None = None
        self.output_shape: Shape | None = None
        self.seed_entropy: tuple[int, ...] = (0,)
        self._params: dict[str, Tensor] = {}
        self._state: dict[str, np.ndarray] = {}

    # -- weights ----------------------------------------------------------------------------
    def add_weight(self, wname: str, shape: Shape, initializer: Any,
                   rng: np.random.Generator) -> Tensor:
        """Create a trainable parameter, drawn by ``initializer`` from ``rng``."""
        value = _initial_value(initializer, tuple(shape), rng)
        p = Tensor(value, requires_grad=True, name=f"{self.name}.{wname}")
        self._params[wname] = p
        return p

    def add_state(self, sname: str, shape: Shape, initializer: Any,
                  rng: np.random.Generator) -> np.ndarray:
        """Create a non-trainable float32 array that is saved with the weights."""
        value = np.ascontiguousarray(_initial_value(initializer, tuple(shape), rng))
        self._state[sname] = value
        return value

    @property
    def trainable_weights(self) -> list[Tensor]:
        return list(self._params.values()) if self.trainable else []

    @property
    def parameters(self) -> list[Tensor]:
        """Every parameter Tensor, frozen or not."""
        return list(self._params.values())

    def named_weights(self) -> dict[str, np.ndarray]:
        """``{"<weight>": array}``: parameters then state, in creation order (Keras' order)."""
        out = {k: p.data for k, p in self._params.items()}
        out.update(self._state)
        return out

    def count_params(self) -> tuple[int, int]:
        """``(trainable, non_trainable)`` element counts."""
        n_params = sum(p.size for p in self._params.values())
        n_state = sum(a.size for a in self._state.values())
        return (n_params, n_state) if self.trainable else (0, n_params + n_state)

    def get_weights(self) -> list[np.ndarray]:
        return [a.copy() for a in self.named_weights().values()]

    def set_weights(self, weights: list[np.ndarray]) -> None:
        """Copy values in, in ``get_weights`` order; shapes must match exactly."""
        names = list(self.named_weights())
        if len(weights) != len(names):
            raise ValueError(f"layer {self.name!r} has {len(names)} weights, got {len(weights)}")
        for wname, value in zip(names, weights):
            self.assign(wname, value)

    def assign(self, wname: str, value: Any) -> None:
        """Overwrite weight ``wname`` in place (keeps the optimizer's references valid)."""
        value = np.asarray(value)
        target = self._params[wname].data if wname in self._params else self._state[wname]
        if value.shape != target.shape:
            raise ValueError(f"weight {self.name}.{wname} has shape {target.shape}, got {value.shape}")
        target[...] = value

    # -- building and calling ---------------------------------------------------------------
    def rng(self, stream: int, *extra: int) -> np.random.Generator:
        """A generator for one purpose, derived from this layer's seed entropy."""
        return np.random.default_rng(np.random.SeedSequence(self.seed_entropy + (stream, *extra)))

    def build(self, input_shape: Shape) -> None:
        """Create weights for samples of ``input_shape`` (no batch axis). Default: none."""

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        """Shape of one output sample for one input sample of ``input_shape``."""
        return input_shape

    def ensure_built(self, input_shape: Shape) -> None:
        input_shape = tuple(int(d) for d in input_shape)
        if self.built:
            if input_shape != self.input_shape:
                raise ValueError(f"layer {self.name!r} was built for inputs of shape {self.input_shape}, "
                                 f"got {input_shape}")
            return
        if self.name is None:
            self.name = snake_case(type(self).__name__)
        self.output_shape = tuple(self.compute_output_shape(input_shape))
        self.build(input_shape)
        self.input_shape = input_shape
        self.built = True

    def call(self, x: Tensor, training: bool) -> Tensor:
        raise NotImplementedError

    def __call__(self, x: Any, training: bool = False) -> Tensor:
        """Apply the layer to a batch ``x`` (batch axis first); builds on the first call."""
        x = ad.to_tensor(x)
        if x.ndim < 1:
            raise ValueError(f"layer {self.name!r} needs a batch of inputs, got a scalar")
        self.ensure_built(x.shape[1:])
        return self.call(x, training=bool(training))

    def reseed(self, *extra: int) -> None:
        """Restart this layer's noise stream (dropout) at a point derived from ``extra``."""

    # -- config -----------------------------------------------------------------------------
    def get_config(self) -> dict[str, Any]:
        """Constructor arguments as JSON-able values (``from_config`` inverts it)."""
        config: dict[str, Any] = {"name": self.name, "trainable": self.trainable}
        if self.input_shape_arg is not None:
            config["input_shape"] = list(self.input_shape_arg)
        return config

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Layer:
        return cls(**config)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"
