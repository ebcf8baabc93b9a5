"""The reverse-mode graph: known faults of hand-written engines, accumulation, no_grad, detach."""

from __future__ import annotations

import gc
import weakref

import numpy as np
import pytest

import smearnet.autodiff as ad


def test_non_leaf_used_twice_gets_both_contributions():
    a = ad.Tensor([2.0, -1.0], requires_grad=True)
    b = ad.Tensor([3.0, 5.0], requires_grad=True)
    y = a * b
    z = y + y
    z.sum().backward()
    np.testing.assert_array_equal(a.grad, 2 * b.data)  # dz/da = 2b
    np.testing.assert_array_equal(b.grad, 2 * a.data)


def test_one_node_reached_along_three_paths():
    x = ad.Tensor(1.0, requires_grad=True)
    a = ad.Tensor(1.0, requires_grad=True)
    f = x * (x * a) + (x * x) * a + x * (x * a)  # = 3 a x^2
    f.backward()
    assert x.grad == pytest.approx(6.0)  # 6 a x
    assert a.grad == pytest.approx(3.0)  # 3 x^2


def test_ten_thousand_op_chain_backward_without_recursion():
    x = ad.Tensor(1.0, requires_grad=True)
    y = x
    for _ in range(10_000):
        y = y * 1.0001
    y.backward()
    assert x.grad == pytest.approx(1.0001 ** 10_000, rel=1e-3)


def test_backward_twice_accumulates_and_zero_grad_clears():
    w = ad.Tensor([1.0, 2.0], requires_grad=True)
    loss = (w * w).sum()
    loss.backward()
    loss.backward()
    np.testing.assert_array_equal(w.grad, 2 * (2 * w.data))
    w.zero_grad()
    assert w.grad is None
    (w * w).sum().backward()
    np.testing.assert_array_equal(w.grad, 2 * w.data)


def test_no_grad_records_no_graph():
    w = ad.Tensor(np.ones((2, 3)), requires_grad=True)
    x = ad.Tensor(np.ones((4, 2, 3, 1)))
    with ad.no_grad():
        assert not ad.is_grad_enabled()
        y = ad.relu(w * 2.0).sum()
        c = ad.conv2d(x, ad.Tensor(np.ones((1, 1, 1, 2)), requires_grad=True))
    assert ad.is_grad_enabled()
    for t in (y, c):
        assert t.is_leaf and not t.requires_grad and t._vjp is None and t._parents == ()
    with pytest.raises(RuntimeError):
        y.backward()


def test_no_grad_keeps_no_activations():
    w = ad.Tensor(np.ones((4, 4)), requires_grad=True)
    with ad.no_grad():
        hidden = w * 2.0
        probe = weakref.ref(hidden)
        out = ad.relu(hidden)
        del hidden
    gc.collect()
    assert probe() is None  # nothing in `out` refers to the intermediate
    hidden = w * 2.0
    probe = weakref.ref(hidden)
    out = ad.relu(hidden)
    del hidden
    gc.collect()
    assert probe() is not None  # with a graph, the output keeps its parent alive
    assert out.requires_grad


def test_detach_cuts_the_graph_and_shares_memory():
    a = ad.Tensor([1.0, 2.0], requires_grad=True)
    d = (a * 3.0).detach()
    assert d.is_leaf and not d.requires_grad
    out = (a * d).sum()
    out.backward()
    np.testing.assert_array_equal(a.grad, d.data)  # d was treated as a constant
    e = a.detach()
    assert np.shares_memory(e.data, a.data)


def test_op_without_gradient_rule_raises_naming_it():
    x = ad.Tensor([0.4, 1.6], requires_grad=True)
    y = (ad.round(x) * x).sum()
    with pytest.raises(ad.NoGradientError, match="round"):
        y.backward()


def test_non_differentiable_value_is_usable_forward():
    x = ad.Tensor([0.4, 1.6, -2.5], requires_grad=True)
    np.testing.assert_array_equal(ad.round(x).data, [0.0, 2.0, -2.0])
    np.testing.assert_array_equal(ad.sign(x).data, [1.0, 1.0, -1.0])


def test_backward_needs_scalar_or_explicit_gradient():
    x = ad.Tensor(np.ones(3), requires_grad=True)
    y = x * 2.0
    with pytest.raises(ValueError, match="scalar"):
        y.backward()
    with pytest.raises(ValueError, match="shape"):
        y.backward(np.ones(2))
    y.backward(np.array([1.0, 2.0, 3.0]))
    np.testing.assert_array_equal(x.grad, [2.0, 4.0, 6.0])


def test_constant_inputs_get_no_gradient():
    x = ad.Tensor([1.0, 2.0])  # requires_grad False
    w = ad.Tensor([3.0, 4.0], requires_grad=True)
    (x * w).sum().backward()
    assert x.grad is None
    np.testing.assert_array_equal(w.grad, [1.0, 2.0])


def test_gradcheck_detects_a_wrong_gradient():
    def wrong_square(a):
        a = ad.to_tensor(a)
        return ad.make(a.data ** 2, (a,), lambda g: (g * a.data,), "wrong_square")  # should be 2a

    err = ad.gradcheck(wrong_square, np.array([1.0, 2.0, 3.0]))
    assert err[0] > 0.1


def test_no_grad_is_per_thread():
    """no_grad in one thread never stops another thread's ops from recording (as PyTorch)."""
    import threading

    import smearnet.autodiff as ad

    inside, done = threading.Event(), threading.Event()
    seen = {}

    def other() -> None:
        inside.wait()
        w = ad.Tensor(np.ones(3), requires_grad=True)
        seen["other"] = ad.is_grad_enabled() and (w * 2).sum()._parents != ()
        done.set()

    t = threading.Thread(target=other)
    t.start()
    with ad.no_grad():
        inside.set()
        done.wait()
        assert not ad.is_grad_enabled()
    t.join()
    assert seen["other"] is True
