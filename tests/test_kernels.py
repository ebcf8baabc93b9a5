"""OpenBLAS's kernels are pinned when smearnet is imported first, so a seed gives the same
weights on every x86-64 CPU with AVX2 (see smearnet/_kernels.py)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from smearnet._kernels import _has_avx2

PROBE = ("import os, {first}; import numpy; from threadpoolctl import threadpool_info; "
         "print(os.environ.get('OPENBLAS_CORETYPE'), "
         "[i.get('architecture') for i in threadpool_info() if i.get('internal_api') == 'openblas'])")


def _probe(first: str, **env: str) -> str:
    clean = {k: v for k, v in os.environ.items() if k != "OPENBLAS_CORETYPE"}
    out = subprocess.run([sys.executable, "-c", PROBE.format(first=first)], env={**clean, **env},
                         capture_output=True, text=True, check=True)
    return out.stdout.strip()


needs_avx2 = pytest.mark.skipif(not _has_avx2(), reason="pinning applies to x86-64 CPUs with AVX2")


@needs_avx2
def test_importing_smearnet_first_pins_haswell_kernels():
    assert _probe("smearnet") == "Haswell ['Haswell']"


@needs_avx2
def test_a_users_choice_and_an_already_loaded_numpy_are_left_alone():
    assert _probe("smearnet", OPENBLAS_CORETYPE="Sandybridge").startswith("Sandybridge")
    assert _probe("numpy, smearnet").startswith("None")
