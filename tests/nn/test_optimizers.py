"""Optimizers and schedules: Adam's first step, parity with PyTorch on identical gradient
sequences, state round trips, schedule values."""

from __future__ import annotations

import math

import numpy as np
import pytest

from smearnet import autodiff as ad
from smearnet import optimizers
from smearnet.nn import schedules


def _params(seed: int = 0) -> list[ad.Tensor]:
    rng = np.random.default_rng(seed)
    return [ad.Tensor(rng.normal(size=s).astype(np.float32), requires_grad=True) for s in [(3, 4), (4,), (2, 2, 3)]]


def _grads(params: list[ad.Tensor], steps: int, seed: int = 1) -> list[list[np.ndarray]]:
    rng = np.random.default_rng(seed)
    return [[rng.normal(size=p.shape).astype(np.float32) for p in params] for _ in range(steps)]


@pytest.mark.parametrize("lr", [1e-3, 0.01, 0.5])
def test_adam_first_step_moves_every_parameter_by_lr(lr: float) -> None:
    params = _params()
    before = [p.data.copy() for p in params]
    opt = optimizers.Adam(learning_rate=lr)
    opt.build(params)
    for p in params:
        p.grad = np.ones_like(p.data)
    opt.step()
    for p, b in zip(params, before):
        # exact up to the float32 rounding of the parameter itself (one ulp of |p|)
        ulp = np.spacing(np.maximum(np.abs(b), np.abs(p.data)))
        assert np.all(np.abs((b - p.data) - lr) <= ulp + 1e-6 * lr)
    zero = ad.Tensor(np.zeros(5, np.float32), requires_grad=True)  # exact where p = 0
    optimizers.Adam(learning_rate=lr, params=[zero]).apply_gradients([(np.ones(5), zero)])
    np.testing.assert_allclose(zero.data, -lr, rtol=1e-6)


TORCH_CASES = [
    ("sgd", dict(learning_rate=0.1), lambda t, ps: t.optim.SGD(ps, lr=0.1)),
    ("sgd-momentum", dict(learning_rate=0.1, momentum=0.9), lambda t, ps: t.optim.SGD(ps, lr=0.1, momentum=0.9)),
    ("sgd-nesterov", dict(learning_rate=0.1, momentum=0.9, nesterov=True),
     lambda t, ps: t.optim.SGD(ps, lr=0.1, momentum=0.9, nesterov=True)),
    ("adam", dict(learning_rate=0.01), lambda t, ps: t.optim.Adam(ps, lr=0.01, eps=1e-7)),
    ("adamw", dict(learning_rate=0.01, weight_decay=0.1),
     lambda t, ps: t.optim.AdamW(ps, lr=0.01, eps=1e-7, weight_decay=0.1)),
    ("rmsprop", dict(learning_rate=0.01), lambda t, ps: t.optim.RMSprop(ps, lr=0.01, alpha=0.9, eps=1e-7)),
    ("rmsprop-momentum-centered", dict(learning_rate=0.01, momentum=0.5, centered=True),
     lambda t, ps: t.optim.RMSprop(ps, lr=0.01, alpha=0.9, eps=1e-7, momentum=0.5, centered=True)),
]


@pytest.mark.parametrize("name, ours, theirs", TORCH_CASES, ids=[c[0] for c in TORCH_CASES])
def test_matches_torch_on_the_same_gradients(name: str, ours: dict, theirs) -> None:
    torch = pytest.importorskip("torch")
    params = _params()
    tparams = [torch.nn.Parameter(torch.tensor(p.data.copy())) for p in params]
    opt = optimizers.get({"class_name": name.split("-")[0].replace("adamw", "AdamW"), "config": ours})
    opt.build(params)
    topt = theirs(torch, tparams)
    for grads in _grads(params, 6):
        for p, tp, g in zip(params, tparams, grads):
            p.grad = g
            tp.grad = torch.tensor(g)
        opt.step()
        topt.step()
    for p, tp in zip(params, tparams):
        np.testing.assert_allclose(p.data, tp.detach().numpy(), rtol=1e-5, atol=1e-7)


def test_state_round_trip_continues_identically() -> None:
    params_a, params_b = _params(), _params()
    grads = _grads(params_a, 6)
    a = optimizers.Adam(0.01, params=params_a)
    for g in grads[:3]:
        a.apply_gradients(zip(g, params_a))
    state = a.get_state()
    assert state["iterations"] == 3 and set(state["slots"]) == {"m", "v"}
    for pb, pa in zip(params_b, params_a):
        pb.data[...] = pa.data
    b = optimizers.Adam(0.01, params=params_b)
    b.set_state(state)
    for g in grads[3:]:
        a.apply_gradients(zip(g, params_a))
        b.apply_gradients(zip(g, params_b))
    for pa, pb in zip(params_a, params_b):
        assert np.array_equal(pa.data, pb.data)
    with pytest.raises(ValueError, match="shape"):
        bad = {"iterations": 1, "slots": {k: [np.zeros(1)] * 3 for k in ("m", "v")}}
        b.set_state(bad)


def test_names_clipping_and_errors() -> None:
    assert isinstance(optimizers.get("adam"), optimizers.Adam)
    assert isinstance(optimizers.get("RMSprop"), optimizers.RMSprop)
    with pytest.raises(ValueError, match="unknown optimizer 'adagrad'"):
        optimizers.get("adagrad")
    with pytest.raises(ValueError, match="learning_rate"):
        optimizers.SGD(learning_rate=-1.0)
    with pytest.raises(ValueError, match="nesterov"):
        optimizers.SGD(nesterov=True)
    p = ad.Tensor(np.zeros(4, np.float32), requires_grad=True)
    opt = optimizers.SGD(1.0, global_clipnorm=1.0, params=[p])
    opt.apply_gradients([(np.full(4, 10.0), p)])
    np.testing.assert_allclose(np.linalg.norm(p.data), 1.0, rtol=1e-6)


def test_schedule_as_learning_rate() -> None:
    p = ad.Tensor(np.zeros(1, np.float32), requires_grad=True)
    opt = optimizers.SGD(learning_rate=schedules.StepDecay(1.0, step_size=2, gamma=0.5), params=[p])
    seen = []
    for _ in range(5):
        seen.append(opt.current_learning_rate)
        opt.apply_gradients([(np.ones(1), p)])
    assert seen == [1.0, 1.0, 0.5, 0.5, 0.25]
    assert p.data[0] == pytest.approx(-3.25)
    cfg = opt.get_config()["learning_rate"]
    assert cfg == {"class_name": "StepDecay", "config": {"initial_learning_rate": 1.0, "step_size": 2, "gamma": 0.5}}
    assert optimizers.get({"class_name": "SGD", "config": opt.get_config()}).learning_rate(4) == 0.25


def test_cosine_decay_values() -> None:
    s = schedules.CosineDecay(0.1, decay_steps=10, alpha=0.1)
    assert s(0) == pytest.approx(0.1) and s(10) == pytest.approx(0.01) and s(50) == pytest.approx(0.01)
    assert s(5) == pytest.approx(0.1 * (0.9 * 0.5 + 0.1))
    w = schedules.CosineDecay(0.0, decay_steps=10, warmup_steps=4, warmup_target=0.2)
    assert [w(k) for k in range(5)] == pytest.approx([0.0, 0.05, 0.1, 0.15, 0.2])


def test_one_cycle_matches_torch() -> None:
    torch = pytest.importorskip("torch")
    total = 40
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=0.1)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=0.1, total_steps=total, pct_start=0.3,
                                                anneal_strategy="cos", cycle_momentum=False)
    ref = []
    for _ in range(total):
        ref.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    ours = schedules.OneCycle(0.1, total_steps=total, pct_start=0.3)
    np.testing.assert_allclose([ours(k) for k in range(total)], ref, rtol=1e-9)
    assert math.isclose(ours(1000), ref[-1])
