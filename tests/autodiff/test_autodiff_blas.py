"""Small products on one BLAS thread: same results, thread count restored."""

from __future__ import annotations

import numpy as np
import pytest

from smearnet.autodiff import blas

SHAPES = [((3, 4), (4, 5)), ((4,), (4, 3)), ((2, 5), (5,)), ((6,), (6,)), ((2, 3, 4), (4, 2)),
          ((3, 1, 2, 3), (4, 3, 2)), ((512, 512), (512, 64)), ((1024, 1024), (1024, 128))]


@pytest.mark.parametrize("sa,sb", SHAPES, ids=[f"{a}@{b}" for a, b in SHAPES])
def test_same_result_as_the_operator(sa, sb):
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal(sa).astype(np.float32), rng.standard_normal(sb).astype(np.float32)
    # one thread may sum in another order than two: equal up to float32 rounding
    np.testing.assert_allclose(blas.matmul(a, b), a @ b, rtol=1e-5, atol=1e-4)


def test_thread_count_is_restored_even_on_error():
    if blas._get is None:
        pytest.skip("NumPy's BLAS is not the bundled OpenBLAS")
    before = blas._get()
    blas.matmul(np.ones((8, 8), np.float32), np.ones((8, 8), np.float32))
    with pytest.raises(ValueError):
        blas.matmul(np.ones((8, 3), np.float32), np.ones((4, 8), np.float32))
    assert blas._get() == before
