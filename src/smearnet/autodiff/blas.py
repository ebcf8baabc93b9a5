"""Run small matrix products on one BLAS thread.

OpenBLAS splits every product above a tiny size across all its threads. For a dense layer's
(32 x 576) @ (576 x 256) that buys nothing (the product takes ~0.1 ms), but each call must wake
the worker threads, which sleep while the rest of a training step runs; on a busy machine the
wake-up waits for a free core. Measured on the assignment model's step (2 cores shared with two
other trainings): the dense layers' 21 small products took ~200 ms of an 830 ms step with 2
threads and almost nothing on 1 (step 831 -> 641 ms). Measured in the same setting (workers idle
before the call): 21 M multiply-adds 0.8 ms on one thread vs 6.4 ms on two, 75 M 6.8 vs 7.5 ms,
302 M 16.7 vs 8.8 ms; so products above ``SMALL`` multiply-adds keep every thread.

The thread count is set through NumPy's bundled OpenBLAS (``openblas_set_num_threads``, ~2 us
a call); with any other BLAS this module does nothing. Not thread-safe: a product running in
another Python thread at the same moment may run on one thread.
"""

from __future__ import annotations

import ctypes
import glob
import os
from collections.abc import Callable

import numpy as np

SMALL = 1 << 26  # multiply-adds (~67 M, ~5 ms on one core): below this, one thread

_get: Callable[[], int] | None = None
_set: Callable[[int], None] | None = None


def _find_openblas() -> None:
    global _get, _set
    here = os.path.dirname(np.__file__)
    for path in sorted(glob.glob(os.path.join(here, "..", "numpy.libs", "*openblas*"))
                       + glob.glob(os.path.join(here, ".dylibs", "*openblas*"))):
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for prefix in ("scipy_openblas", "openblas"):
            for suffix in ("64_", ""):
                setter = getattr(lib, f"{prefix}_set_num_threads{suffix}", None)
                getter = getattr(lib, f"{prefix}_get_num_threads{suffix}", None)
                if setter is not None and getter is not None:
                    setter.argtypes, setter.restype = [ctypes.c_int], None
                    getter.argtypes, getter.restype = [], ctypes.c_int
                    _get, _set = getter, setter
                    return


_find_openblas()


def get_threads() -> int | None:
    """NumPy's OpenBLAS thread count now (None with any other BLAS)."""
    return None if _get is None else int(_get())


def set_threads(n: int) -> bool:
    """Set NumPy's OpenBLAS thread count for the whole process (e.g. 1 in each of two worker
    processes sharing two cores). Returns False, doing nothing, with any other BLAS."""
    if _set is None:
        return False
    _set(max(1, int(n)))
    return True


def matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a @ b``, on one BLAS thread when it has fewer than ``SMALL`` multiply-adds."""
    if _set is None or a.ndim == 0 or b.ndim == 0:
        return a @ b
    k = a.shape[-1]
    work = (a.size // max(k, 1)) * k * (b.shape[-1] if b.ndim > 1 else 1)
    if b.ndim > 2:
        work *= int(np.prod(b.shape[:-2]))
    if work >= SMALL:
        return a @ b
    threads = _get()
    if threads <= 1:
        return a @ b
    _set(1)
    try:
        return a @ b
    finally:
        _set(threads)
