"""The allocator tuning applied at import: on by default on glibc, off on request."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from smearnet.autodiff import memory

PROBE = "import smearnet.autodiff, smearnet.autodiff.memory as m; print(m._applied)"


def test_tune_allocator_is_idempotent_and_reports_a_bool():
    first = memory.tune_allocator()
    assert isinstance(first, bool)
    assert memory.tune_allocator() is first


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc knobs only")
def test_environment_variable_turns_it_off():
    env = {**os.environ, "SMEARNET_MALLOC_TUNING": "0"}
    out = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
