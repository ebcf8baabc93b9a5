"""Same seed, same result on any x86-64 CPU: pin OpenBLAS's kernels before NumPy loads it.

NumPy's OpenBLAS picks its matrix-multiply kernels by CPU (``Haswell`` on AVX2 machines,
``SkylakeX`` on AVX-512 ones...), and the kernels sum in different orders, so the same training
run drifts apart in its last bits and ends with other weights. Measured 2026-12-04: the README's
training command on an Intel Xeon (AVX-512) VM gave other weights than on the AMD EPYC VM that
trained the shipped model (test accuracy 96.59% against 96.55%); with ``OPENBLAS_CORETYPE=Haswell``
it gave the shipped model bit for bit, about 6% slower there.

So, when smearnet is imported before NumPy on an x86-64 CPU with AVX2 and the user has not set
``OPENBLAS_CORETYPE``, it sets ``OPENBLAS_CORETYPE=Haswell`` (OpenBLAS reads it once, when it
loads). Set ``OPENBLAS_CORETYPE`` yourself (e.g. to your CPU's own kernel) to opt out.
"""

from __future__ import annotations

import os
import platform
import sys

PINNED = "Haswell"


def _has_avx2() -> bool:
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as f:
            return any(line.startswith("flags") and " avx2" in line for line in f)
    except OSError:  # not Linux: leave the choice to OpenBLAS
        return False


def pin_openblas_kernels() -> str | None:
    """Set ``OPENBLAS_CORETYPE`` as described above; returns the value set, or None."""
    if "numpy" in sys.modules or "OPENBLAS_CORETYPE" in os.environ:
        return None
    if platform.machine().lower() not in ("x86_64", "amd64") or not _has_avx2():
        return None
    os.environ["OPENBLAS_CORETYPE"] = PINNED
    return PINNED
