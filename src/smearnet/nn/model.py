"""``Sequential``: a stack of layers with Keras' compile / fit / evaluate / predict / summary.

Randomness comes from one seed: layer k draws its initial weights from ``(seed, k)`` and its
dropout noise from ``(seed, k, epoch)``; ``fit`` shuffles from ``(seed, epoch)``. The same seed
and data give the same model, and nothing touches NumPy's global random state.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from ..autodiff import Tensor
from . import callbacks as cbks
from . import losses as losses_mod
from . import metrics as metrics_mod
from . import optimizers as optimizers_mod
from . import fusion, training
from .layers.base import Layer, Shape, snake_case
from .layers.core import InputLayer
from .registry import LAYERS, LOSSES, METRICS, OPTIMIZERS


def _fresh_seed() -> int:
    """A seed from the operating system's entropy (recorded in the model's config)."""
    return int(np.random.SeedSequence().generate_state(1)[0])


class Sequential:
    """A linear stack of layers.

    Args:
        layers: layers to add, in order; an ``InputLayer`` (or ``input_shape=`` on the first
            layer) lets the model build at once.
        name: shown by ``summary``.
        seed: int >= 0 for every random draw of this model (None: a fresh seed from the OS,
            kept in ``self.seed`` and in saved files).

    Example::

        model = Sequential([layers.InputLayer(input_shape=(64, 64, 3)),
                            layers.Conv2D(16, 3, activation="relu"),
                            layers.GlobalAveragePooling2D(), layers.Dense(1)], seed=0)
        model.compile(optimizer="adam", loss=losses.BinaryCrossentropy(from_logits=True),
                      metrics=["accuracy", "auc"])
        history = model.fit(x, y, epochs=5, validation_split=0.2)
    """

    def __init__(self, layers: Iterable[Layer] | None = None, name: str | None = None,
                 seed: int | None = None) -> None:
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0):
            raise ValueError(f"seed must be an int >= 0 or None, got {seed!r}")
        self.name = name or "sequential"
        self.seed = _fresh_seed() if seed is None else int(seed)
        self._layers: list[Layer] = []
        self._input_shape: Shape | None = None
        self.optimizer: optimizers_mod.Optimizer | None = None
        self.loss: losses_mod.Loss | None = None
        self.compiled_metrics: list[metrics_mod.Metric] = []
        self.history: cbks.History | None = None
        # {"epoch": k, "states": {state_key: state}} from load_checkpoint; fit(initial_epoch=k)
        # hands each state to the callback with that key (see callbacks.EarlyStopping)
        self.callback_states: dict[str, Any] | None = None
        self.metadata: dict[str, Any] = {}
        self.stop_training = False
        for layer in layers or []:
            self.add(layer)

    # -- structure ----------------------------------------------------------------------------
    @property
    def layers(self) -> list[Layer]:
        return list(self._layers)

    @property
    def built(self) -> bool:
        return self._input_shape is not None and all(layer.built for layer in self._layers)

    @property
    def input_shape(self) -> tuple[int | None, ...] | None:
        return None if self._input_shape is None else (None, *self._input_shape)

    @property
    def output_shape(self) -> tuple[int | None, ...] | None:
        if not self.built:
            return None
        return (None, *(self._layers[-1].output_shape if self._layers else self._input_shape))

    def add(self, layer: Layer) -> None:
        """Append a layer; builds it at once when the input shape is known."""
        if not isinstance(layer, Layer):
            raise ValueError(f"Sequential.add needs a Layer, got {layer!r}")
        if isinstance(layer, InputLayer):
            if self._layers or self._input_shape is not None:
                raise ValueError("InputLayer must come first and only once")
            self._input_shape = layer.input_shape_arg
            return
        if layer.input_shape_arg is not None:
            if self._layers:
                raise ValueError(f"input_shape is only accepted on the first layer, got it on {layer!r}")
            if self._input_shape is not None and self._input_shape != layer.input_shape_arg:
                raise ValueError(f"input_shape {layer.input_shape_arg} contradicts the InputLayer's {self._input_shape}")
            self._input_shape = layer.input_shape_arg
        if layer.built:
            raise ValueError(f"layer {layer.name!r} is already built (used elsewhere); create a new one")
        names = {existing.name for existing in self._layers}
        if layer.name is None:
            base = snake_case(type(layer).__name__)
            k, name = 0, base
            while name in names:
                k += 1
                name = f"{base}_{k}"
            layer.name = name
        elif layer.name in names:
            raise ValueError(f"a layer named {layer.name!r} is already in the model")
        layer.seed_entropy = (self.seed, len(self._layers))
        self._layers.append(layer)
        if self._input_shape is not None and all(lyr.built for lyr in self._layers[:-1]):
            prev = self._layers[-2].output_shape if len(self._layers) > 1 else self._input_shape
            layer.ensure_built(prev)

    def build(self, input_shape: Any = None) -> None:
        """Create every layer's weights. ``input_shape`` may include the batch axis
        (``(None, 133, 133, 3)``) or not; it can be omitted when an InputLayer gave it."""
        if input_shape is not None:
            shape = tuple(input_shape)
            if shape and shape[0] is None:
                shape = shape[1:]
            shape = tuple(int(d) for d in shape)
            if self._input_shape is not None and shape != self._input_shape:
                raise ValueError(f"model expects inputs of shape {self._input_shape}, got {shape}")
            self._input_shape = shape
        if self._input_shape is None:
            raise ValueError("the model has no input shape yet: add an InputLayer, give input_shape= "
                             "to the first layer, call build(input_shape) or call the model on data")
        shape = self._input_shape
        for layer in self._layers:
            layer.ensure_built(shape)
            shape = layer.output_shape

    def __call__(self, x: Any, training: bool = False) -> Tensor:
        """Forward a batch (``(N, *input_shape)``); records a graph unless under ``no_grad``."""
        x = x if isinstance(x, Tensor) else Tensor(np.asarray(x, dtype=np.float32))
        if not self.built:
            self.build(x.shape[1:])
        elif tuple(x.shape[1:]) != self._input_shape:
            raise ValueError(f"model expects inputs of shape (N, {', '.join(map(str, self._input_shape))}), "
                             f"got {x.shape}")
        layers, i = self._layers, 0
        while i < len(layers):
            n = fusion.fused_length(layers, i) if x.ndim == 4 else 0
            if n:  # e.g. BatchNormalization -> ReLU -> MaxPool2D as one engine op
                x = fusion.run_fused(layers, i, x, training)
                i += n
            else:
                x = layers[i](x, training=training)
                i += 1
        return x

    def reseed(self, epoch: int) -> None:
        """Restart every layer's noise stream for ``epoch`` (``fit`` calls this)."""
        for layer in self._layers:
            layer.reseed(epoch)

    # -- weights ------------------------------------------------------------------------------
    @property
    def trainable_weights(self) -> list[Tensor]:
        return [p for layer in self._layers for p in layer.trainable_weights]

    def named_weights(self) -> dict[str, np.ndarray]:
        """``{"<layer>.<weight>": array}`` for every weight, trainable or not (no copies)."""
        return {f"{layer.name}.{k}": v for layer in self._layers for k, v in layer.named_weights().items()}

    def get_weights(self) -> list[np.ndarray]:
        return [a.copy() for a in self.named_weights().values()]

    def set_weights(self, weights: list[np.ndarray]) -> None:
        """Copy values in place, in ``get_weights`` order (shapes must match)."""
        names = list(self.named_weights())
        if len(weights) != len(names):
            raise ValueError(f"the model has {len(names)} weight arrays, got {len(weights)}")
        i = 0
        for layer in self._layers:
            n = len(layer.named_weights())
            layer.set_weights(list(weights[i:i + n]))
            i += n

    def count_params(self) -> int:
        return sum(sum(layer.count_params()) for layer in self._layers)

    # -- training -----------------------------------------------------------------------------
    def compile(self, optimizer: Any = "rmsprop", loss: Any = None, metrics: Any = None) -> None:
        """Choose the optimizer, loss and metrics, by name or object (see the registries)."""
        if loss is None:
            raise ValueError("compile needs a loss, e.g. loss='mse' or losses.BinaryCrossentropy(from_logits=True)")
        self.optimizer = optimizers_mod.get(optimizer)
        self.loss = losses_mod.get(loss)
        if isinstance(metrics, (str, metrics_mod.Metric, dict)):
            metrics = [metrics]
        self.compiled_metrics = []
        for m in metrics or []:
            metric = metrics_mod.get(m)
            if isinstance(m, str):
                metric.name = m
            metric.bind_loss(self.loss)
            self.compiled_metrics.append(metric)
        names = [m.name for m in self.compiled_metrics]
        if len(set(names)) != len(names) or "loss" in names:
            raise ValueError(f"metric names must be distinct and not 'loss', got {names}")
        if self.built:
            self.optimizer.build(self.trainable_weights)

    def _check_compiled(self) -> None:
        if self.optimizer is None or self.loss is None:
            raise RuntimeError("the model is not compiled; call model.compile(optimizer, loss, metrics) first")

    def ensure_optimizer_built(self) -> None:
        """(Re)attach the optimizer when the trainable parameters changed (first build, a layer
        frozen); keeps its state otherwise."""
        params = self.trainable_weights
        current = self.optimizer.params
        if len(current) != len(params) or any(a is not b for a, b in zip(current, params)):
            self.optimizer.build(params)

    def fit(self, x: Any = None, y: Any = None, epochs: int = 1, batch_size: int = 32,
            validation_data: Any = None, validation_split: float = 0.0, shuffle: bool = True,
            callbacks: list[cbks.Callback] | None = None, verbose: int = 1,
            initial_epoch: int = 0) -> cbks.History:
        """Train for ``epochs`` epochs (counting from 0, so ``initial_epoch=k`` resumes after
        k finished epochs) and return the History (also kept as ``self.history``).

        ``x, y``: arrays (any dtype; cast to float32 per batch, never rescaled) or ``x`` an
        iterable re-iterated each epoch yielding ``(x_batch, y_batch)`` with ``y=None``.
        ``validation_data``: ``(x_val, y_val)`` or such an iterable; ``validation_split``
        holds out the last fraction of array data (before shuffling), as Keras.
        A NaN/Inf loss raises :class:`NonFiniteLossError` naming the epoch and batch.
        """
        self._check_compiled()
        if not 0.0 <= validation_split < 1.0:
            raise ValueError(f"validation_split must be in [0, 1), got {validation_split!r}")
        train = training.batch_source(x, y, batch_size, shuffle, self.seed, "training data")
        val = None
        if validation_split:
            if validation_data is not None:
                raise ValueError("give validation_data or validation_split, not both")
            if not isinstance(train, training.ArrayBatches):
                raise ValueError("validation_split needs array data; pass validation_data for an iterable")
            n = len(train.x)
            split_at = int(np.floor(n * (1.0 - validation_split)))
            if split_at in (0, n):
                raise ValueError(f"validation_split={validation_split} leaves an empty split of {n} samples")
            val = training.ArrayBatches(train.x[split_at:], train.y[split_at:], batch_size, False, self.seed)
            train = training.ArrayBatches(train.x[:split_at], train.y[:split_at], batch_size, shuffle, self.seed)
        elif validation_data is not None:
            if isinstance(validation_data, (tuple, list)) and len(validation_data) == 2 \
                    and hasattr(validation_data[0], "shape"):
                val = training.batch_source(*validation_data, batch_size, False, self.seed, "validation_data")
            else:
                val = training.batch_source(validation_data, None, batch_size, False, self.seed, "validation_data")
        return training.fit_loop(self, train, epochs, initial_epoch, val, callbacks, verbose)

    def evaluate(self, x: Any = None, y: Any = None, batch_size: int = 32, verbose: int = 0,
                 return_dict: bool = False) -> list[float] | dict[str, float]:
        """``[loss, *metrics]`` over the data (``training=False``, no graph); the loss is the
        mean over samples. ``verbose=2`` prints one summary line."""
        self._check_compiled()
        data = training.batch_source(x, y, batch_size, False, self.seed, "evaluation data")
        if verbose not in (0, 1, 2):
            raise ValueError(f"verbose must be 0, 1 or 2, got {verbose!r}")
        results = training.evaluate_loop(self, data, training.Tracker(self.compiled_metrics), verbose=verbose)
        return results if return_dict else list(results.values())

    def predict(self, x: Any, batch_size: int = 32, verbose: int = 0) -> np.ndarray:
        """Raw outputs ``(N, units)`` float32 (logits when the model has no final activation),
        with ``training=False`` and no graph. ``x``: an array or an iterable of batches
        (``x_batch`` or ``(x_batch, y_batch)``)."""
        data = training.batch_source(x, None, batch_size, False, self.seed, "predict input")
        return training.predict_loop(self, data)

    # -- description --------------------------------------------------------------------------
    def summary(self, print_fn: Callable[[str], Any] | None = None) -> None:
        """Print each layer's name, type, output shape and parameter count, then the totals."""
        if not self.built:
            self.build()
        rows = [(f"{layer.name} ({type(layer).__name__})", str((None, *layer.output_shape)),
                 f"{sum(layer.count_params()):,}") for layer in self._layers]
        head = ("Layer (type)", "Output Shape", "Param #")
        w0 = max(len(head[0]), *(len(r[0]) for r in rows)) + 2 if rows else 30
        w1 = max(len(head[1]), *(len(r[1]) for r in rows)) + 2 if rows else 26
        w2 = max(len(head[2]), *(len(r[2]) for r in rows)) if rows else 8
        width = w0 + w1 + w2
        trainable = sum(layer.count_params()[0] for layer in self._layers)
        total = self.count_params()
        lines = [f'Model: "{self.name}"', "_" * width, f"{head[0]:<{w0}}{head[1]:<{w1}}{head[2]:>{w2}}", "=" * width]
        lines += [f"{a:<{w0}}{b:<{w1}}{c:>{w2}}" for a, b, c in rows]
        lines += ["=" * width, f"Total params: {total:,}", f"Trainable params: {trainable:,}",
                  f"Non-trainable params: {total - trainable:,}", "_" * width]
        out = print_fn or print
        for line in lines:
            out(line)

    def get_config(self) -> dict[str, Any]:
        return {"name": self.name, "seed": self.seed,
                "input_shape": None if self._input_shape is None else list(self._input_shape),
                "layers": [LAYERS.serialize(layer) for layer in self._layers]}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Sequential:
        model = cls(name=config.get("name"), seed=config["seed"])
        if config.get("input_shape") is not None:
            model.add(InputLayer(input_shape=config["input_shape"]))
        for spec in config["layers"]:
            layer = LAYERS.get(spec)
            if not isinstance(layer, Layer) or isinstance(layer, InputLayer):
                raise ValueError(f"not a layer: {spec!r}")
            model.add(layer)
        return model

    def compile_config(self) -> dict[str, Any] | None:
        """The compile arguments as JSON (None when not compiled)."""
        if self.optimizer is None or self.loss is None:
            return None
        return {"optimizer": OPTIMIZERS.serialize(self.optimizer), "loss": LOSSES.serialize(self.loss),
                "metrics": [METRICS.serialize(m) for m in self.compiled_metrics]}

    def save(self, path: str | os.PathLike, metadata: dict[str, Any] | None = None) -> None:
        """Write one ``.safetensors`` file: weights (incl. batch-norm statistics), architecture,
        compile settings and ``metadata`` (JSON-able) in its header. See ``load_model``."""
        from .saving import save_model

        save_model(self, path, metadata)

    def __repr__(self) -> str:
        return f"Sequential(name={self.name!r}, layers={len(self._layers)}, seed={self.seed})"
