"""Per-epoch bookkeeping of a training run: history, timing, checkpoints; early stopping is
``smearnet.nn.callbacks.EarlyStopping``, whose state (best weights included) is checkpointed here.

After every finished epoch the whole training state goes to ``RUN/checkpoint/state.safetensors``
(written atomically): weights (including batch-norm statistics), optimizer moments and step
count (which drives the learning-rate schedule), the history so far, the early-stopping state
with the best weights. Batches and dropout draw their randomness from (seed, epoch), so
restoring this state and continuing at the next epoch repeats an uninterrupted run exactly.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from smearnet.nn.callbacks import Callback, EarlyStopping

from . import run_dir as rd
from .splitting import RunError

STATE = "state.safetensors"
STATE_VERSION = 2  # 2: early stopping is the nn callback's state (1 had its own fields)


def checkpoint_path(run: Path) -> Path:
    return Path(run) / rd.CHECKPOINT / STATE


class TrainingState:
    """What a run must remember between epochs (and across an interruption).

    Args:
        patience: early-stopping patience in epochs on ``val_loss`` (None = off).
        min_delta: smallest decrease of ``val_loss`` that counts as an improvement.

    ``early_stopping`` is the run's :class:`~smearnet.nn.callbacks.EarlyStopping` (None when
    off), given to ``fit`` by :func:`make_callbacks`; ``best_epoch``, ``best_weights`` and
    ``stopped_early`` read it in the run's terms (epochs counted from 1, 0 = none).
    """

    def __init__(self, patience: int | None = None, min_delta: float = 1e-4) -> None:
        self.history: dict[str, list[float]] = {}
        self.epoch_seconds: list[float] = []
        self.epochs_done = 0
        self.wall_seconds = 0.0      # wall time of earlier sessions (resumed runs)
        self.early_stopping = None if patience is None else EarlyStopping(
            monitor="val_loss", min_delta=min_delta, patience=patience, restore_best_weights=True)

    @property
    def best_epoch(self) -> int:
        """1-based epoch of the lowest validation loss (0 = none, or early stopping off)."""
        es = self.early_stopping
        return 0 if es is None or es.best_epoch is None else es.best_epoch + 1

    @property
    def best_weights(self) -> list[np.ndarray] | None:
        return None if self.early_stopping is None else self.early_stopping.best_weights

    @property
    def stopped_early(self) -> bool:
        return self.early_stopping is not None and self.early_stopping.stopped_epoch is not None

    # -- one epoch --------------------------------------------------------------------------
    def record(self, logs: dict[str, float], seconds: float) -> None:
        """Add one finished epoch's logs and duration."""
        for k, v in logs.items():
            self.history.setdefault(k, []).append(float(v))
        self.epoch_seconds.append(float(seconds))
        self.epochs_done += 1

    # -- persistence ------------------------------------------------------------------------
    def save(self, run: Path, model: Any, extra_seconds: float = 0.0) -> Path:
        es = self.early_stopping
        state = {
            "version": STATE_VERSION, "epochs_done": self.epochs_done, "history": self.history,
            "epoch_seconds": self.epoch_seconds, "wall_seconds": self.wall_seconds + extra_seconds,
            "early_stopping": None if es is None else {
                "patience": es.patience, "min_delta": es.min_delta, "state": es.get_state()},
            "weights": [np.asarray(w) for w in model.get_weights()],
            "optimizer": model.optimizer.get_state(),
        }
        return rd.save_state(checkpoint_path(run), state)

    @classmethod
    def load(cls, run: Path, model: Any) -> "TrainingState":
        """Restore the state and put the checkpoint's weights and optimizer into ``model``."""
        path = checkpoint_path(run)
        s = rd.load_state(path)
        if not isinstance(s, dict) or s.get("version") != STATE_VERSION:
            raise RunError(f"{path}: written by an older smearnet (checkpoint format "
                           f"{s.get('version', 1) if isinstance(s, dict) else '?'}, this one reads "
                           f"{STATE_VERSION}); it cannot be resumed: start a new run")
        es = s["early_stopping"]
        self = cls(None if es is None else int(es["patience"]),
                   1e-4 if es is None else float(es["min_delta"]))
        if es is not None:
            self.early_stopping.set_state(es["state"])
        self.history = {k: list(v) for k, v in s["history"].items()}
        self.epoch_seconds = list(s["epoch_seconds"])
        self.epochs_done = int(s["epochs_done"])
        self.wall_seconds = float(s["wall_seconds"])
        model.set_weights(s["weights"])
        model.optimizer.set_state(s["optimizer"])
        return self


def make_callbacks(state: TrainingState, run: Path, session_start: float,
                   after_checkpoint: Any = None) -> list[Callback]:
    """The callbacks for ``fit``: the run's EarlyStopping (when on), then one that records
    each epoch into ``state`` and checkpoints (after early stopping has seen the epoch)."""

    class RunCallback(Callback):
        def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
            self._t0 = time.perf_counter()

        def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
            state.record(dict(logs or {}), time.perf_counter() - self._t0)
            state.save(run, self.model, extra_seconds=time.perf_counter() - session_start)
            if after_checkpoint is not None:
                after_checkpoint(epoch)

    es = [state.early_stopping] if state.early_stopping is not None else []
    return [*es, RunCallback()]
