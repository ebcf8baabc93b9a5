"""Per-epoch bookkeeping of a training run: history, timing, early stopping, checkpoints.

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

from . import run_dir as rd

STATE = "state.safetensors"


def checkpoint_path(run: Path) -> Path:
    return Path(run) / rd.CHECKPOINT / STATE


class TrainingState:
    """What a run must remember between epochs (and across an interruption).

    Args:
        patience: early-stopping patience in epochs on ``val_loss`` (None = off).
        min_delta: smallest decrease of ``val_loss`` that counts as an improvement.
    """

    def __init__(self, patience: int | None = None, min_delta: float = 1e-4) -> None:
        self.patience = patience
        self.min_delta = float(min_delta)
        self.history: dict[str, list[float]] = {}
        self.epoch_seconds: list[float] = []
        self.epochs_done = 0
        self.best_loss = float("inf")
        self.best_epoch = 0          # 1-based epoch of best_weights (0 = none yet)
        self.best_weights: list[np.ndarray] | None = None
        self.wait = 0
        self.stopped_early = False
        self.wall_seconds = 0.0      # wall time of earlier sessions (resumed runs)

    # -- one epoch --------------------------------------------------------------------------
    def record(self, logs: dict[str, float], seconds: float, weights: list[np.ndarray]) -> bool:
        """Add one finished epoch; returns True when early stopping says stop."""
        for k, v in logs.items():
            self.history.setdefault(k, []).append(float(v))
        self.epoch_seconds.append(float(seconds))
        self.epochs_done += 1
        if self.patience is None or "val_loss" not in logs:
            return False
        val = float(logs["val_loss"])
        if val < self.best_loss - self.min_delta:
            self.best_loss, self.best_epoch, self.wait = val, self.epochs_done, 0
            self.best_weights = [np.array(w, copy=True) for w in weights]
            return False
        self.wait += 1
        if self.wait >= self.patience:
            self.stopped_early = True
            return True
        return False

    # -- persistence ------------------------------------------------------------------------
    def save(self, run: Path, model: Any, extra_seconds: float = 0.0) -> Path:
        state = {
            "epochs_done": self.epochs_done, "history": self.history,
            "epoch_seconds": self.epoch_seconds, "patience": self.patience,
            "min_delta": self.min_delta, "best_loss": self.best_loss, "best_epoch": self.best_epoch,
            "best_weights": self.best_weights, "wait": self.wait,
            "stopped_early": self.stopped_early, "wall_seconds": self.wall_seconds + extra_seconds,
            "weights": [np.asarray(w) for w in model.get_weights()],
            "optimizer": model.optimizer.get_state(),
        }
        return rd.save_state(checkpoint_path(run), state)

    @classmethod
    def load(cls, run: Path, model: Any) -> "TrainingState":
        """Restore the state and put the checkpoint's weights and optimizer into ``model``."""
        s = rd.load_state(checkpoint_path(run))
        self = cls(s["patience"], s["min_delta"])
        self.history = {k: list(v) for k, v in s["history"].items()}
        self.epoch_seconds = list(s["epoch_seconds"])
        self.epochs_done = int(s["epochs_done"])
        self.best_loss, self.best_epoch = float(s["best_loss"]), int(s["best_epoch"])
        self.best_weights = s["best_weights"]
        self.wait, self.stopped_early = int(s["wait"]), bool(s["stopped_early"])
        self.wall_seconds = float(s["wall_seconds"])
        model.set_weights(s["weights"])
        model.optimizer.set_state(s["optimizer"])
        return self


def make_callback(state: TrainingState, run: Path, session_start: float,
                  after_checkpoint: Any = None) -> Any:
    """A ``smearnet.callbacks.Callback`` that records each epoch into ``state``, checkpoints,
    and stops training when early stopping says so."""
    from smearnet.nn.callbacks import Callback

    class RunCallback(Callback):
        def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
            self._t0 = time.perf_counter()

        def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
            seconds = time.perf_counter() - self._t0
            stop = state.record(dict(logs or {}), seconds, self.model.get_weights())
            state.save(run, self.model, extra_seconds=time.perf_counter() - session_start)
            if stop:
                self.model.stop_training = True
            if after_checkpoint is not None:
                after_checkpoint(epoch)

    return RunCallback()
