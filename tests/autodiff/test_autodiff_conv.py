"""conv2d against a slow loop implementation, PyTorch and finite differences; known faults."""

from __future__ import annotations

import numpy as np
import pytest

import smearnet.autodiff as ad
from smearnet.autodiff.conv import resolve_padding

TOL = 1e-6


def naive_conv2d(x, w, b, stride, pads):
    """Obviously correct: pad, then one dot product per output pixel and filter."""
    (t, bo), (l, r) = pads
    xp = np.pad(x, ((0, 0), (t, bo), (l, r), (0, 0)))
    n, hp, wp, c = xp.shape
    kh, kw, _, f = w.shape
    sh, sw = stride
    oh, ow = (hp - kh) // sh + 1, (wp - kw) // sw + 1
    out = np.zeros((n, oh, ow, f))
    for i in range(n):
        for y in range(oh):
            for z in range(ow):
                patch = xp[i, y * sh:y * sh + kh, z * sw:z * sw + kw, :]
                for o in range(f):
                    out[i, y, z, o] = np.sum(patch * w[:, :, :, o]) + (0 if b is None else b[o])
    return out


def naive_conv2d_input_grad(x_shape, w, g, stride, pads):
    """Each output pixel's gradient spread over the input window it read, one at a time."""
    (t, bo), (l, r) = pads
    n, h, wd, c = x_shape
    gxp = np.zeros((n, h + t + bo, wd + l + r, c))
    kh, kw = w.shape[:2]
    for i in range(n):
        for y in range(g.shape[1]):
            for z in range(g.shape[2]):
                for o in range(g.shape[3]):
                    gxp[i, y * stride[0]:y * stride[0] + kh, z * stride[1]:z * stride[1] + kw, :] += \
                        g[i, y, z, o] * w[:, :, :, o]
    return gxp[:, t:t + h, l:l + wd, :]


def torch_conv(torch, x, w, b, stride, pads):
    (t, bo), (l, r) = pads
    xp = torch.nn.functional.pad(x.permute(0, 3, 1, 2), (l, r, t, bo))
    y = torch.nn.functional.conv2d(xp, w.permute(3, 2, 0, 1), b, stride=stride)
    return y.permute(0, 2, 3, 1)


CASES = [  # (x shape, kernel (kh, kw, f), stride, padding)
    ((2, 7, 7, 3), (2, 2, 4), 2, "valid"),
    ((1, 9, 8, 2), (3, 3, 3), 3, "valid"),
    ((2, 6, 7, 3), (3, 3, 2), 2, "same"),
    ((1, 5, 5, 1), (3, 3, 1), 1, "same"),
    ((2, 8, 5, 2), (3, 2, 3), (2, 1), 1),
    ((1, 6, 6, 2), (3, 3, 2), 1, (1, 2)),
    ((2, 5, 7, 2), (3, 3, 2), 3, ((1, 2), (0, 1))),
    ((1, 4, 4, 3), (4, 4, 2), 1, "valid"),  # kernel as large as the input
    ((3, 11, 9, 2), (5, 3, 2), (3, 2), "same"),
    ((1, 8, 8, 2), (2, 2, 3), 3, "valid"),  # stride > kernel: gaps between windows
    ((1, 9, 7, 2), (2, 3, 2), (3, 1), "valid"),  # gaps along one axis only
    # stride 1 takes the transposed-convolution input gradient unless pad >= kernel:
    ((1, 5, 5, 64), (3, 3, 2), 1, "same"),
    ((1, 4, 4, 2), (2, 2, 2), 1, 3),
    ((2, 6, 5, 3), (2, 3, 2), 1, ((1, 0), (2, 0))),
]


@pytest.mark.parametrize("xs,ks,stride,padding", CASES, ids=[str(i) for i in range(len(CASES))])
def test_conv2d_matches_loops_torch_and_finite_differences(xs, ks, stride, padding, vs_torch, torch):
    rng = np.random.default_rng(0)
    x = rng.standard_normal(xs)
    w = rng.standard_normal((ks[0], ks[1], xs[3], ks[2]))
    b = rng.standard_normal(ks[2])
    s = (stride, stride) if isinstance(stride, int) else stride
    pads = resolve_padding(padding, xs[1:3], ks[:2], s)
    fn = lambda x_, w_, b_: ad.conv2d(x_, w_, b_, stride=stride, padding=padding)  # noqa: E731

    with ad.precision(np.float64):
        xt, wt, bt = ad.Tensor(x, True), ad.Tensor(w, True), ad.Tensor(b, True)
        y = fn(xt, wt, bt)
        g = rng.standard_normal(y.shape)
        y.backward(g)
    np.testing.assert_allclose(y.data, naive_conv2d(x, w, b, s, pads), atol=1e-10)
    np.testing.assert_allclose(xt.grad, naive_conv2d_input_grad(xs, w, g, s, pads), atol=1e-10)
    assert y.shape[1:3] == (ad.conv_output_size(xs[1], ks[0], s[0], pads[0]),
                            ad.conv_output_size(xs[2], ks[1], s[1], pads[1]))
    vs_torch(fn, lambda a, k, c: torch_conv(torch, a, k, c, s, pads), x, w, b)
    if x.size + w.size < 400:  # finite differences cost two forwards per element
        assert max(ad.gradcheck(fn, x, w, b)) < TOL


def test_conv2d_without_bias_and_float32_matches_torch(torch):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 9, 9, 3)).astype(np.float32)
    w = rng.standard_normal((3, 3, 3, 5)).astype(np.float32)
    xt, wt = ad.Tensor(x, True), ad.Tensor(w, True)
    y = ad.conv2d(xt, wt, stride=2)
    y.backward(np.ones(y.shape, np.float32))
    tx, tw = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
    ty = torch_conv(torch, tx, tw, None, (2, 2), ((0, 0), (0, 0)))
    ty.backward(torch.ones_like(ty))
    assert y.dtype == np.float32 and xt.grad.dtype == np.float32 and wt.grad.dtype == np.float32
    np.testing.assert_allclose(y.data, ty.detach().numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(xt.grad, tx.grad.numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(wt.grad, tw.grad.numpy(), rtol=1e-5, atol=1e-4)


def test_im2col_with_stride_greater_than_one():
    # input 2x7x7x3, kernel 2x2, stride 2: windows start at 0, 2, 4 (row/col 6 unused)
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, 7, 7, 3))
    w = rng.standard_normal((2, 2, 3, 4))
    with ad.precision(np.float64):
        y = ad.conv2d(x, w, stride=2)
    assert y.shape == (2, 3, 3, 4)
    np.testing.assert_allclose(y.data, naive_conv2d(x, w, None, (2, 2), ((0, 0), (0, 0))), atol=1e-12)
    assert max(ad.gradcheck(lambda a, k: ad.conv2d(a, k, stride=2), x, w)) < TOL


def test_overlapping_windows_add_in_input_gradient():
    # 4x4 input, 3x3 kernel of ones, stride 1, upstream ones: the 2x2 output's four windows all
    # cover the four centre pixels, so each gets 4; corners are covered once.
    x = ad.Tensor(np.zeros((1, 4, 4, 1)), requires_grad=True)
    w = ad.Tensor(np.ones((3, 3, 1, 1)))
    y = ad.conv2d(x, w, stride=1)
    assert y.shape == (1, 2, 2, 1)
    y.backward(np.ones(y.shape))
    expected = np.array([[1, 2, 2, 1], [2, 4, 4, 2], [2, 4, 4, 2], [1, 2, 2, 1]], dtype=np.float32)
    np.testing.assert_array_equal(x.grad[0, :, :, 0], expected)


def test_output_shape_input16_kernel7_stride3_padding2():
    assert ad.conv_output_size(16, 7, 3, 2) == 5  # (16 + 2*2 - 7) // 3 + 1
    y = ad.conv2d(np.zeros((1, 16, 16, 1)), np.zeros((7, 7, 1, 2)), stride=3, padding=2)
    assert y.shape == (1, 5, 5, 2)


@pytest.mark.parametrize("n,k,s,expected", [(133, 3, 2, 66), (33, 3, 2, 16), (8, 3, 2, 3), (7, 2, 2, 3)])
def test_output_size_valid(n, k, s, expected):
    assert ad.conv_output_size(n, k, s, "valid") == expected


@pytest.mark.parametrize("n,k,s", [(7, 3, 2), (8, 3, 2), (5, 4, 1), (9, 2, 3), (1, 3, 1)])
def test_same_padding_follows_keras(n, k, s):
    # Keras/TF: output ceil(n / s); total pad max((out-1)*s + k - n, 0), the extra at the end
    out = -(-n // s)
    total = max((out - 1) * s + k - n, 0)
    assert ad.conv_output_size(n, k, s, "same") == out
    pads = resolve_padding("same", (n, n), (k, k), (s, s))
    assert pads[0] == (total // 2, total - total // 2)


def test_padding_spellings_agree():
    rng = np.random.default_rng(3)
    x, w = rng.standard_normal((1, 5, 6, 2)), rng.standard_normal((3, 3, 2, 2))
    a = ad.conv2d(x, w, padding=1).data
    b = ad.conv2d(x, w, padding=(1, 1)).data
    c = ad.conv2d(x, w, padding=((1, 1), (1, 1))).data
    d = ad.conv2d(x, w, padding="same").data
    for other in (b, c, d):
        np.testing.assert_array_equal(a, other)


def test_first_layer_input_gradient_is_skipped():
    x = ad.Tensor(np.ones((1, 5, 5, 2)))  # data, no gradient wanted
    w = ad.Tensor(np.ones((3, 3, 2, 2)), requires_grad=True)
    y = ad.conv2d(x, w)
    gx, gw = y._vjp(np.ones(y.shape, np.float32))  # the rule itself must not compute it
    assert gx is None and gw is not None
    y.sum().backward()
    assert x.grad is None
    np.testing.assert_array_equal(w.grad, np.full((3, 3, 2, 2), 9.0))


@pytest.mark.parametrize("bad", [
    dict(x=(1, 5, 5, 3), w=(3, 3, 2, 4)),  # channel mismatch
    dict(x=(5, 5, 3), w=(3, 3, 3, 4)),  # not NHWC
    dict(x=(1, 2, 2, 1), w=(3, 3, 1, 1)),  # kernel larger than input
    dict(x=(1, 5, 5, 1), w=(3, 3, 1, 1), padding="full"),
    dict(x=(1, 5, 5, 1), w=(3, 3, 1, 1), stride=0),
    dict(x=(1, 5, 5, 1), w=(3, 3, 1, 2), b=(3,)),
])
def test_conv2d_rejects_bad_arguments(bad):
    kw = {k: v for k, v in bad.items() if k in ("padding", "stride")}
    b = np.zeros(bad["b"]) if "b" in bad else None
    with pytest.raises(ValueError):
        ad.conv2d(np.zeros(bad["x"]), np.zeros(bad["w"]), b, **kw)


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("c", [3, 9])  # 3x3x3 = 27 folds the bias into the GEMM; 3x3x9 = 81 does not
def test_fused_relu_equals_relu_of_conv(bias, c, grads, vs_torch, torch):
    rng = np.random.default_rng(5)
    x, w = rng.standard_normal((2, 7, 6, c)), rng.standard_normal((3, 3, c, 4))
    b = rng.standard_normal(4) if bias else None
    fused = lambda a, k, *bb: ad.conv2d(a, k, *bb, stride=2, activation="relu")  # noqa: E731
    plain = lambda a, k, *bb: ad.relu(ad.conv2d(a, k, *bb, stride=2))  # noqa: E731
    args = (x, w) if b is None else (x, w, b)
    of, gf, _ = grads(fused, list(args))
    op, gp, _ = grads(plain, list(args))
    np.testing.assert_allclose(of, op, atol=1e-12)
    for a_, b_ in zip(gf, gp):
        np.testing.assert_allclose(a_, b_, atol=1e-12)
    vs_torch(fused, lambda a, k, *bb: torch.relu(torch_conv(torch, a, k, bb[0] if bb else None, (2, 2),
                                                            ((0, 0), (0, 0)))), *args)
    if c == 3:
        assert max(ad.gradcheck(fused, *args)) < TOL


def test_conv2d_rejects_unknown_activation():
    with pytest.raises(ValueError, match="activation"):
        ad.conv2d(np.zeros((1, 3, 3, 1)), np.zeros((1, 1, 1, 1)), activation="gelu")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("stride,ones", [((1, 1), False), ((2, 1), True), ((2, 3), False)])
def test_im2col_record_copy_equals_the_window_loop(dtype, stride, ones):
    """The contiguous fast path (window rows copied as opaque records) against a plain loop,
    and against the strided-view path taken for a non-contiguous input."""
    from smearnet.autodiff.conv import im2col

    rng = np.random.default_rng(5)
    xp = rng.standard_normal((2, 9, 8, 3)).astype(dtype)
    k = (3, 2)
    oh, ow = (9 - k[0]) // stride[0] + 1, (8 - k[1]) // stride[1] + 1
    ref = np.empty((2 * oh * ow, k[0] * k[1] * 3 + ones), dtype)
    row = 0
    for n in range(2):
        for y in range(oh):
            for z in range(ow):
                win = xp[n, y * stride[0]:y * stride[0] + k[0], z * stride[1]:z * stride[1] + k[1], :]
                ref[row, :k[0] * k[1] * 3] = win.ravel()
                if ones:
                    ref[row, -1] = 1
                row += 1
    fast = im2col(xp, k, stride, (oh, ow), ones_column=ones)
    strided = im2col(np.asfortranarray(xp), k, stride, (oh, ow), ones_column=ones)
    np.testing.assert_array_equal(fast, ref)
    np.testing.assert_array_equal(strided, ref)
