"""Keep freed large buffers inside the process instead of handing them back to the kernel.

A training step allocates and frees the same large arrays (activations, im2col matrices,
gradients) every step. glibc's default serves each array above a (dynamic, at most 32 MB)
threshold with a fresh ``mmap`` and returns freed heap tops to the kernel, so every step
page-faults the same memory in again and the kernel zeroes it again. Measured on the cellnet
benchmark step (2 cores): 13,000 page faults and ~190 ms of system time per step, gone with the
two settings below (step 1,190 -> 700 ms). PyTorch avoids the same cost with its caching
allocator. The price: the process keeps its peak heap after the step instead of shrinking.

Applied once when ``smearnet.autodiff`` is imported, on Linux with glibc only; set the
environment variable ``SMEARNET_MALLOC_TUNING=0`` to leave the allocator alone.
"""

from __future__ import annotations

import ctypes
import os
import sys

M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
_applied: bool | None = None


def tune_allocator() -> bool:
    """Raise glibc's mmap and trim thresholds (1 GiB, 2 GiB); True if they are now in effect."""
    global _applied
    if _applied is not None:
        return _applied
    _applied = False
    if os.environ.get("SMEARNET_MALLOC_TUNING", "1") == "0" or not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None)
        mallopt = libc.mallopt
        libc.gnu_get_libc_version  # glibc only: other C libraries ignore or lack these knobs
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]  # int value: 2**32 would wrap to 0
    mallopt.restype = ctypes.c_int
    _applied = bool(mallopt(M_MMAP_THRESHOLD, 1 << 30)) and bool(mallopt(M_TRIM_THRESHOLD, 2**31 - 1))
    return _applied
