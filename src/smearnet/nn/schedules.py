"""Learning-rate schedules: ``schedule(step) -> learning rate``, ``step`` counting optimizer
updates (batches) from 0. Pass one as ``Adam(learning_rate=CosineDecay(1e-3, 1000))``."""

from __future__ import annotations

import math
from typing import Any

from .registry import SCHEDULES


class LearningRateSchedule:
    """Base class: constructors store arguments; ``__call__(step)`` returns a float."""

    def __call__(self, step: int) -> float:
        raise NotImplementedError

    def get_config(self) -> dict[str, Any]:
        return dict(vars(self))

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> LearningRateSchedule:
        return cls(**config)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


def _positive(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ValueError(f"{what} must be > 0, got {value!r}")
    return float(value)


def _steps(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{what} must be a positive int (optimizer steps), got {value!r}")
    return value


@SCHEDULES.register("step")
class StepDecay(LearningRateSchedule):
    """``initial_learning_rate * gamma ** (step // step_size)``."""

    def __init__(self, initial_learning_rate: float, step_size: int, gamma: float = 0.1) -> None:
        self.initial_learning_rate = _positive(initial_learning_rate, "initial_learning_rate")
        self.step_size = _steps(step_size, "step_size")
        self.gamma = _positive(gamma, "gamma")

    def __call__(self, step: int) -> float:
        return self.initial_learning_rate * self.gamma ** (step // self.step_size)


@SCHEDULES.register("exponential")
class ExponentialDecay(LearningRateSchedule):
    """``initial_learning_rate * decay_rate ** (step / decay_steps)`` (integer division when
    ``staircase``), as Keras."""

    def __init__(self, initial_learning_rate: float, decay_steps: int, decay_rate: float,
                 staircase: bool = False) -> None:
        self.initial_learning_rate = _positive(initial_learning_rate, "initial_learning_rate")
        self.decay_steps = _steps(decay_steps, "decay_steps")
        self.decay_rate = _positive(decay_rate, "decay_rate")
        self.staircase = bool(staircase)

    def __call__(self, step: int) -> float:
        p = step / self.decay_steps
        return self.initial_learning_rate * self.decay_rate ** (math.floor(p) if self.staircase else p)


@SCHEDULES.register("cosine")
class CosineDecay(LearningRateSchedule):
    """Optional linear warm-up from ``initial_learning_rate`` to ``warmup_target`` over
    ``warmup_steps``, then cosine decay over ``decay_steps`` down to ``alpha`` times the peak,
    held there afterwards (Keras' ``CosineDecay``)."""

    def __init__(self, initial_learning_rate: float, decay_steps: int, alpha: float = 0.0,
                 warmup_steps: int = 0, warmup_target: float | None = None) -> None:
        self.initial_learning_rate = float(initial_learning_rate)
        if self.initial_learning_rate < 0:
            raise ValueError(f"initial_learning_rate must be >= 0, got {initial_learning_rate!r}")
        self.decay_steps = _steps(decay_steps, "decay_steps")
        if not 0.0 <= alpha <= 1.0:
            raise ValueError(f"alpha must be in [0, 1], got {alpha!r}")
        self.alpha = float(alpha)
        if isinstance(warmup_steps, bool) or not isinstance(warmup_steps, int) or warmup_steps < 0:
            raise ValueError(f"warmup_steps must be an int >= 0, got {warmup_steps!r}")
        self.warmup_steps = warmup_steps
        self.warmup_target = None if warmup_target is None else _positive(warmup_target, "warmup_target")

    def __call__(self, step: int) -> float:
        peak = self.initial_learning_rate if self.warmup_target is None else self.warmup_target
        if step < self.warmup_steps:
            return self.initial_learning_rate + (peak - self.initial_learning_rate) * step / self.warmup_steps
        p = min(step - self.warmup_steps, self.decay_steps) / self.decay_steps
        return peak * ((1 - self.alpha) * 0.5 * (1 + math.cos(math.pi * p)) + self.alpha)


@SCHEDULES.register("one_cycle", "onecycle")
class OneCycle(LearningRateSchedule):
    """The one-cycle policy (Smith 2018; PyTorch's ``OneCycleLR`` with cosine annealing):
    from ``max_learning_rate / div_factor`` up to ``max_learning_rate`` over the first
    ``pct_start`` of ``total_steps``, then down to ``initial / final_div_factor`` at the last
    step, held afterwards."""

    def __init__(self, max_learning_rate: float, total_steps: int, pct_start: float = 0.3,
                 div_factor: float = 25.0, final_div_factor: float = 1e4) -> None:
        self.max_learning_rate = _positive(max_learning_rate, "max_learning_rate")
        self.total_steps = _steps(total_steps, "total_steps")
        if not 0.0 < pct_start < 1.0:
            raise ValueError(f"pct_start must be in (0, 1), got {pct_start!r}")
        self.pct_start = float(pct_start)
        self.div_factor = _positive(div_factor, "div_factor")
        self.final_div_factor = _positive(final_div_factor, "final_div_factor")

    @staticmethod
    def _cos(start: float, end: float, pct: float) -> float:
        return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)

    def __call__(self, step: int) -> float:
        initial = self.max_learning_rate / self.div_factor
        final = initial / self.final_div_factor
        peak_step = self.pct_start * self.total_steps - 1
        last = self.total_steps - 1
        step = min(step, last)
        if step <= peak_step:
            return self._cos(initial, self.max_learning_rate, step / peak_step if peak_step > 0 else 1.0)
        return self._cos(self.max_learning_rate, final, (step - peak_step) / (last - peak_step))


def get(identifier: Any) -> LearningRateSchedule:
    """A schedule from a name is not enough (it needs arguments): pass a config dict or object."""
    sched = SCHEDULES.get(identifier)
    if not callable(sched):
        raise ValueError(f"learning-rate schedule must be callable, got {identifier!r}")
    return sched
