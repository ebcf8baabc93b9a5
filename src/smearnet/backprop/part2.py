"""Assignment part 2: the gradient of an L-layer chain by forward and by reverse accumulation.

The chain (biases dropped, as in the assignment; ``n_i`` units in layer ``i``)::

    N_0 = x,   a_i = W_i N_{i-1},   N_i = s_i(a_i)   (i = 1..L),   t = N_L
    loss = 1/2 ||y - t||^2

Each layer's Jacobian is ``J_{N_i}(N_{i-1}) = diag(s_i'(a_i)) W_i`` (n_i x n_{i-1}), and the
gradient is the chain-rule product, the loss's 1 x n_L Jacobian ``g^T = (t - y)^T`` in front::

    dL/dN_i = g^T J_{N_L}(N_{L-1}) ... J_{N_{i+1}}(N_i)
    dL/dW_i = (s_i'(a_i) * dL/dN_i) N_{i-1}^T          (outer product)

The two ways of evaluating that product are the assignment's question 2b:

**Reverse accumulation** (:func:`reverse_accumulation`) starts from the loss: the row vector
``g^T`` times one Jacobian at a time, ``dL/dN_{i-1} = W_i^T (s_i' * dL/dN_i)``, which is a
matrix-vector product, O(n^2) per layer. Every ``dL/dN_i`` appears on the way, so every
``dL/dW_i`` costs one more outer product, O(n^2). The Jacobian is never formed.

**Forward accumulation** (:func:`forward_accumulation`) starts from the first layer and
multiplies whole Jacobians, as matrices, as it goes. To reach ``dL/dW_i`` it needs
``J_{N_L}(N_i)`` for every ``i``, not just ``J_{N_L}(N_0)``, so the formulation chosen here is
forward-mode AD seeded at every layer at once: after layer ``j`` it carries the block row

    Q_j = [ J_{N_j}(N_0) | J_{N_j}(N_1) | ... | J_{N_j}(N_{j-1}) ]     (n_j x (n_0 + ... + n_{j-1}))

updated by one matrix-matrix product per layer, ``Q_j = [ J_{N_j}(N_{j-1}) Q_{j-1} | J_{N_j}(N_{j-1}) ]``
(every entry of ``Q_{j-1}`` is pushed one layer further; the new layer adds its own Jacobian as
a fresh block). At the end ``Q_L^T g`` gives every ``dL/dN_i`` at once. Layer ``j`` multiplies
an n x n Jacobian into ``j - 1`` n x n blocks, so the per-layer cost is O(n^3) and grows with
depth: O(L^2 n^3) in all. Carrying only the input's Jacobian instead
(:func:`forward_input_jacobian`, the literal product of question 2a,
``J_{N_L}(N_0) = J_{N_L}(N_{L-1}) ... J_{N_1}(N_0)`` from the right) costs O(n^3) per layer,
O(L n^3) in all, but yields ``dL/dx`` only; recovering ``J_{N_L}(N_i)`` from it would need
``J_{N_i}(N_0)^{-1}``, which a relu layer makes singular.

:func:`flop_counts` gives the exact operation counts of these functions (a
:class:`FlopCounter` threaded through them counts the same operations at run time, and the
tests check the two agree).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from smearnet import autodiff as ad

Array = np.ndarray


def _sigmoid(a: Array) -> Array:
    return 0.5 * (1.0 + np.tanh(0.5 * a))  # equals 1 / (1 + e^-a), never overflows


# name -> (s(a), s'(a) given a and s(a), the engine's op)
ACTIVATIONS: dict[str, tuple[Callable[[Array], Array], Callable[[Array, Array], Array],
                             Callable[[ad.Tensor], ad.Tensor]]] = {
    "relu": (lambda a: np.maximum(a, 0), lambda a, s: (a > 0).astype(a.dtype), ad.relu),
    "tanh": (np.tanh, lambda a, s: 1 - s * s, ad.tanh),
    "sigmoid": (_sigmoid, lambda a, s: s * (1 - s), ad.sigmoid),
    "identity": (lambda a: a, lambda a, s: np.ones_like(a), lambda t: t),
}


@dataclass
class Chain:
    """``L`` weight matrices (``weights[i]`` has shape (n_{i+1}, n_i)) and one activation
    name per layer (``"relu"``, ``"tanh"``, ``"sigmoid"`` or ``"identity"``)."""

    weights: list[Array]
    activations: list[str]

    def __post_init__(self) -> None:
        if len(self.weights) != len(self.activations):
            raise ValueError(f"{len(self.weights)} weight matrices but {len(self.activations)} activations")
        for i, name in enumerate(self.activations):
            if name not in ACTIVATIONS:
                raise ValueError(f"layer {i + 1}: unknown activation {name!r}; "
                                 f"choose from {sorted(ACTIVATIONS)}")
        for i in range(1, len(self.weights)):
            if self.weights[i].shape[1] != self.weights[i - 1].shape[0]:
                raise ValueError(f"layer {i + 1}: weight shape {self.weights[i].shape} does not take "
                                 f"layer {i}'s output of size {self.weights[i - 1].shape[0]}")

    @property
    def depth(self) -> int:
        return len(self.weights)

    @property
    def widths(self) -> list[int]:
        """``[n_0, n_1, ..., n_L]``."""
        return [self.weights[0].shape[1]] + [w.shape[0] for w in self.weights]


@dataclass
class ChainGradients:
    """``x`` = dL/dx (n_0,); ``weights[i]`` = dL/dW_{i+1} (empty when not computed);
    ``loss``; ``jacobian`` = J_{N_L}(N_0) (n_L, n_0) where the method forms it."""

    x: Array
    weights: list[Array]
    loss: float
    jacobian: Array | None = field(default=None, repr=False)


class FlopCounter:
    """Performs the few array operations the accumulations use and counts their FLOPs.

    Convention: a multiply and an add are one FLOP each, so an (m, k) @ (k, p) product costs
    ``2 m k p``; an elementwise product or difference costs one FLOP per output element.
    Activation functions, their derivatives and the loss value are not counted: they are O(n)
    per layer and identical in every method.
    """

    def __init__(self) -> None:
        self.flops = 0

    def mm(self, a: Array, b: Array) -> Array:
        """``a @ b`` for a 2-D ``a`` and a 1-D or 2-D ``b``."""
        self.flops += 2 * a.shape[0] * a.shape[1] * (b.shape[1] if b.ndim == 2 else 1)
        return a @ b

    def ew(self, out: Array) -> Array:
        """Count an elementwise result (product, difference, outer product, row scaling)."""
        self.flops += out.size
        return out


def random_chain(widths: Sequence[int], activation: str | Sequence[str] = "tanh", seed: int = 0,
                 dtype: type = np.float32) -> tuple[Chain, Array, Array]:
    """A random chain with an input and a target: ``(chain, x (n_0,), y (n_L,))``.

    Args:
        widths: ``[n_0, n_1, ..., n_L]``; ``len(widths) - 1`` layers.
        activation: one name for every layer, or one per layer.
        seed, dtype: the random seed and the arrays' dtype.

    Weights are drawn ``N(0, gain / n_in)`` (gain 2 for relu, 1 otherwise) so activations keep
    their scale with depth and deep float32 products neither overflow nor vanish.
    """
    depth = len(widths) - 1
    if depth < 1:
        raise ValueError(f"widths needs at least two entries (input and one layer), got {list(widths)}")
    names = [activation] * depth if isinstance(activation, str) else list(activation)
    rng = np.random.default_rng(seed)
    weights = []
    for i, name in enumerate(names):
        gain = 2.0 if name == "relu" else 1.0
        w = rng.standard_normal((widths[i + 1], widths[i])) * np.sqrt(gain / widths[i])
        weights.append(w.astype(dtype))
    x = rng.standard_normal(widths[0]).astype(dtype)
    y = rng.standard_normal(widths[-1]).astype(dtype)
    return Chain(weights, names), x, y


def _forward(chain: Chain, x: Array, ops: FlopCounter) -> tuple[list[Array], list[Array]]:
    """The forward pass: ``N = [N_0, ..., N_L]`` and ``D = [s_1'(a_1), ..., s_L'(a_L)]``."""
    N, D = [x], []
    for W, name in zip(chain.weights, chain.activations):
        act, dact, _ = ACTIVATIONS[name]
        a = ops.mm(W, N[-1])
        s = act(a)
        N.append(s)
        D.append(dact(a, s))
    return N, D


def _loss(t: Array, y: Array) -> float:
    r = (y - t).astype(np.float64)
    return float(0.5 * (r @ r))


def reverse_accumulation(chain: Chain, x: Array, y: Array,
                         counter: FlopCounter | None = None) -> ChainGradients:
    """dL/dx and every dL/dW_i by vector-Jacobian products from the loss backwards.

    Per layer (from L down to 1): ``delta = s' * g`` (n), ``dL/dW = delta N_{i-1}^T`` (n^2),
    ``g = W^T delta`` (2 n^2): O(n^2), and no n x n Jacobian is ever formed.
    """
    ops = counter or FlopCounter()
    N, D = _forward(chain, x, ops)
    g = ops.ew(N[-1] - y)  # dL/dt for L = 1/2 ||y - t||^2
    grads: list[Array] = [np.empty(0)] * chain.depth
    for i in reversed(range(chain.depth)):
        delta = ops.ew(D[i] * g)  # dL/da_{i+1}
        grads[i] = ops.ew(np.outer(delta, N[i]))
        g = ops.mm(chain.weights[i].T, delta)  # dL/dN_i: a vector-Jacobian product
    return ChainGradients(x=g, weights=grads, loss=_loss(N[-1], y))


def forward_accumulation(chain: Chain, x: Array, y: Array,
                         counter: FlopCounter | None = None) -> ChainGradients:
    """dL/dx and every dL/dW_i by multiplying whole Jacobians, first layer first.

    Carries ``Q_j = [J_{N_j}(N_0) | ... | J_{N_j}(N_{j-1})]`` (see the module docstring): layer
    ``j`` forms its Jacobian ``M_j = diag(s_j') W_j`` and computes ``[M_j Q_{j-1} | M_j]``, a
    matrix-matrix product of cost ``2 n^3 (j - 1)`` for width n. Only then does the loss enter:
    ``Q_L^T g`` gives every ``dL/dN_i``. The returned ``jacobian`` is ``J_{N_L}(N_0)``.
    """
    ops = counter or FlopCounter()
    N, D = _forward(chain, x, ops)
    Q: Array | None = None
    for W, d in zip(chain.weights, D):
        M = ops.ew(d[:, None] * W)  # J_{N_j}(N_{j-1})
        Q = M if Q is None else np.concatenate([ops.mm(M, Q), M], axis=1)
    assert Q is not None
    g = ops.ew(N[-1] - y)
    u = ops.mm(Q.T, g)  # [dL/dN_0 | ... | dL/dN_{L-1}]
    bounds = np.cumsum(chain.widths[:-1])[:-1]
    dN = np.split(u, bounds) + [g]  # dL/dN_0 ... dL/dN_L
    grads = [ops.ew(np.outer(ops.ew(D[i] * dN[i + 1]), N[i])) for i in range(chain.depth)]
    return ChainGradients(x=dN[0], weights=grads, loss=_loss(N[-1], y),
                          jacobian=Q[:, :chain.widths[0]])


def forward_input_jacobian(chain: Chain, x: Array, y: Array,
                           counter: FlopCounter | None = None) -> ChainGradients:
    """Question 2a's product only: ``J_{N_L}(N_0) = J_{N_L}(N_{L-1}) ... J_{N_1}(N_0)``,
    accumulated from the first layer on (``P_j = M_j P_{j-1}``, 2 n^3 per layer), then
    ``dL/dx = P_L^T g``. Gives dL/dx and the Jacobian; no weight gradients."""
    ops = counter or FlopCounter()
    N, D = _forward(chain, x, ops)
    P: Array | None = None
    for W, d in zip(chain.weights, D):
        M = ops.ew(d[:, None] * W)
        P = M if P is None else ops.mm(M, P)
    assert P is not None
    g = ops.ew(N[-1] - y)
    return ChainGradients(x=ops.mm(P.T, g), weights=[], loss=_loss(N[-1], y), jacobian=P)


def engine_chain_gradients(chain: Chain, x: Array, y: Array,
                           dtype: type = np.float64) -> ChainGradients:
    """The same gradients from the ``smearnet.autodiff`` engine, computed in ``dtype``."""
    with ad.precision(dtype):
        xt = ad.Tensor(x, requires_grad=True)
        ws = [ad.Tensor(w, requires_grad=True) for w in chain.weights]
        h = xt
        for w, name in zip(ws, chain.activations):
            h = ACTIVATIONS[name][2](ad.matmul(w, h))
        r = ad.Tensor(y) - h
        loss = 0.5 * (r * r).sum()
        loss.backward()
    return ChainGradients(x=xt.grad, weights=[w.grad for w in ws], loss=loss.item())


def flop_counts(n: int, L: int) -> dict[str, int]:
    """Exact FLOPs of each function above for L layers of width n (:class:`FlopCounter`'s rules).

    Every method first runs the forward pass, ``2 L n^2`` (one matrix-vector product a layer):

    - ``reverse``: forward pass + ``n`` (g = t - y) + ``L (n + n^2 + 2 n^2)``
      = ``5 L n^2 + L n + n``, i.e. O(n^2) per layer.
    - ``forward``: forward pass + ``L n^2`` (forming each diag(s') W)
      + ``sum_{j=2..L} 2 n^3 (j - 1)`` = ``L (L - 1) n^3`` (the Jacobian products)
      + ``n`` + ``2 L n^2`` (Q_L^T g) + ``L n + L n^2`` (the weight gradients)
      = ``L (L - 1) n^3 + 6 L n^2 + L n + n``: O(n^3) per layer, O(L^2 n^3) in all.
    - ``forward_input``: forward pass + ``L n^2`` + ``2 (L - 1) n^3`` + ``n`` + ``2 n^2``
      = ``2 (L - 1) n^3 + 3 L n^2 + 2 n^2 + n``.
    - ``forward_pass``: ``2 L n^2``, included in each of the above.
    """
    return {
        "forward": L * (L - 1) * n**3 + 6 * L * n**2 + L * n + n,
        "forward_input": 2 * (L - 1) * n**3 + 3 * L * n**2 + 2 * n**2 + n,
        "reverse": 5 * L * n**2 + L * n + n,
        "forward_pass": 2 * L * n**2,
    }


METHODS: dict[str, Callable[..., ChainGradients]] = {
    "forward": forward_accumulation,
    "forward_input": forward_input_jacobian,
    "reverse": reverse_accumulation,
}
