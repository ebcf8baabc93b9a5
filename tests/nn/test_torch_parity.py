"""The same small CNN (conv, batch norm, ReLU, max-pool, dense; dropout off) in smearnet and
PyTorch: same initial weights and batch, then optimizer steps; parameters and batch-norm
running statistics must agree.

Batch-norm conventions differ and are converted here: torch's ``momentum`` is Keras'
``1 - momentum``, and torch updates the running variance with the unbiased batch variance
(divided by m - 1) where Keras/smearnet use the biased one (divided by m), m = N*H*W.
"""

from __future__ import annotations

import numpy as np
import pytest

from smearnet import losses, optimizers

torch = pytest.importorskip("torch")

N, H, C, F = 6, 8, 3, 4
M = N * H * H  # values per channel seen by batch norm


def _pair(small_cnn, opt_ours, opt_torch):
    model = small_cnn(seed=3, dropout=0.0)
    model.compile(optimizer=opt_ours, loss=losses.BinaryCrossentropy(from_logits=True))
    conv, bn, _, _, _, _, dense = model.layers
    bn.moving_mean[...] = 0.0
    tconv = torch.nn.Conv2d(C, F, 3, padding=1, bias=False)
    tbn = torch.nn.BatchNorm2d(F, eps=1e-3, momentum=1 - bn.momentum)
    tdense = torch.nn.Linear(F * (H // 2) ** 2, 1)
    with torch.no_grad():
        tconv.weight.copy_(torch.tensor(conv.kernel.data.transpose(3, 2, 0, 1)))
        tdense.weight.copy_(torch.tensor(dense.kernel.data.T))
        tdense.bias.copy_(torch.tensor(dense.bias.data))

    def tforward(x):
        h = torch.nn.functional.max_pool2d(torch.relu(tbn(tconv(x))), 2)
        return tdense(h.permute(0, 2, 3, 1).reshape(len(x), -1))  # flatten in NHWC order, as smearnet

    params = [tconv.weight, tbn.weight, tbn.bias, tdense.weight, tdense.bias]
    return model, tforward, opt_torch(params), (conv, bn, dense), (tconv, tbn, tdense)


def _compare(ours, theirs) -> None:
    conv, bn, dense = ours
    tconv, tbn, tdense = theirs
    rtol, atol = 1e-5, 1e-7
    np.testing.assert_allclose(conv.kernel.data, tconv.weight.detach().numpy().transpose(2, 3, 1, 0), rtol=rtol, atol=atol)
    np.testing.assert_allclose(bn.gamma.data, tbn.weight.detach().numpy(), rtol=rtol, atol=atol)
    np.testing.assert_allclose(bn.beta.data, tbn.bias.detach().numpy(), rtol=rtol, atol=atol)
    np.testing.assert_allclose(dense.kernel.data, tdense.weight.detach().numpy().T, rtol=rtol, atol=atol)
    np.testing.assert_allclose(dense.bias.data, tdense.bias.detach().numpy(), rtol=rtol, atol=atol)
    np.testing.assert_allclose(bn.moving_mean, tbn.running_mean.numpy(), rtol=rtol, atol=atol)


@pytest.mark.parametrize("kind", ["adam", "sgd-momentum"])
def test_small_cnn_steps_match_torch(small_cnn, kind: str) -> None:
    if kind == "adam":
        ours, theirs = optimizers.Adam(1e-2), (lambda ps: torch.optim.Adam(ps, lr=1e-2, eps=1e-7))
    else:
        ours, theirs = optimizers.SGD(0.05, momentum=0.9), (lambda ps: torch.optim.SGD(ps, lr=0.05, momentum=0.9))
    model, tforward, topt, mine, refs = _pair(small_cnn, ours, theirs)
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, (N, H, H, C)).astype(np.float32)
    y = (np.arange(N) % 2).astype(np.float32)
    xt = torch.tensor(x.transpose(0, 3, 1, 2).copy())
    momentum_keras = mine[1].momentum
    for step in range(3):  # the first step, then two more with optimizer state
        loss = model.loss(y, model(x, training=True))
        loss.backward()
        model.optimizer.step()
        model.optimizer.zero_grad()
        topt.zero_grad()
        tloss = torch.nn.functional.binary_cross_entropy_with_logits(tforward(xt)[:, 0], torch.tensor(y))
        tloss.backward()
        topt.step()
        assert loss.item() == pytest.approx(tloss.item(), rel=1e-5)
        _compare(mine, refs)
        # running variance: convert torch's unbiased update to the biased (Keras) convention
        prior = momentum_keras ** (step + 1)  # weight left on the initial value 1.0
        torch_rv = refs[1].running_var.numpy()
        batch_part = (torch_rv - prior) * (M - 1) / M
        np.testing.assert_allclose(mine[1].moving_variance, prior + batch_part, rtol=1e-5)
    model_out = model.predict(x)
    refs[1].eval()
    with torch.no_grad():
        np.testing.assert_allclose(model_out[:, 0], tforward(xt)[:, 0].numpy(), rtol=1e-4, atol=1e-5)
