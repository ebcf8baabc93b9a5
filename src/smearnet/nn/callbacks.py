"""Callbacks: hooks ``fit`` calls around epochs and batches.

``History`` (always present, returned by ``fit``), ``EarlyStopping``, ``ModelCheckpoint``,
``LearningRateScheduler``, ``CSVLogger`` and ``JSONLogger``. Epochs are 0-based in the hooks,
as in Keras; files and messages count from 1. A NaN/Inf loss is caught by ``fit`` itself
(before the update that would spread it) and raised as
:class:`~smearnet.nn.training.NonFiniteLossError`.
"""

from __future__ import annotations

import csv
import inspect
import io
import json
import math
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np

Logs = dict[str, float]


class Callback:
    """Base class: every hook is a no-op. ``self.model`` is set by ``fit``."""

    def __init__(self) -> None:
        self.model: Any = None
        self.params: dict[str, Any] = {}

    def set_model(self, model: Any) -> None:
        self.model = model

    def set_params(self, params: dict[str, Any]) -> None:
        self.params = params

    def on_train_begin(self, logs: Logs | None = None) -> None: ...
    def on_train_end(self, logs: Logs | None = None) -> None: ...
    def on_epoch_begin(self, epoch: int, logs: Logs | None = None) -> None: ...
    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None: ...
    def on_train_batch_begin(self, batch: int, logs: Logs | None = None) -> None: ...
    def on_train_batch_end(self, batch: int, logs: Logs | None = None) -> None: ...


class CallbackList(Callback):
    """Calls every hook on each callback in order."""

    def __init__(self, callbacks: Iterable[Callback], model: Any, params: dict[str, Any]) -> None:
        super().__init__()
        self.callbacks = list(callbacks)
        for c in self.callbacks:
            if not isinstance(c, Callback):
                raise ValueError(f"callbacks must be Callback instances, got {c!r}")
            c.set_model(model)
            c.set_params(params)

    def _call(self, hook: str, *args: Any) -> None:
        for c in self.callbacks:
            getattr(c, hook)(*args)

    def on_train_begin(self, logs: Logs | None = None) -> None:
        self._call("on_train_begin", logs)

    def on_train_end(self, logs: Logs | None = None) -> None:
        self._call("on_train_end", logs)

    def on_epoch_begin(self, epoch: int, logs: Logs | None = None) -> None:
        self._call("on_epoch_begin", epoch, logs)

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        self._call("on_epoch_end", epoch, logs)

    def on_train_batch_begin(self, batch: int, logs: Logs | None = None) -> None:
        self._call("on_train_batch_begin", batch, logs)

    def on_train_batch_end(self, batch: int, logs: Logs | None = None) -> None:
        self._call("on_train_batch_end", batch, logs)


class History(Callback):
    """Per-epoch logs: ``history.history["val_loss"][k]`` is epoch k's validation loss.

    ``fit`` with ``initial_epoch > 0`` continues the model's previous history (for example
    the one restored by ``load_checkpoint``) so a resumed run reports every epoch.
    """

    def __init__(self, history: dict[str, list[float]] | None = None,
                 epoch: list[int] | None = None) -> None:
        super().__init__()
        self.history: dict[str, list[float]] = {k: list(v) for k, v in (history or {}).items()}
        self.epoch: list[int] = list(epoch if epoch is not None else
                                     range(max((len(v) for v in self.history.values()), default=0)))

    def truncated(self, n_epochs: int) -> History:
        """The first ``n_epochs`` records (for a resume at ``initial_epoch=n_epochs``)."""
        keep = [i for i, e in enumerate(self.epoch) if e < n_epochs]
        return History({k: [v[i] for i in keep if i < len(v)] for k, v in self.history.items()},
                       [self.epoch[i] for i in keep])

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        self.epoch.append(epoch)
        for k, v in (logs or {}).items():
            self.history.setdefault(k, []).append(float(v))

    def to_dict(self) -> dict[str, Any]:
        return {"epoch": list(self.epoch), "history": {k: list(v) for k, v in self.history.items()}}


def _mode_for(monitor: str, mode: str) -> str:
    if mode not in ("auto", "min", "max"):
        raise ValueError(f"mode must be 'auto', 'min' or 'max', got {mode!r}")
    if mode != "auto":
        return mode
    base = monitor.removeprefix("val_")
    return "max" if base.startswith(("acc", "accuracy", "auc", "precision", "recall", "binary_acc")) else "min"


def _improved(current: float, best: float, mode: str, min_delta: float) -> bool:
    if current is None or math.isnan(current):
        return False
    return current < best - min_delta if mode == "min" else current > best + min_delta


def _monitored(logs: Logs | None, monitor: str, who: str) -> float:
    if not logs or monitor not in logs:
        raise ValueError(f"{who} monitors {monitor!r} but the epoch logs only have "
                         f"{sorted(logs or {})}; pass validation data or another monitor=")
    return float(logs[monitor])


class EarlyStopping(Callback):
    """Stop when ``monitor`` has not improved by ``min_delta`` for ``patience`` epochs.

    With ``restore_best_weights=True`` the model ends training with the weights of its best
    epoch (whether or not it stopped early). ``mode="auto"`` maximizes accuracy/AUC/
    precision/recall and minimizes everything else.

    Resuming: the state (``best``, ``best_epoch`` and ``stopped_epoch`` 0-based or None,
    ``wait``, ``best_weights``) comes from :meth:`get_state` and goes back with
    :meth:`set_state`; ``ModelCheckpoint`` stores it and ``fit(initial_epoch=ck.epoch)`` on a
    model from ``load_checkpoint`` restores it, best weights included. Without a stored state
    (a checkpoint written without this callback) the best value and the patience counter are
    replayed from the model's history, and best weights from before the resume are unknown.
    """

    def __init__(self, monitor: str = "val_loss", min_delta: float = 0.0, patience: int = 0,
                 mode: str = "auto", baseline: float | None = None,
                 restore_best_weights: bool = False, start_from_epoch: int = 0) -> None:
        super().__init__()
        if patience < 0 or min_delta < 0:
            raise ValueError(f"patience and min_delta must be >= 0, got {patience!r}, {min_delta!r}")
        self.monitor, self.patience, self.min_delta = monitor, int(patience), float(min_delta)
        self.mode = _mode_for(monitor, mode)
        self.baseline = baseline
        self.restore_best_weights = bool(restore_best_weights)
        self.start_from_epoch = int(start_from_epoch)
        self._reset()

    def _reset(self) -> None:
        self.best = math.inf if self.mode == "min" else -math.inf
        self.wait = 0
        self.best_epoch: int | None = None
        self.stopped_epoch: int | None = None
        self.best_weights: list[np.ndarray] | None = None
        self._restored = False  # set_state was called: the next fit continues from it

    # -- resumable state -------------------------------------------------------------------
    @property
    def state_key(self) -> str:
        """Name of this callback's state in a checkpoint."""
        return f"EarlyStopping[{self.monitor}]"

    def get_state(self) -> dict[str, Any]:
        """``{"monitor", "best", "best_epoch", "wait", "stopped_epoch", "best_weights"}``;
        epochs 0-based (None = none yet), ``best_weights`` a list of arrays in
        ``model.get_weights()`` order or None (only kept with ``restore_best_weights``)."""
        return {"monitor": self.monitor, "best": float(self.best), "best_epoch": self.best_epoch,
                "wait": int(self.wait), "stopped_epoch": self.stopped_epoch,
                "best_weights": None if self.best_weights is None else list(self.best_weights)}

    def set_state(self, state: dict[str, Any]) -> None:
        """Restore a :meth:`get_state` dict; the next ``fit`` continues from it instead of
        starting over (or replaying the history)."""
        try:
            if state.get("monitor", self.monitor) != self.monitor:
                raise ValueError(f"the state monitors {state['monitor']!r}, this callback {self.monitor!r}")
            best, best_epoch, wait = float(state["best"]), state["best_epoch"], int(state["wait"])
            stopped, weights = state["stopped_epoch"], state["best_weights"]
        except (KeyError, TypeError, AttributeError) as e:
            raise ValueError(f"not an EarlyStopping state (missing or invalid entry {e})") from None
        self.best, self.wait = best, wait
        self.best_epoch = None if best_epoch is None else int(best_epoch)
        self.stopped_epoch = None if stopped is None else int(stopped)
        self.best_weights = None if weights is None else [np.array(w, copy=True) for w in weights]
        self._restored = True

    # -- hooks -------------------------------------------------------------------------------
    def on_train_begin(self, logs: Logs | None = None) -> None:
        if self._restored:
            self._restored = False
            return
        self._reset()
        prior = getattr(self.model, "history", None)
        if isinstance(prior, History):
            for epoch, value in zip(prior.epoch, prior.history.get(self.monitor, [])):
                self._observe(epoch, value, weights=False)

    def _observe(self, epoch: int, current: float, weights: bool) -> None:
        if epoch < self.start_from_epoch:
            return
        self.wait += 1
        if _improved(current, self.best, self.mode, self.min_delta):
            self.best, self.best_epoch = current, epoch
            if weights and self.restore_best_weights:
                self.best_weights = self.model.get_weights()
            if self.baseline is None or _improved(current, self.baseline, self.mode, 0.0):
                self.wait = 0

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        self._observe(epoch, _monitored(logs, self.monitor, "EarlyStopping"), weights=True)
        if self.wait >= self.patience and epoch >= self.start_from_epoch and self.wait > 0:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs: Logs | None = None) -> None:
        if self.restore_best_weights and self.best_weights is not None:
            self.model.set_weights(self.best_weights)


def state_key(callback: Callback) -> str:
    """A stateful callback's name in a checkpoint: its ``state_key`` or its class name."""
    return str(getattr(callback, "state_key", type(callback).__name__))


def callback_states(callbacks: Iterable[Callback]) -> dict[str, dict[str, Any]]:
    """``{state_key: callback.get_state()}`` for every callback that has ``get_state``."""
    states: dict[str, dict[str, Any]] = {}
    for c in callbacks:
        if callable(getattr(c, "get_state", None)):
            key = state_key(c)
            if key in states:
                raise ValueError(f"two callbacks in one fit have the state key {key!r}; their states "
                                 "would overwrite each other in a checkpoint")
            states[key] = c.get_state()
    return states


def restore_callback_states(callbacks: Iterable[Callback], states: dict[str, dict[str, Any]]) -> None:
    """``set_state`` on every callback whose state key is in ``states``."""
    for c in callbacks:
        if callable(getattr(c, "set_state", None)) and state_key(c) in states:
            c.set_state(states[state_key(c)])


class ModelCheckpoint(Callback):
    """Save a checkpoint (model, optimizer state, epoch, history) after every epoch.

    Args:
        filepath: may contain ``{epoch}`` (1-based) and log keys, e.g.
            ``"run/ckpt-{epoch:03d}-{val_loss:.3f}.safetensors"``.
        save_best_only: only save when ``monitor`` improved (the file then always holds the
            best model so far).
        metadata: extra JSON-able metadata stored in every file.

    The file also holds the state of every other callback of the fit that has ``get_state``
    (``EarlyStopping``: best value, patience counter, best weights); ``fit`` runs
    ``ModelCheckpoint`` after the other callbacks so that state is the epoch's final one.
    The file is written atomically (temporary file, then rename), so a crash never leaves a
    half-written checkpoint. Resume with ``ck = load_checkpoint(path)`` and
    ``ck.model.fit(..., callbacks=[...the same callbacks...], initial_epoch=ck.epoch)``.
    """

    def __init__(self, filepath: str | os.PathLike, monitor: str = "val_loss",
                 save_best_only: bool = False, mode: str = "auto",
                 metadata: dict[str, Any] | None = None) -> None:
        super().__init__()
        self.filepath, self.monitor = str(filepath), monitor
        self.save_best_only = bool(save_best_only)
        self.mode = _mode_for(monitor, mode)
        self.metadata = metadata
        self.best = math.inf if self.mode == "min" else -math.inf
        self.last_path: Path | None = None

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        from .saving import save_checkpoint

        if self.save_best_only:
            current = _monitored(logs, self.monitor, "ModelCheckpoint")
            if not _improved(current, self.best, self.mode, 0.0):
                return
            self.best = current
        path = Path(self.filepath.format(epoch=epoch + 1, **(logs or {})))
        history = self.model.history if isinstance(getattr(self.model, "history", None), History) else History()
        others = [c for c in self.params.get("callbacks", []) if c is not self]
        save_checkpoint(path, self.model, epoch=epoch + 1, history=history, metadata=self.metadata,
                        callbacks=others)
        self.last_path = path


class LearningRateScheduler(Callback):
    """Set the optimizer's learning rate at the start of each epoch.

    ``schedule(epoch, lr) -> new_lr`` (or ``schedule(epoch) -> new_lr``), epoch 0-based, as
    Keras. The optimizer's learning rate must be a float, not a schedule object.
    """

    def __init__(self, schedule: Callable[..., float]) -> None:
        super().__init__()
        if not callable(schedule):
            raise ValueError(f"LearningRateScheduler needs a callable, got {schedule!r}")
        self.schedule = schedule
        try:
            self._n_args = len(inspect.signature(schedule).parameters)
        except (TypeError, ValueError):
            self._n_args = 2

    def on_epoch_begin(self, epoch: int, logs: Logs | None = None) -> None:
        opt = self.model.optimizer
        if callable(opt.learning_rate):
            raise ValueError("LearningRateScheduler cannot drive an optimizer whose learning_rate "
                             "is already a schedule; pass a float learning rate")
        lr = self.schedule(epoch, opt.learning_rate) if self._n_args >= 2 else self.schedule(epoch)
        opt.learning_rate = float(lr)


def _atomic_write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


class CSVLogger(Callback):
    """Write one CSV row per epoch (``epoch`` 1-based, then the log keys, sorted).

    ``append=True`` keeps existing rows (for a resumed run); otherwise the file starts over.
    """

    def __init__(self, filename: str | os.PathLike, separator: str = ",", append: bool = False) -> None:
        super().__init__()
        self.filename, self.separator, self.append = Path(filename), separator, bool(append)

    def on_train_begin(self, logs: Logs | None = None) -> None:
        self.filename.parent.mkdir(parents=True, exist_ok=True)
        if not self.append:
            self.filename.write_text("", encoding="utf-8")

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        keys = sorted(logs or {})
        fresh = not self.filename.exists() or self.filename.stat().st_size == 0
        buf = io.StringIO()
        writer = csv.writer(buf, delimiter=self.separator, lineterminator="\n")
        if fresh:
            writer.writerow(["epoch", *keys])
        writer.writerow([epoch + 1, *(repr(float(logs[k])) for k in keys)])
        with open(self.filename, "a", encoding="utf-8", newline="") as f:
            f.write(buf.getvalue())


def _json_safe(x: Any) -> Any:
    """NaN/Inf -> None, so the file is strict JSON."""
    if isinstance(x, float):
        return x if math.isfinite(x) else None
    if isinstance(x, dict):
        return {k: _json_safe(v) for k, v in x.items()}
    if isinstance(x, list):
        return [_json_safe(v) for v in x]
    return x


class JSONLogger(Callback):
    """Rewrite ``{"epoch": [1, 2, ...], "history": {key: [...]}}`` after every epoch
    (atomically; epochs 1-based; NaN written as null)."""

    def __init__(self, filename: str | os.PathLike) -> None:
        super().__init__()
        self.filename = Path(filename)

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        hist = self.model.history
        doc = {"epoch": [e + 1 for e in hist.epoch], "history": hist.history}
        _atomic_write(self.filename, json.dumps(_json_safe(doc), indent=1))
