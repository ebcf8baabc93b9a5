"""Operators and methods on `Tensor`, bound to the functional ops (one place, no cycles)."""

from __future__ import annotations

from typing import Any

from . import math as m
from . import reduce as r
from . import shape as s
from .tensor import Tensor, to_tensor


def _install() -> None:
    T = Tensor
    T.__add__ = lambda a, b: m.add(a, b)
    T.__radd__ = lambda a, b: m.add(b, a)
    T.__sub__ = lambda a, b: m.sub(a, b)
    T.__rsub__ = lambda a, b: m.sub(b, a)
    T.__mul__ = lambda a, b: m.mul(a, b)
    T.__rmul__ = lambda a, b: m.mul(b, a)
    T.__truediv__ = lambda a, b: m.div(a, b)
    T.__rtruediv__ = lambda a, b: m.div(b, a)
    T.__neg__ = lambda a: m.neg(a)
    T.__pow__ = lambda a, p: m.pow(a, p)
    T.__matmul__ = lambda a, b: m.matmul(a, b)
    T.__rmatmul__ = lambda a, b: m.matmul(b, a)
    T.__getitem__ = lambda a, i: s.getitem(a, i)
    T.exp = m.exp
    T.log = m.log
    T.sqrt = m.sqrt
    T.abs = m.abs
    T.relu = m.relu
    T.sigmoid = m.sigmoid
    T.tanh = m.tanh
    T.sum = r.sum
    T.mean = r.mean
    T.max = r.max
    T.transpose = s.transpose
    T.flatten = s.flatten
    T.T = property(lambda a: s.transpose(a))

    def reshape(a: Tensor, *shape: Any) -> Tensor:
        return s.reshape(a, shape[0] if len(shape) == 1 else shape)

    T.reshape = reshape
    # Comparisons give constant masks: they have no gradient and record no graph.
    T.__gt__ = lambda a, b: Tensor(a.data > to_tensor(b).data)
    T.__lt__ = lambda a, b: Tensor(a.data < to_tensor(b).data)
    T.__ge__ = lambda a, b: Tensor(a.data >= to_tensor(b).data)
    T.__le__ = lambda a, b: Tensor(a.data <= to_tensor(b).data)


_install()
