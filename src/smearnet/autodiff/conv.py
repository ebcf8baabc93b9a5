"""2-D convolution (NHWC input, HWIO kernel) as one GEMM over an im2col view, with its VJP.

Forward: the padded input is viewed as sliding windows with ``np.lib.stride_tricks`` (no
copy), gathered once into a ``(N*OH*OW, KH*KW*C)`` matrix and multiplied by the kernel
reshaped to ``(KH*KW*C, F)``. Backward: the kernel gradient is one GEMM with the same matrix;
the input gradient is one GEMM back to window space followed by ``KH*KW`` strided adds, one
per kernel offset, so overlapping windows add up (no ``np.add.at`` scatter); for stride 1 it is
instead a "full" convolution of the gradient with the flipped kernel (again one im2col and one
GEMM). Each choice below was kept because it measured faster on the
benchmark's layer shapes (``benchmarks/bench_engine.py``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .blas import matmul as _mm
from .tensor import Array, Tensor, make, to_tensor

Padding = str | int | tuple[Any, Any]
Pads = tuple[tuple[int, int], tuple[int, int]]


def _pair(v: int | tuple[int, int], what: str) -> tuple[int, int]:
    if isinstance(v, (int, np.integer)):
        v = (int(v), int(v))
    v = tuple(int(x) for x in v)
    if len(v) != 2 or min(v) < 1:
        raise ValueError(f"{what} must be a positive int or a pair of them, got {v!r}")
    return v  # type: ignore[return-value]


def _same_pad(n: int, k: int, s: int) -> tuple[int, int]:
    """Keras/TF "same": output ceil(n/s); the odd extra row/column goes to the bottom/right."""
    out = -(-n // s)
    total = max((out - 1) * s + k - n, 0)
    return total // 2, total - total // 2


def _dim_pad(padding: Any, n: int, k: int, s: int) -> tuple[int, int]:
    """Padding of one spatial dim: "valid" | "same" | int | (before, after)."""
    if isinstance(padding, str):
        p = padding.lower()
        if p == "valid":
            return 0, 0
        if p == "same":
            return _same_pad(n, k, s)
        raise ValueError(f"padding must be 'valid', 'same', an int or pairs of ints, got {padding!r}")
    if isinstance(padding, (int, np.integer)):
        lo = hi = int(padding)
    else:
        lo, hi = (int(x) for x in padding)
    if lo < 0 or hi < 0:
        raise ValueError(f"padding must be >= 0, got {padding!r}")
    return lo, hi


def resolve_padding(padding: Padding, hw: tuple[int, int], k: tuple[int, int],
                    s: tuple[int, int]) -> Pads:
    """``((top, bottom), (left, right))`` for any accepted padding spelling.

    Accepted: ``"valid"``, ``"same"``, ``p`` (all sides), ``(ph, pw)``, ``((top, bottom), (left, right))``.
    """
    if isinstance(padding, str) or isinstance(padding, (int, np.integer)):
        per_dim: tuple[Any, Any] = (padding, padding)
    else:
        if len(padding) != 2:
            raise ValueError(f"padding must be 'valid', 'same', an int or pairs of ints, got {padding!r}")
        per_dim = tuple(padding)  # type: ignore[assignment]
    return (_dim_pad(per_dim[0], hw[0], k[0], s[0]), _dim_pad(per_dim[1], hw[1], k[1], s[1]))


def conv_output_size(n: int, k: int, stride: int, padding: Any) -> int:
    """Output length of one spatial dim: ``(n + before + after - k) // stride + 1``.

    ``padding`` is "valid", "same" (gives ``ceil(n / stride)``), an int or ``(before, after)``.
    Example: ``conv_output_size(16, 7, 3, 2) == 5`` (``(16 + 4 - 7) // 3 + 1``).
    """
    lo, hi = _dim_pad(padding, n, k, stride)
    size = (n + lo + hi - k) // stride + 1
    if size < 1:
        raise ValueError(f"kernel {k} is larger than the padded input {n + lo + hi}")
    return size


def pad_nhwc(x: Array, pads: Pads, value: float = 0.0) -> Array:
    """Pad the two spatial axes of an NHWC array (returns ``x`` itself when no padding)."""
    (t, b), (l, r) = pads
    if t == b == l == r == 0:
        return x
    n, h, w, c = x.shape
    out = np.empty((n, h + t + b, w + l + r, c), dtype=x.dtype)
    out[:, :t] = value  # only the border is filled: one pass over the interior, not two
    out[:, t + h:] = value
    out[:, t:t + h, :l] = value
    out[:, t:t + h, l + w:] = value
    out[:, t:t + h, l:l + w, :] = x
    return out


def windows(xp: Array, k: tuple[int, int], s: tuple[int, int], out_hw: tuple[int, int]) -> Array:
    """Read-only view ``(N, OH, OW, KH, KW, C)`` of every window of a padded NHWC array."""
    n, _, _, c = xp.shape
    sn, sh, sw, sc = xp.strides
    return np.lib.stride_tricks.as_strided(
        xp, shape=(n, out_hw[0], out_hw[1], k[0], k[1], c),
        strides=(sn, sh * s[0], sw * s[1], sh, sw, sc), writeable=False)


def window_slice(i: int, j: int, s: tuple[int, int], out_hw: tuple[int, int]) -> tuple[slice, ...]:
    """Index of the input pixels that kernel offset ``(i, j)`` touches, one per output pixel."""
    return (slice(None), slice(i, i + s[0] * (out_hw[0] - 1) + 1, s[0]),
            slice(j, j + s[1] * (out_hw[1] - 1) + 1, s[1]), slice(None))


def im2col(xp: Array, k: tuple[int, int], s: tuple[int, int], out_hw: tuple[int, int],
           ones_column: bool = False) -> Array:
    """The windows of a padded NHWC array as rows: ``(N*OH*OW, KH*KW*C [+ 1])``, one copy.

    With ``ones_column`` a last column of ones is appended (it carries a bias through a GEMM).
    """
    n, c = xp.shape[0], xp.shape[3]
    kk = k[0] * k[1] * c
    cols = np.empty((n * out_hw[0] * out_hw[1], kk + ones_column), dtype=xp.dtype)
    if xp.flags.c_contiguous:
        # Each window row is KW*C contiguous floats in the source and in the destination: copy
        # it as one opaque record (a void dtype of that many bytes) rather than as a loop of
        # KW*C floats. For the first layer's 9-float runs: 64x64x64x3 6.2 -> 3.4 ms.
        run = np.dtype(f"V{k[1] * c * xp.itemsize}")
        sn, sh, sw, _ = xp.strides
        src = np.ndarray((n, out_hw[0], out_hw[1], k[0]), dtype=run, buffer=xp,
                         strides=(sn, sh * s[0], sw * s[1], sh))
        row = cols.strides[0]
        dst = np.ndarray(src.shape, dtype=run, buffer=cols,
                         strides=(out_hw[0] * out_hw[1] * row, out_hw[1] * row, row, run.itemsize))
        np.copyto(dst, src)
    else:
        np.copyto(cols[:, :kk].reshape(n, out_hw[0], out_hw[1], k[0], k[1], c),
                  windows(xp, k, s, out_hw))
    if ones_column:
        cols[:, kk] = 1
    return cols


def conv2d(x: Any, w: Any, b: Any = None, stride: int | tuple[int, int] = 1,
           padding: Padding = "valid", activation: str | None = None) -> Tensor:
    """2-D cross-correlation, as Keras ``Conv2D`` / ``tf.nn.conv2d``.

    Shape:
        x ``(N, H, W, C)``, w ``(KH, KW, C, F)``, b ``(F,)`` or None ->
        ``(N, OH, OW, F)`` with ``OH = conv_output_size(H, KH, stride, padding)``.
    Example: x (32, 133, 133, 3), w (3, 3, 3, 128), stride 2, "valid" -> (32, 66, 66, 128).

    ``activation="relu"`` fuses ``relu(conv2d(...))`` into one op (same values and gradients,
    one fewer pass over the output and one fewer copy of it kept for backward).
    """
    x, w = to_tensor(x), to_tensor(w)
    b = None if b is None else to_tensor(b)
    if x.ndim != 4 or w.ndim != 4:
        raise ValueError(f"conv2d needs x (N,H,W,C) and w (KH,KW,C,F), got {x.shape} and {w.shape}")
    if activation not in (None, "relu"):
        raise ValueError(f"conv2d: activation must be None or 'relu', got {activation!r}")
    n, h, wd, c = x.shape
    kh, kw, kc, f = w.shape
    if kc != c:
        raise ValueError(f"conv2d: input has {c} channels but the kernel expects {kc}")
    if b is not None and b.shape != (f,):
        raise ValueError(f"conv2d: bias must have shape ({f},), got {b.shape}")
    s = _pair(stride, "stride")
    pads = resolve_padding(padding, (h, wd), (kh, kw), s)
    oh = conv_output_size(h, kh, s[0], pads[0])
    ow = conv_output_size(wd, kw, s[1], pads[1])
    m, kk = n * oh * ow, kh * kw * c

    xp = pad_nhwc(x.data, pads)
    # A small reduction dim (the first layer's 3x3x3 = 27) leaves room for one more column of
    # ones, which carries the bias through the GEMM (and its gradient back out of it): no
    # separate pass over the large output in either direction.
    fold = b is not None and kk < 64
    cols = im2col(xp, (kh, kw), s, (oh, ow), ones_column=fold)
    w2 = w.data.reshape(kk, f)
    if fold:
        out = _mm(cols, np.concatenate([w2, b.data[None, :]]))
    else:
        out = _mm(cols, w2)
        if b is not None:
            out += b.data
    if activation == "relu":
        np.maximum(out, 0, out=out)
    out = out.reshape(n, oh, ow, f)

    xshape, xpshape = x.shape, xp.shape

    def vjp(g: Array) -> tuple[Array | None, ...]:
        g2 = g.reshape(m, f)
        if activation == "relu":
            g2 = g2 * (out.reshape(m, f) > 0)
        gx = gw = gb = None
        if w.requires_grad or (fold and b.requires_grad):
            # OpenBLAS is up to ~10x slower on this reduction when the result has few rows
            # (the first layer: 28 x 128), so give the result its larger side as rows.
            gwb = _mm(cols.T, g2) if cols.shape[1] >= f else np.ascontiguousarray(_mm(g2.T, cols).T)
            gw, gb = gwb[:kk].reshape(kh, kw, c, f), (gwb[kk] if fold else None)
        if b is not None and not fold and b.requires_grad:
            gb = np.einsum("ic->c", g2)  # faster than g2.sum(axis=0) for few columns
        if x.requires_grad:
            if s == (1, 1) and max(pads[0]) < kh and max(pads[1]) < kw:
                gx = _input_grad_transposed(g2.reshape(n, oh, ow, f), w.data, pads)
            else:
                gx = _input_grad(_mm(g2, w2.T).reshape(n, oh, ow, kh, kw, c), xpshape, s, pads, xshape)
        return (gx, gw) if b is None else (gx, gw, gb)

    parents = (x, w) if b is None else (x, w, b)
    return make(out, parents, vjp, "conv2d" if activation is None else "conv2d_relu")


def _input_grad(gcols: Array, xpshape: tuple[int, ...], s: tuple[int, int], pads: Pads,
                xshape: tuple[int, ...]) -> Array:
    """Sum each window's gradient ``gcols (N, OH, OW, KH, KW, C)`` back onto the input.

    One strided add per kernel offset. The offsets ``i < sh, j < sw`` touch disjoint pixels
    that together cover every pixel any window reaches (when the stride is at most the kernel),
    so they are assigned rather than added and the buffer needs zeros only where no window
    reaches: one pass fewer than zero-filling and adding everything.
    """
    _, oh, ow, kh, kw, _ = gcols.shape
    first = [(i, j) for i in range(min(kh, s[0])) for j in range(min(kw, s[1]))]
    rest = [(i, j) for i in range(kh) for j in range(kw) if (i, j) not in first]
    if s[0] <= kh and s[1] <= kw:
        gxp = np.empty(xpshape, dtype=gcols.dtype)
        gxp[:, s[0] * oh:] = 0
        gxp[:, :, s[1] * ow:] = 0
        for i, j in first:
            gxp[window_slice(i, j, s, (oh, ow))] = gcols[:, :, :, i, j, :]
    else:  # windows leave gaps between them
        gxp = np.zeros(xpshape, dtype=gcols.dtype)
        rest = first + rest
    for i, j in rest:
        gxp[window_slice(i, j, s, (oh, ow))] += gcols[:, :, :, i, j, :]
    (t, _), (l, _) = pads
    if xpshape == xshape:
        return gxp
    return np.ascontiguousarray(gxp[:, t:t + xshape[1], l:l + xshape[2], :])


def _input_grad_transposed(g: Array, w: Array, pads: Pads) -> Array:
    """Input gradient of a stride-1 conv as a "full" convolution: one im2col and one GEMM.

    ``gx[n, y, x, c] = sum_{i,j,f} gpad[n, y+i, x+j, f] * w[KH-1-i, KW-1-j, c, f]`` with ``g``
    padded by ``K-1-pad`` on each side. Used for every stride-1 conv: measured faster than the
    strided adds of :func:`_input_grad` at the cellnet shapes (64x32x32x16: 44 vs 96 ms on one
    thread) and at 128 channels, about even at 64 channels on two threads.
    """
    n, oh, ow, f = g.shape
    kh, kw, c, _ = w.shape
    (t, b), (l, r) = pads
    gp = pad_nhwc(g, ((kh - 1 - t, kh - 1 - b), (kw - 1 - l, kw - 1 - r)))
    h, wd = gp.shape[1] - kh + 1, gp.shape[2] - kw + 1
    flipped = np.ascontiguousarray(w[::-1, ::-1].transpose(0, 1, 3, 2)).reshape(kh * kw * f, c)
    return _mm(im2col(gp, (kh, kw), (1, 1), (h, wd)), flipped).reshape(n, h, wd, c)
