"""Keras-style progress output for ``fit`` / ``evaluate``.

verbose=1: ``Epoch 3/10`` then a live bar rewritten with ``\\r`` (only on a terminal; in a
log file just the final line), ending as
``125/125 [==============================] - 1s 10ms/step - loss: 0.2293 - accuracy: 0.6275``.
verbose=2: the final line only, without the bar. verbose=0: nothing.
"""

from __future__ import annotations

import sys
import time
from typing import Any

from .callbacks import Callback, Logs

BAR_WIDTH = 30
REFRESH_SECONDS = 0.1


def _fmt_time(seconds: float) -> str:
    if seconds >= 3600:
        return f"{int(seconds // 3600)}:{int(seconds % 3600 // 60):02d}:{int(seconds % 60):02d}"
    if seconds >= 60:
        return f"{int(seconds // 60)}:{int(seconds % 60):02d}"
    return f"{seconds:.0f}s"


def _fmt_per_step(seconds: float) -> str:
    if seconds >= 1:
        return f"{seconds:.0f}s/step"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.0f}ms/step"
    return f"{seconds * 1e6:.0f}us/step"


def format_logs(logs: Logs, skip: tuple[str, ...] = ("learning_rate",)) -> str:
    return "".join(f" - {k}: {v:.4f}" for k, v in logs.items() if k not in skip)


class ProgressBar:
    """One progress line for ``target`` steps (None when unknown)."""

    def __init__(self, target: int | None, verbose: int = 1) -> None:
        self.target, self.verbose = target, verbose
        self.start = time.perf_counter()
        self._last_draw = 0.0
        self._live = verbose == 1 and sys.stdout.isatty()

    def _counter(self, step: int) -> str:
        if self.target is None:
            return f"{step}/Unknown"
        width = len(str(self.target))
        return f"{step:>{width}}/{self.target}"

    def _bar(self, step: int) -> str:
        if self.target is None:
            return ""
        done = int(BAR_WIDTH * step / max(self.target, 1))
        arrow = ">" if step < self.target and done < BAR_WIDTH else ""
        inner = "=" * done + arrow
        return f" [{inner:<{BAR_WIDTH}}]"

    def update(self, step: int, logs: Logs) -> None:
        """Redraw the live line after ``step`` finished steps (throttled)."""
        if not self._live:
            return
        now = time.perf_counter()
        if now - self._last_draw < REFRESH_SECONDS:
            return
        self._last_draw = now
        elapsed = now - self.start
        eta = ""
        if self.target:
            eta = f" - ETA: {_fmt_time(elapsed / max(step, 1) * (self.target - step))}"
        sys.stdout.write(f"\r{self._counter(step)}{self._bar(step)}{eta}{format_logs(logs)}")
        sys.stdout.flush()

    def finish(self, steps: int, logs: Logs) -> None:
        """Print the final line for ``steps`` finished steps."""
        if self.verbose == 0:
            return
        elapsed = time.perf_counter() - self.start
        per_step = _fmt_per_step(elapsed / max(steps, 1))
        if self.target is None:
            self.target = steps
        if self.verbose == 1:
            line = f"{self._counter(steps)}{self._bar(steps)} - {_fmt_time(elapsed)} {per_step}"
        else:
            line = f"{self._counter(steps)} - {_fmt_time(elapsed)} - {per_step}"
        prefix = "\r" if self._live else ""
        sys.stdout.write(f"{prefix}{line}{format_logs(logs)}\n")
        sys.stdout.flush()


class ProgressLogger(Callback):
    """The callback ``fit`` adds when ``verbose > 0``."""

    def __init__(self, verbose: int = 1) -> None:
        super().__init__()
        self.verbose = verbose
        self.bar: ProgressBar | None = None

    def on_epoch_begin(self, epoch: int, logs: Logs | None = None) -> None:
        print(f"Epoch {epoch + 1}/{self.params.get('epochs')}", flush=True)
        self.bar = ProgressBar(self.params.get("steps"), self.verbose)
        self._steps = 0

    def on_train_batch_end(self, batch: int, logs: Logs | None = None) -> None:
        self._steps = batch + 1
        if self.bar is not None:
            self.bar.update(self._steps, logs or {})

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        if self.bar is not None:
            self.bar.finish(self._steps, logs or {})

    def __repr__(self) -> str:
        return f"ProgressLogger(verbose={self.verbose})"


def make_progress(verbose: Any) -> ProgressLogger | None:
    if verbose not in (0, 1, 2, False, True):
        raise ValueError(f"verbose must be 0, 1 or 2, got {verbose!r}")
    return ProgressLogger(int(verbose)) if verbose else None
