"""The pieces of the training loop: batch sources, one optimization step, metric tracking,
and the ``fit`` / ``evaluate`` / ``predict`` loops ``Sequential`` delegates to.

The loop never knows about files: it takes arrays, or any re-iterable object yielding
``(x_batch, y_batch)`` (such as ``smearnet.data.Batches``). Array data is shuffled from the
model's seed and the epoch number only, and dropout noise restarts from (seed, layer, epoch),
so a run resumed from a checkpoint at epoch k replays epochs k, k+1, ... bit for bit.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np

from .. import autodiff as ad
from . import callbacks as cbks
from .metrics import Mean, Metric
from .progress import ProgressBar, make_progress

SHUFFLE_STREAM = 1_000_003  # entropy tag of the shuffling stream (far from any layer index)


class NonFiniteLossError(FloatingPointError):
    """The training loss became NaN or infinite. ``epoch`` and ``batch`` are 0-based; the
    message counts from 1, as the progress bar does. The failing batch was not applied."""

    def __init__(self, value: float, epoch: int, batch: int, epochs: int, steps: int | None) -> None:
        self.value, self.epoch, self.batch = value, epoch, batch
        of_steps = f"/{steps}" if steps else ""
        super().__init__(
            f"training loss became {value} at epoch {epoch + 1}/{epochs}, batch {batch + 1}{of_steps}; "
            "training stopped before applying that batch (the weights are those after the previous "
            "batch). Check the inputs for NaN/Inf, lower the learning rate, or use a from_logits loss.")


# -- batch sources ---------------------------------------------------------------------------
class ArrayBatches:
    """Mini-batches of in-memory (or memory-mapped) arrays, x and y indexed together.

    Shuffling draws a permutation from ``(seed, SHUFFLE_STREAM, epoch)``; within a batch the
    indices are sorted (same samples, friendlier to memory-mapped caches).
    """

    def __init__(self, x: Any, y: Any, batch_size: int, shuffle: bool, seed: int) -> None:
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
        self.x = x
        self.y = None if y is None else np.asarray(y) if not hasattr(y, "shape") else y
        if self.y is not None and len(self.y) != len(x):
            raise ValueError(f"x has {len(x)} samples but y has {len(self.y)}")
        if len(x) == 0:
            raise ValueError("no samples to iterate over (x is empty)")
        self.batch_size, self.shuffle, self.seed = int(batch_size), bool(shuffle), seed

    def __len__(self) -> int:
        return -(-len(self.x) // self.batch_size)

    def epoch(self, epoch: int) -> Iterator[tuple[np.ndarray, np.ndarray | None]]:
        n = len(self.x)
        if self.shuffle:
            order = np.random.default_rng(np.random.SeedSequence((self.seed, SHUFFLE_STREAM, epoch))).permutation(n)
        for start in range(0, n, self.batch_size):
            if self.shuffle:
                idx = np.sort(order[start:start + self.batch_size])
                xb, yb = self.x[idx], None if self.y is None else self.y[idx]
            else:
                sl = slice(start, start + self.batch_size)
                xb, yb = self.x[sl], None if self.y is None else self.y[sl]
            yield np.asarray(xb, dtype=np.float32), None if yb is None else np.asarray(yb, dtype=np.float32)


class IterableBatches:
    """Batches from a user iterable, re-iterated every epoch; ``set_epoch(epoch)`` is called
    on it first when it has one (so its own shuffling can follow the epoch)."""

    def __init__(self, data: Iterable[Any], what: str) -> None:
        if not hasattr(data, "__iter__"):
            raise ValueError(f"{what} must be arrays or an iterable of (x_batch, y_batch), got {type(data).__name__}")
        self.data, self.what = data, what
        self.one_shot = iter(data) is data  # a generator or iterator can only be read once
        self._used = False

    def __len__(self) -> int:
        return len(self.data)  # type: ignore[arg-type]

    def has_len(self) -> bool:
        try:
            len(self.data)  # type: ignore[arg-type]
            return True
        except TypeError:
            return False

    def epoch(self, epoch: int) -> Iterator[tuple[np.ndarray, np.ndarray | None]]:
        if self.one_shot and self._used:
            raise ValueError(f"{self.what} is a one-shot iterator and was already consumed; pass a "
                             "re-iterable object (a list, smearnet.data.Batches, ...) to train several epochs")
        self._used = True
        if hasattr(self.data, "set_epoch"):
            self.data.set_epoch(epoch)
        for item in self.data:
            if isinstance(item, (tuple, list)) and len(item) == 2:
                xb, yb = item
            elif isinstance(item, (tuple, list)) and len(item) == 3:
                raise ValueError(f"{self.what} yielded (x, y, sample_weight); sample weights are not supported")
            else:
                xb, yb = item, None
            yield np.asarray(xb, dtype=np.float32), None if yb is None else np.asarray(yb, dtype=np.float32)


def batch_source(x: Any, y: Any, batch_size: int, shuffle: bool, seed: int, what: str) -> ArrayBatches | IterableBatches:
    """Arrays (``x`` with ``len``/``shape`` and ``y`` given, or ``y`` None for predict) or an
    iterable of batches (``y`` None)."""
    if isinstance(x, ad.Tensor):
        x = x.data
    if y is not None and isinstance(x, (list, tuple)):
        x = np.asarray(x)
    if isinstance(x, np.ndarray) or (y is not None and hasattr(x, "shape")):
        if y is None and what != "predict input":
            raise ValueError(f"{what}: got an array x without y; pass y, or an iterable of (x, y) batches")
        return ArrayBatches(x, y, batch_size, shuffle, seed)
    if y is not None:
        raise ValueError(f"{what}: y must be None when x is an iterable of (x_batch, y_batch)")
    return IterableBatches(x, what)


def steps_of(source: ArrayBatches | IterableBatches) -> int | None:
    if isinstance(source, ArrayBatches) or source.has_len():
        return len(source)
    return None


# -- metrics ---------------------------------------------------------------------------------
class Tracker:
    """The running loss (weighted by batch size) and the compiled metrics."""

    def __init__(self, metrics: list[Metric]) -> None:
        self.loss = Mean("loss")
        self.metrics = metrics

    def reset(self) -> None:
        self.loss.reset_state()
        for m in self.metrics:
            m.reset_state()

    def update(self, loss: float, y: np.ndarray | None, y_pred: np.ndarray) -> None:
        self.loss.update_state(loss, len(y_pred))
        if y is not None:
            for m in self.metrics:
                m.update_state(y, y_pred)

    def results(self, prefix: str = "", cheap: bool = False) -> dict[str, float]:
        out = {prefix + "loss": self.loss.result()}
        for m in self.metrics:
            if cheap and getattr(m, "expensive", False):
                continue
            out[prefix + m.name] = float(m.result())
        return out


# -- loops -----------------------------------------------------------------------------------
def forward_loss(model: Any, xb: np.ndarray, yb: np.ndarray) -> tuple[ad.Tensor, np.ndarray]:
    """Clear the gradients, forward in training mode and compute the loss; returns
    (loss Tensor, outputs). The loop checks the loss is finite before ``backward``."""
    for p in model.trainable_weights:
        p.grad = None
    out = model(xb, training=True)  # builds the model on the first batch if needed
    model.ensure_optimizer_built()
    return model.loss(yb, out), out.data


def fit_loop(model: Any, train: ArrayBatches | IterableBatches, epochs: int, initial_epoch: int,
             val: ArrayBatches | IterableBatches | None, callbacks: list[cbks.Callback] | None,
             verbose: Any) -> cbks.History:
    if isinstance(epochs, bool) or not isinstance(epochs, (int, np.integer)) or epochs < 0:
        raise ValueError(f"epochs must be an int >= 0, got {epochs!r}")
    if not 0 <= initial_epoch <= max(epochs, 0):
        raise ValueError(f"initial_epoch must be in [0, epochs={epochs}], got {initial_epoch!r}")
    prior = getattr(model, "history", None)
    history = prior.truncated(initial_epoch) if initial_epoch and isinstance(prior, cbks.History) else cbks.History()
    model.history = history
    steps = steps_of(train)
    # checkpoints run after the other callbacks, so they store each epoch's final state
    user = sorted(callbacks or [], key=lambda c: isinstance(c, cbks.ModelCheckpoint))
    saved, model.callback_states = getattr(model, "callback_states", None), None
    if saved and initial_epoch and saved["epoch"] == initial_epoch:  # set by load_checkpoint
        cbks.restore_callback_states(user, saved["states"])
    progress = make_progress(verbose)
    cb = cbks.CallbackList([history, *user, *([progress] if progress else [])], model,
                           {"epochs": epochs, "steps": steps, "verbose": verbose, "callbacks": user})
    tracker = Tracker(model.compiled_metrics)
    val_tracker = Tracker([copy.deepcopy(m) for m in model.compiled_metrics])
    model.stop_training = False
    cb.on_train_begin()
    for epoch in range(initial_epoch, epochs):
        model.reseed(epoch)
        cb.on_epoch_begin(epoch)
        tracker.reset()
        n_batches, lr = 0, model.optimizer.current_learning_rate
        for batch, (xb, yb) in enumerate(train.epoch(epoch)):
            if yb is None:
                raise ValueError("training batches must be (x_batch, y_batch) pairs")
            cb.on_train_batch_begin(batch)
            loss_t, y_pred = forward_loss(model, xb, yb)
            loss = loss_t.item()
            if not math.isfinite(loss):
                raise NonFiniteLossError(loss, epoch, batch, epochs, steps)
            if loss_t.requires_grad:
                loss_t.backward()
            del loss_t  # drop the graph before the update
            lr = model.optimizer.current_learning_rate
            model.optimizer.step()
            tracker.update(loss, yb, y_pred)
            n_batches += 1
            cb.on_train_batch_end(batch, tracker.results(cheap=True))
        if n_batches == 0:
            raise ValueError(f"the training data yielded no batches in epoch {epoch + 1}")
        logs = tracker.results()
        if val is not None:
            logs.update(evaluate_loop(model, val, val_tracker, prefix="val_"))
        logs["learning_rate"] = lr
        cb.on_epoch_end(epoch, logs)
        if model.stop_training:
            break
    cb.on_train_end()
    return history


def evaluate_loop(model: Any, data: ArrayBatches | IterableBatches, tracker: Tracker,
                  prefix: str = "", verbose: int = 0) -> dict[str, float]:
    """Loss and metrics over ``data`` with ``training=False`` and no graph."""
    tracker.reset()
    bar = ProgressBar(steps_of(data), verbose) if verbose else None
    n = 0
    with ad.no_grad():
        for xb, yb in data.epoch(0):
            if yb is None:
                raise ValueError("evaluation batches must be (x_batch, y_batch) pairs")
            out = model(xb, training=False)
            tracker.update(model.loss(yb, out).item(), yb, out.data)
            n += 1
            if bar is not None:
                bar.update(n, tracker.results(cheap=True))
    if n == 0:
        raise ValueError("the evaluation data yielded no batches")
    results = tracker.results(prefix)
    if bar is not None:
        bar.finish(n, results)
    return results


def predict_loop(model: Any, data: ArrayBatches | IterableBatches) -> np.ndarray:
    outs = []
    with ad.no_grad():
        for xb, _ in data.epoch(0):
            outs.append(model(xb, training=False).data)
    if not outs:
        raise ValueError("predict got no input batches")
    return np.concatenate(outs, axis=0)
