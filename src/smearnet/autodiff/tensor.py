"""The `Tensor` and the reverse-mode graph: recording ops, sorting without recursion, and
accumulating vector-Jacobian products backwards.

Every op is built with :func:`make`: it receives the forward result, the parent tensors and a
closure ``vjp(g) -> tuple of parent gradients`` that captures only what the gradient needs.
When no parent requires a gradient (or inside :func:`no_grad`) nothing is recorded, so no
activation is kept alive.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np

Array = np.ndarray
VJP = Callable[[Array], Sequence["Array | None"]]

class _ThreadState(threading.local):
    """Grad mode and dtype, per thread (as PyTorch's grad mode): ``no_grad`` in one thread
    never switches recording off or on for another running at the same time."""

    def __init__(self) -> None:
        self.grad_enabled = True
        self.dtype = np.dtype(np.float32)


_state = _ThreadState()


class NoGradientError(RuntimeError):
    """Raised when backward reaches an op that has no gradient rule."""


def default_dtype() -> np.dtype:
    """The floating dtype every tensor is stored in: float32, float64 only inside gradcheck."""
    return _state.dtype


@contextlib.contextmanager
def precision(dtype: Any) -> Iterator[None]:
    """Temporarily compute every new tensor in ``dtype`` (gradient checks use float64)."""
    old = _state.dtype
    _state.dtype = np.dtype(dtype)
    try:
        yield
    finally:
        _state.dtype = old


def is_grad_enabled() -> bool:
    """Whether ops record a graph right now."""
    return _state.grad_enabled


@contextlib.contextmanager
def no_grad() -> Iterator[None]:
    """Record no graph inside the block: outputs have no parents and keep no activations."""
    old = _state.grad_enabled
    _state.grad_enabled = False
    try:
        yield
    finally:
        _state.grad_enabled = old


def as_array(x: Any) -> Array:
    """``x`` as a C-contiguous array of the current default dtype (no copy when it already is)."""
    if isinstance(x, Tensor):
        x = x.data
    a = np.asarray(x, dtype=default_dtype())
    return a if a.flags.c_contiguous else a.copy()  # ascontiguousarray would make 0-d into 1-d


class Tensor:
    """An n-dimensional float32 array that remembers how it was computed.

    Args:
        data: anything ``np.asarray`` accepts; stored as the default dtype (float32).
        requires_grad: whether ``backward`` should fill ``.grad`` for this tensor.
        name: optional label used in error messages and summaries.
    """

    __slots__ = ("data", "grad", "requires_grad", "name", "_parents", "_vjp", "_op", "__weakref__")
    __array_priority__ = 1000  # so ndarray + Tensor calls Tensor.__radd__

    def __init__(self, data: Any, requires_grad: bool = False, name: str | None = None) -> None:
        self.data: Array = as_array(data)
        self.grad: Array | None = None
        self.requires_grad = bool(requires_grad)
        self.name = name
        self._parents: tuple[Tensor, ...] = ()
        self._vjp: VJP | None = None
        self._op: str = "leaf"

    # -- basic properties -------------------------------------------------------------------
    @property
    def shape(self) -> tuple[int, ...]:
        return self.data.shape

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def size(self) -> int:
        return self.data.size

    @property
    def dtype(self) -> np.dtype:
        return self.data.dtype

    @property
    def op(self) -> str:
        """Name of the op that produced this tensor (``"leaf"`` for inputs and parameters)."""
        return self._op

    @property
    def is_leaf(self) -> bool:
        return not self._parents

    def numpy(self) -> Array:
        return self.data

    def item(self) -> float:
        return float(self.data.item())

    def __len__(self) -> int:
        return len(self.data)

    def __repr__(self) -> str:
        grad = ", requires_grad=True" if self.requires_grad else ""
        return f"Tensor({np.array2string(self.data, precision=4, threshold=20)}{grad}, op={self._op})"

    def detach(self) -> Tensor:
        """The same values with no history (shares memory)."""
        out = Tensor.__new__(Tensor)
        out.data, out.grad, out.requires_grad, out.name = self.data, None, False, None
        out._parents, out._vjp, out._op = (), None, "leaf"
        return out

    def zero_grad(self) -> None:
        self.grad = None

    # -- reverse mode -----------------------------------------------------------------------
    def backward(self, grad: Any = None) -> None:
        """Accumulate d(self)/d(leaf) into ``.grad`` of every leaf that requires a gradient.

        Args:
            grad: the upstream gradient, same shape as ``self``; may be omitted for a scalar.

        Gradients add up: calling ``backward`` twice gives twice the gradient (as in PyTorch)
        until ``zero_grad`` clears it.
        """
        if grad is None:
            if self.data.size != 1:
                raise ValueError(
                    f"backward() without a gradient needs a scalar, got shape {self.shape}; "
                    "pass grad= of the same shape"
                )
            grad = np.ones_like(self.data)
        else:
            grad = as_array(grad)
            if grad.shape != self.shape:
                raise ValueError(f"gradient shape {grad.shape} does not match tensor shape {self.shape}")
        if not self.requires_grad:
            raise RuntimeError("backward() on a tensor that does not require a gradient")

        order = _toposort(self)
        grads: dict[int, Array] = {id(self): grad}
        for node in reversed(order):
            g = grads.pop(id(node), None)
            if g is None:
                continue
            if node.is_leaf:
                node.grad = g.copy() if node.grad is None else node.grad + g
                continue
            if node._vjp is None:
                raise NoGradientError(f"op '{node._op}' has no gradient rule")
            parent_grads = node._vjp(g)
            for parent, pg in zip(node._parents, parent_grads):
                if pg is None or not parent.requires_grad:
                    continue
                if pg.shape != parent.shape:
                    raise RuntimeError(
                        f"gradient rule of op '{node._op}' returned shape {pg.shape} "
                        f"for an input of shape {parent.shape}"
                    )
                key = id(parent)
                if key in grads:
                    grads[key] = grads[key] + pg
                else:
                    grads[key] = pg


def _toposort(root: Tensor) -> list[Tensor]:
    """Nodes reachable from ``root`` that require a gradient, parents before children.

    Iterative depth-first search, so a chain of 100,000 ops does not hit the recursion limit.
    """
    order: list[Tensor] = []
    visited: set[int] = set()
    stack: list[tuple[Tensor, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        if done:
            order.append(node)
            continue
        if id(node) in visited:
            continue
        visited.add(id(node))
        stack.append((node, True))
        for p in node._parents:
            if p.requires_grad and id(p) not in visited:
                stack.append((p, False))
    return order


def make(data: Array, parents: Sequence[Tensor], vjp: VJP | None, op: str) -> Tensor:
    """Wrap an op's forward result, recording the graph edge when a gradient is needed.

    Args:
        data: the forward result.
        parents: the tensor inputs, in the order ``vjp`` returns their gradients.
        vjp: ``g -> (grad for each parent or None)``; ``None`` means the op has no gradient
            rule, which is an error only if backward ever reaches it.
        op: the op's name, for error messages.
    """
    out = Tensor.__new__(Tensor)
    out.data = data if data.dtype == default_dtype() else data.astype(default_dtype())
    out.grad = None
    out.name = None
    out._op = op
    if _state.grad_enabled and any(p.requires_grad for p in parents):
        out.requires_grad = True
        out._parents = tuple(parents)
        out._vjp = vjp
    else:
        out.requires_grad = False
        out._parents = ()
        out._vjp = None
    return out


def tensor(data: Any, requires_grad: bool = False) -> Tensor:
    """Shorthand for ``Tensor(data, requires_grad)``."""
    return Tensor(data, requires_grad=requires_grad)


def to_tensor(x: Any) -> Tensor:
    """``x`` if it already is a Tensor, otherwise a constant Tensor holding it."""
    return x if isinstance(x, Tensor) else Tensor(x)
