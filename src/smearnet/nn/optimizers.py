"""Optimizers over a list of parameter Tensors: SGD (momentum, Nesterov), Adam, AdamW, RMSprop.

An optimizer is given its parameters by ``build(params)`` (``compile`` does this with the
model's trainable weights); layers never own one. ``step()`` reads each parameter's ``.grad``
and updates ``.data`` in place; a parameter whose grad is None is skipped.
``get_state()`` / ``set_state()`` expose the step count and every slot array, which is what a
checkpoint needs for a bit-exact resume. ``learning_rate`` is a float (reassignable, e.g. by
the ``LearningRateScheduler`` callback) or a schedule evaluated at the current step.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np

from ..autodiff import Tensor
from . import schedules
from .registry import OPTIMIZERS, SCHEDULES


class Optimizer:
    """Base class.

    Args:
        learning_rate: a float or a :class:`~smearnet.nn.schedules.LearningRateSchedule`.
        global_clipnorm: if set, all gradients are scaled together so their joint L2 norm is
            at most this.
        params: optional; the same as calling ``build(params)``.
    """

    slot_names: tuple[str, ...] = ()

    def __init__(self, learning_rate: Any = 0.001, global_clipnorm: float | None = None,
                 params: Iterable[Tensor] | None = None) -> None:
        self.learning_rate = learning_rate
        if global_clipnorm is not None and not global_clipnorm > 0:
            raise ValueError(f"global_clipnorm must be > 0, got {global_clipnorm!r}")
        self.global_clipnorm = None if global_clipnorm is None else float(global_clipnorm)
        self.iterations = 0
        self.params: list[Tensor] = []
        self.slots: dict[str, list[np.ndarray]] = {n: [] for n in self.slot_names}
        if params is not None:
            self.build(params)

    # -- learning rate ----------------------------------------------------------------------
    @property
    def learning_rate(self) -> Any:
        return self._learning_rate

    @learning_rate.setter
    def learning_rate(self, value: Any) -> None:
        if isinstance(value, dict):
            value = schedules.get(value)
        if isinstance(value, schedules.LearningRateSchedule):
            self._learning_rate = value
            return
        if isinstance(value, bool) or not isinstance(value, (int, float, np.floating)) or not value >= 0:
            raise ValueError(f"learning_rate must be a number >= 0 or a schedule, got {value!r}")
        self._learning_rate = float(value)

    @property
    def current_learning_rate(self) -> float:
        """The rate the next ``step`` will use."""
        lr = self._learning_rate
        return float(lr(self.iterations)) if callable(lr) else lr

    # -- parameters and steps ---------------------------------------------------------------
    def build(self, params: Iterable[Tensor]) -> None:
        """Attach the parameters and create zeroed slots (momentum, moments...) for each."""
        params = list(params)
        for p in params:
            if not isinstance(p, Tensor) or not p.requires_grad:
                raise ValueError(f"optimizers update Tensors with requires_grad=True, got {p!r}")
        self.params = params
        self.slots = {n: [np.zeros_like(p.data) for p in params] for n in self.slot_names}

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = None

    def step(self) -> None:
        """Apply one update from every parameter's ``.grad``."""
        grads = [p.grad for p in self.params]
        if self.global_clipnorm is not None:
            norm = math.sqrt(sum(float(np.vdot(g, g)) for g in grads if g is not None))
            if norm > self.global_clipnorm:
                scale = np.float32(self.global_clipnorm / norm)
                grads = [None if g is None else g * scale for g in grads]
        lr = self.current_learning_rate
        self.iterations += 1
        for i, (p, g) in enumerate(zip(self.params, grads)):
            if g is not None:
                self.update(i, p.data, np.asarray(g, dtype=p.data.dtype), lr)

    def apply_gradients(self, grads_and_vars: Iterable[tuple[Any, Tensor]]) -> None:
        """Keras-style: set each variable's gradient and take one step (builds if needed)."""
        pairs = list(grads_and_vars)
        if not self.params:
            self.build([v for _, v in pairs])
        for g, v in pairs:
            v.grad = None if g is None else np.asarray(g, dtype=v.data.dtype)
        self.step()

    def update(self, i: int, p: np.ndarray, g: np.ndarray, lr: float) -> None:
        """Update parameter ``i`` (array ``p``, in place) from gradient ``g``."""
        raise NotImplementedError

    # -- state and config -------------------------------------------------------------------
    def get_state(self) -> dict[str, Any]:
        """``{"iterations": int, "slots": {slot: [array per parameter]}}`` (copies)."""
        return {"iterations": self.iterations,
                "slots": {n: [a.copy() for a in arrs] for n, arrs in self.slots.items()}}

    def set_state(self, state: dict[str, Any]) -> None:
        """Restore what ``get_state`` returned; shapes must match the built parameters."""
        slots = state.get("slots", {})
        if set(slots) != set(self.slot_names):
            raise ValueError(f"{type(self).__name__} state needs slots {sorted(self.slot_names)}, "
                             f"got {sorted(slots)}")
        for n in self.slot_names:
            arrs = slots[n]
            if len(arrs) != len(self.params):
                raise ValueError(f"optimizer slot {n!r} has {len(arrs)} arrays for {len(self.params)} parameters")
            for p, a in zip(self.params, arrs):
                if np.shape(a) != p.shape:
                    raise ValueError(f"optimizer slot {n!r} of {p.name}: shape {np.shape(a)} != {p.shape}")
        self.slots = {n: [np.array(a, dtype=np.float32) for a in slots[n]] for n in self.slot_names}
        self.iterations = int(state["iterations"])

    def get_config(self) -> dict[str, Any]:
        lr = self._learning_rate
        return {"learning_rate": SCHEDULES.serialize(lr) if callable(lr) else lr,
                "global_clipnorm": self.global_clipnorm}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Optimizer:
        return cls(**config)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.get_config()})"


@OPTIMIZERS.register()
class SGD(Optimizer):
    """Gradient descent with optional momentum (Keras form: ``v = m v - lr g; p += v``;
    Nesterov: ``p += m v - lr g``). Equal to PyTorch's SGD for a constant rate."""

    slot_names = ("velocity",)

    def __init__(self, learning_rate: Any = 0.01, momentum: float = 0.0, nesterov: bool = False,
                 **kwargs: Any) -> None:
        if not 0.0 <= momentum < 1.0:
            raise ValueError(f"momentum must be in [0, 1), got {momentum!r}")
        if nesterov and momentum == 0.0:
            raise ValueError("nesterov=True needs momentum > 0")
        self.momentum, self.nesterov = float(momentum), bool(nesterov)
        self.slot_names = ("velocity",) if momentum else ()
        super().__init__(learning_rate, **kwargs)

    def update(self, i: int, p: np.ndarray, g: np.ndarray, lr: float) -> None:
        if self.momentum == 0.0:
            p -= np.float32(lr) * g
            return
        v = self.slots["velocity"][i]
        v *= np.float32(self.momentum)
        v -= np.float32(lr) * g
        if self.nesterov:
            p += np.float32(self.momentum) * v - np.float32(lr) * g
        else:
            p += v

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "momentum": self.momentum, "nesterov": self.nesterov}


@OPTIMIZERS.register()
class Adam(Optimizer):
    """Adam (Kingma & Ba) with bias correction:
    ``p -= lr * m_hat / (sqrt(v_hat) + epsilon)``, ``m_hat = m / (1 - beta_1^t)``,
    ``v_hat = v / (1 - beta_2^t)``. Defaults as Keras (epsilon 1e-7)."""

    slot_names = ("m", "v")

    def __init__(self, learning_rate: Any = 0.001, beta_1: float = 0.9, beta_2: float = 0.999,
                 epsilon: float = 1e-7, **kwargs: Any) -> None:
        for what, b in (("beta_1", beta_1), ("beta_2", beta_2)):
            if not 0.0 <= b < 1.0:
                raise ValueError(f"{what} must be in [0, 1), got {b!r}")
        if not epsilon > 0:
            raise ValueError(f"epsilon must be > 0, got {epsilon!r}")
        self.beta_1, self.beta_2, self.epsilon = float(beta_1), float(beta_2), float(epsilon)
        super().__init__(learning_rate, **kwargs)

    def update(self, i: int, p: np.ndarray, g: np.ndarray, lr: float) -> None:
        m, v, t = self.slots["m"][i], self.slots["v"][i], self.iterations
        m *= np.float32(self.beta_1)
        m += np.float32(1 - self.beta_1) * g
        v *= np.float32(self.beta_2)
        v += np.float32(1 - self.beta_2) * (g * g)
        step_size = lr / (1 - self.beta_1 ** t)
        denom = np.sqrt(v) / np.float32(math.sqrt(1 - self.beta_2 ** t))
        denom += np.float32(self.epsilon)
        p -= np.float32(step_size) * m / denom

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2,
                "epsilon": self.epsilon}


@OPTIMIZERS.register()
class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter): each step first shrinks
    ``p *= 1 - lr * weight_decay``, then applies the Adam update. Keras' default decay 0.004."""

    def __init__(self, learning_rate: Any = 0.001, weight_decay: float = 0.004,
                 **kwargs: Any) -> None:
        if not weight_decay >= 0:
            raise ValueError(f"weight_decay must be >= 0, got {weight_decay!r}")
        self.weight_decay = float(weight_decay)
        super().__init__(learning_rate, **kwargs)

    def update(self, i: int, p: np.ndarray, g: np.ndarray, lr: float) -> None:
        if self.weight_decay:
            p *= np.float32(1 - lr * self.weight_decay)
        super().update(i, p, g, lr)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "weight_decay": self.weight_decay}


@OPTIMIZERS.register()
class RMSprop(Optimizer):
    """RMSprop: ``v = rho v + (1 - rho) g^2``; ``p -= lr g / (sqrt(v) + epsilon)`` (with
    ``centered``, ``v`` minus the squared running mean gradient; with ``momentum``, the step
    goes through a velocity). Same update as PyTorch's RMSprop (``alpha = rho``)."""

    slot_names = ("v", "mean_grad", "velocity")

    def __init__(self, learning_rate: Any = 0.001, rho: float = 0.9, momentum: float = 0.0,
                 epsilon: float = 1e-7, centered: bool = False, **kwargs: Any) -> None:
        if not 0.0 <= rho < 1.0 or not 0.0 <= momentum < 1.0:
            raise ValueError(f"rho and momentum must be in [0, 1), got {rho!r}, {momentum!r}")
        self.rho, self.momentum, self.epsilon = float(rho), float(momentum), float(epsilon)
        self.centered = bool(centered)
        self.slot_names = ("v",) + (("mean_grad",) if centered else ()) + (("velocity",) if momentum else ())
        super().__init__(learning_rate, **kwargs)

    def update(self, i: int, p: np.ndarray, g: np.ndarray, lr: float) -> None:
        v = self.slots["v"][i]
        v *= np.float32(self.rho)
        v += np.float32(1 - self.rho) * (g * g)
        if self.centered:
            mg = self.slots["mean_grad"][i]
            mg *= np.float32(self.rho)
            mg += np.float32(1 - self.rho) * g
            denom = np.sqrt(np.maximum(v - mg * mg, 0))
        else:
            denom = np.sqrt(v)
        denom += np.float32(self.epsilon)
        if self.momentum:
            buf = self.slots["velocity"][i]
            buf *= np.float32(self.momentum)
            buf += g / denom
            p -= np.float32(lr) * buf
        else:
            p -= np.float32(lr) * g / denom

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "rho": self.rho, "momentum": self.momentum,
                "epsilon": self.epsilon, "centered": self.centered}


def get(identifier: Any) -> Optimizer:
    """An optimizer from a name (``"adam"``, ``"sgd"``, ``"adamw"``, ``"rmsprop"``), a config or
    an instance."""
    opt = OPTIMIZERS.get(identifier)
    if not isinstance(opt, Optimizer):
        raise ValueError(f"optimizer must be a name or an Optimizer, got {identifier!r}")
    return opt

