"""Assignment part 1: the gradient of one ReLU layer with squared loss, three ways.

The layer (one sample; ``m`` inputs, ``k`` units)::

    h = W x + b          W (k, m), x (m,), b (k,)
    t = relu(h)
    L = 1/2 ||y - t||^2  y (k,)

Chain rule, with the assignment's convention that relu'(h) = 0 at h <= 0::

    delta = dL/dh = -(y - t) * 1[h > 0]      (k,)
    dL/dW = delta x^T                        (k, m)   outer product
    dL/db = delta                            (k,)

Batched form (``B`` samples as rows, the loss summed over the batch)::

    H = X W^T + b,  T = relu(H),  L = 1/2 sum_b ||y_b - t_b||^2
    Delta = -(Y - T) * 1[H > 0]  (B, k);  dL/dW = Delta^T X;  dL/db = sum_b Delta_b

:func:`three_way_check` computes the gradient in closed form, with the ``smearnet.autodiff``
engine, and by central finite differences, all in float64, and reports how far apart they are.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from smearnet import autodiff as ad


@dataclass
class Part1Gradients:
    """``dL/dW`` (k, m) and ``dL/db`` (k,); ``delta`` = dL/dh where the method exposes it."""

    W: np.ndarray
    b: np.ndarray
    delta: np.ndarray | None = None


@dataclass
class Part1Check:
    """The three gradients of one problem and how far apart they are.

    ``errors[(a, b)]`` is ``{"W": e, "b": e}`` with ``e = max|g_a - g_b| / max(max|g_a|,
    max|g_b|, 1e-12)`` (the error relative to the gradient's own scale), for the pairs
    ``("closed", "engine")``, ``("closed", "fd")`` and ``("engine", "fd")``.
    """

    h: np.ndarray
    t: np.ndarray
    loss: float
    closed: Part1Gradients
    engine: Part1Gradients
    fd: Part1Gradients
    errors: dict[tuple[str, str], dict[str, float]] = field(default_factory=dict)
    min_abs_h: float = 0.0
    fd_eps: float = 1e-6

    @property
    def worst(self) -> float:
        """The largest error over every pair and both parameters."""
        return max(e for pair in self.errors.values() for e in pair.values())

    @property
    def fd_trustworthy(self) -> bool:
        """False when some ``|h|`` is so close to relu's kink that a finite-difference step
        could cross it (the difference quotient then averages the two one-sided slopes)."""
        return self.min_abs_h > 1e3 * self.fd_eps


def _f64(*arrays: np.ndarray) -> list[np.ndarray]:
    return [np.asarray(a, dtype=np.float64) for a in arrays]


def layer_forward(W: np.ndarray, b: np.ndarray, x: np.ndarray,
                  y: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """``(h, t, L)`` for one sample (x (m,), y (k,)) or a batch (x (B, m), y (B, k)).

    Shapes: ``W (k, m)``, ``b (k,)``; ``h`` and ``t`` have ``y``'s shape; ``L`` is a float
    (summed over the batch). Computed in the inputs' dtype.
    """
    h = x @ W.T + b
    t = np.maximum(h, 0)
    r = y - t
    return h, t, float(0.5 * np.sum(r * r))


def closed_form_gradients(W: np.ndarray, b: np.ndarray, x: np.ndarray,
                          y: np.ndarray) -> Part1Gradients:
    """The hand-derived gradient: ``delta = -(y - t) * 1[h > 0]``, ``dW = delta x^T``, ``db = delta``.

    Accepts one sample (x (m,), y (k,)) or a batch (x (B, m), y (B, k)); for a batch the
    per-sample gradients are summed (``dW = Delta^T X``, ``db = Delta.sum(0)``), because the
    loss is the sum of the per-sample losses. ``delta`` keeps ``y``'s shape.
    """
    h, t, _ = layer_forward(W, b, x, y)
    delta = -(y - t) * (h > 0)  # relu'(h) = 0 at h <= 0, the assignment's convention
    if x.ndim == 1:
        return Part1Gradients(W=np.outer(delta, x), b=delta, delta=delta)
    return Part1Gradients(W=delta.T @ x, b=delta.sum(axis=0), delta=delta)


def engine_gradients(W: np.ndarray, b: np.ndarray, x: np.ndarray, y: np.ndarray,
                     dtype: type = np.float64) -> Part1Gradients:
    """The same gradient from ``smearnet.autodiff`` (reverse mode), computed in ``dtype``.

    The graph is written exactly as the assignment writes the layer:
    ``L = 0.5 * sum((y - relu(x @ W^T + b))^2)``.
    """
    with ad.precision(dtype):
        Wt = ad.Tensor(W, requires_grad=True)
        bt = ad.Tensor(b, requires_grad=True)
        h = ad.matmul(ad.Tensor(x), Wt.T) + bt
        r = ad.Tensor(y) - ad.relu(h)
        loss = 0.5 * (r * r).sum()
        loss.backward()
    return Part1Gradients(W=Wt.grad, b=bt.grad)


def finite_difference_gradients(W: np.ndarray, b: np.ndarray, x: np.ndarray, y: np.ndarray,
                                eps: float = 1e-6) -> Part1Gradients:
    """Central differences ``(L(p + eps) - L(p - eps)) / (2 eps)`` for every entry of W and b, in float64.

    Near relu's kink (``|h| < eps * |x|``) a step can cross it and the quotient is then the
    average of the two one-sided slopes, not the assignment's convention; see
    :attr:`Part1Check.fd_trustworthy`.
    """
    W, b, x, y = _f64(W, b, x, y)
    grads = []
    for p in (W, b):
        g = np.zeros_like(p)
        flat, gflat = p.reshape(-1), g.reshape(-1)  # views: editing flat edits W or b
        for i in range(flat.size):
            old = flat[i]
            flat[i] = old + eps
            up = layer_forward(W, b, x, y)[2]
            flat[i] = old - eps
            down = layer_forward(W, b, x, y)[2]
            flat[i] = old
            gflat[i] = (up - down) / (2 * eps)
        grads.append(g)
    return Part1Gradients(W=grads[0], b=grads[1])


def relative_error(a: np.ndarray, b: np.ndarray) -> float:
    """``max|a - b| / max(max|a|, max|b|, 1e-12)``: the error relative to the gradient's scale."""
    scale = max(np.abs(a).max(initial=0), np.abs(b).max(initial=0), 1e-12)
    return float(np.abs(a - b).max(initial=0) / scale)


def three_way_check(W: np.ndarray, b: np.ndarray, x: np.ndarray, y: np.ndarray,
                    eps: float = 1e-6) -> Part1Check:
    """Closed form vs engine vs central finite differences, all in float64.

    Args:
        W: (k, m) weights; b: (k,) bias; x: (m,) or (B, m) input; y: like ``h`` (k,) or (B, k).
        eps: the finite-difference step.

    Returns:
        A :class:`Part1Check` holding the forward values, the three gradients and their
        pairwise relative errors. With float64 and ``h`` away from 0, expect about 1e-16 for
        closed form vs engine and below 1e-8 against finite differences.
    """
    W, b, x, y = _f64(W, b, x, y)
    h, t, loss = layer_forward(W, b, x, y)
    grads = {
        "closed": closed_form_gradients(W, b, x, y),
        "engine": engine_gradients(W, b, x, y),
        "fd": finite_difference_gradients(W, b, x, y, eps=eps),
    }
    errors = {}
    for a, c in (("closed", "engine"), ("closed", "fd"), ("engine", "fd")):
        errors[(a, c)] = {"W": relative_error(grads[a].W, grads[c].W),
                          "b": relative_error(grads[a].b, grads[c].b)}
    return Part1Check(h=h, t=t, loss=loss, closed=grads["closed"], engine=grads["engine"],
                      fd=grads["fd"], errors=errors, min_abs_h=float(np.abs(h).min()),
                      fd_eps=eps)


def example_problem(seed: int | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A small readable problem ``(W (3, 4), b (3,), x (4,), y (3,))`` in float64.

    Without a seed: fixed, hand-picked values where the third unit (index 2) is inactive
    (``h < 0``) although its target is not 0, so the relu gate visibly zeroes its row of
    ``dL/dW``. With a seed: random values rounded to one
    decimal (``|h|`` kept away from 0 so finite differences stay valid).
    """
    if seed is None:
        W = np.array([[0.5, -0.2, 0.1, 0.3],
                      [-0.4, 0.6, -0.3, -0.5],
                      [0.2, 0.1, 0.4, -0.1]])
        b = np.array([0.1, -0.2, -0.3])
        x = np.array([1.0, 2.0, -1.0, 0.5])
        y = np.array([1.0, 0.5, 0.4])
        return W, b, x, y
    rng = np.random.default_rng(seed)
    while True:
        W = np.round(rng.uniform(-1, 1, (3, 4)), 1)
        b = np.round(rng.uniform(-0.5, 0.5, 3), 1)
        x = np.round(rng.uniform(-2, 2, 4), 1)
        y = np.round(rng.uniform(0, 1, 3), 1)
        if np.abs(W @ x + b).min() > 0.05:
            return W, b, x, y
