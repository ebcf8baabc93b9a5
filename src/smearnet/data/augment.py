"""Augmentation that suits cell crops, applied to a whole batch at once.

A cell has no up, down, left or right: flips and quarter turns give the same cell. Stains vary
between slides: brightness, contrast and hue move a little. The black background outside the
cell stays black (brightness scales rather than shifts; contrast is taken about the cell's
own mean; the background mask is restored at the end). All randomness comes from the
generator passed in; every step is one NumPy expression over the batch.
"""

from __future__ import annotations

import numpy as np

_SQRT3 = np.sqrt(3.0)


def _hue_matrices(angles: np.ndarray) -> np.ndarray:
    """Per-sample 3x3 RGB rotations about the grey axis (1,1,1)/sqrt(3): (B, 3, 3) float32.

    Greys, and so the black background, are fixed points; the channel sum is preserved.
    """
    c, s = np.cos(angles)[:, None, None], np.sin(angles)[:, None, None]
    ones = np.full((3, 3), 1.0 / 3.0)
    cross = np.array([[0, -1, 1], [1, 0, -1], [-1, 1, 0]]) / _SQRT3  # [u]x for u = (1,1,1)/sqrt3
    return (c * np.eye(3) + (1 - c) * ones + s * cross).astype(np.float32)


class Augment:
    """Random flips, quarter turns and small colour jitter for float32 NHWC batches in [0, 1].

    flips: horizontal and vertical flips, each with probability 1/2. rot90: a uniform number
    of quarter turns (square images; non-square ones get 0 or 2). brightness: scale by
    1 + U(-b, b). contrast: scale the deviation from the cell's per-channel mean by
    1 + U(-c, c). hue: rotate colours about the grey axis by U(-h, h) of a full turn.
    Zero turns a jitter off. ``augment(x, rng)`` returns a new (B, H, W, C) float32 array.
    """

    def __init__(self, flips: bool = True, rot90: bool = True, brightness: float = 0.1,
                 contrast: float = 0.1, hue: float = 0.02):
        for name, v in (("brightness", brightness), ("contrast", contrast), ("hue", hue)):
            if not 0 <= v < 1:
                raise ValueError(f"{name} must be in [0, 1), got {v}")
        self.flips, self.rot90 = bool(flips), bool(rot90)
        self.brightness, self.contrast, self.hue = float(brightness), float(contrast), float(hue)

    def __repr__(self) -> str:
        return (f"Augment(flips={self.flips}, rot90={self.rot90}, brightness={self.brightness}, "
                f"contrast={self.contrast}, hue={self.hue})")

    def to_json(self) -> dict:
        return {"flips": self.flips, "rot90": self.rot90, "brightness": self.brightness,
                "contrast": self.contrast, "hue": self.hue}

    def geometric(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Flips and quarter turns only: exact permutations of each image's pixels. ``x``
        (B, H, W, C), C-contiguous, is modified in place and returned.

        Flips h, v and k quarter turns compose to one of the 8 symmetries of the square,
        R^(k + 2v) H^(h + v) (V = R^2 H), so each image is copied once, pixels moved as whole
        C-channel items (a void view: much faster than strided float copies).
        """
        b = len(x)
        h = rng.random(b) < 0.5 if self.flips else np.zeros(b, dtype=bool)
        v = rng.random(b) < 0.5 if self.flips else np.zeros(b, dtype=bool)
        if self.rot90:
            k = rng.integers(0, 4, b) if x.shape[1] == x.shape[2] else 2 * rng.integers(0, 2, b)
        else:
            k = np.zeros(b, dtype=np.int64)
        turns, flip = (k + 2 * v) % 4, h ^ v
        px = x.view(np.dtype((np.void, x.dtype.itemsize * x.shape[-1])))  # (B, H, W, 1)
        for code in range(1, 8):  # seven groups, not a loop over samples
            sel = (turns + 4 * flip) == code
            if sel.any():
                y = px[sel][:, :, ::-1] if code >= 4 else px[sel]
                px[sel] = np.rot90(y, code % 4, axes=(1, 2))
        return x

    def __call__(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """x: float32 (B, H, W, 3) in [0, 1] -> augmented float32 (B, H, W, 3) in [0, 1].

        The colour steps fold into one affine map per image on every cell pixel,
        y = A x + c (contrast f about the cell mean m, brightness s, hue rotation R:
        A = s f R, c = s (1 - f) R m), applied with the background mask as one batched
        matrix product: [x, cell] @ [[A^T], [c]].
        """
        x = self.geometric(np.array(x, dtype=np.float32, order="C", copy=True), rng)
        if not (self.brightness or self.contrast or self.hue):
            return x
        b = len(x)
        flat = x.reshape(b, -1, 3)  # (B, P, 3) view
        cell = (flat @ np.ones(3, np.float32) > 0).astype(np.float32)  # (B, P): 0 on black
        f = 1 + rng.uniform(-self.contrast, self.contrast, b) if self.contrast else np.ones(b)
        s = 1 + rng.uniform(-self.brightness, self.brightness, b) if self.brightness \
            else np.ones(b)
        rot = (_hue_matrices(rng.uniform(-self.hue, self.hue, b) * 2 * np.pi) if self.hue
               else np.broadcast_to(np.eye(3, dtype=np.float32), (b, 3, 3)))
        n = np.maximum(cell.sum(axis=1), 1.0)
        mean = np.matmul(cell[:, None, :], flat)[:, 0, :] / n[:, None]  # (B, 3) cell mean
        a = (s * f)[:, None, None] * rot  # (B, 3, 3)
        c = (s * (1 - f))[:, None] * np.einsum("bij,bj->bi", rot, mean)  # (B, 3)
        w = np.concatenate([a.transpose(0, 2, 1), c[:, None, :]], axis=1).astype(np.float32)
        y = np.matmul(np.concatenate([flat, cell[..., None]], axis=-1), w)  # (B, P, 3)
        np.clip(y, 0.0, 1.0, out=y)
        return y.reshape(x.shape)
