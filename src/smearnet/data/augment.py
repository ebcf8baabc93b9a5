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
        """Flips and quarter turns only (exact permutations of each image's pixels)."""
        b = len(x)
        if self.flips:
            h, v = rng.random(b) < 0.5, rng.random(b) < 0.5
            x = np.where(h[:, None, None, None], x[:, :, ::-1], x)
            x = np.where(v[:, None, None, None], x[:, ::-1], x)
        if self.rot90:
            square = x.shape[1] == x.shape[2]
            k = rng.integers(0, 4, b) if square else 2 * rng.integers(0, 2, b)
            out = x.copy()
            for turns in (1, 2, 3):  # four groups, not a loop over samples
                sel = k == turns
                if sel.any():
                    out[sel] = np.rot90(x[sel], turns, axes=(1, 2))
            x = out
        return x

    def __call__(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """x: float32 (B, H, W, 3) in [0, 1] -> augmented float32 (B, H, W, 3) in [0, 1]."""
        x = np.asarray(x, dtype=np.float32)
        b = len(x)
        x = self.geometric(x, rng)
        if not (self.brightness or self.contrast or self.hue):
            return np.ascontiguousarray(x)
        cell = x.max(axis=-1, keepdims=True) > 0  # (B, H, W, 1): False on the black background
        x = np.array(x, dtype=np.float32, copy=True)
        if self.contrast:
            n = np.maximum(cell.sum(axis=(1, 2), keepdims=True), 1)
            mean = (x * cell).sum(axis=(1, 2), keepdims=True) / n  # (B, 1, 1, C) cell mean
            f = 1 + rng.uniform(-self.contrast, self.contrast, (b, 1, 1, 1)).astype(np.float32)
            x = (x - mean) * f + mean
        if self.brightness:
            x *= 1 + rng.uniform(-self.brightness, self.brightness,
                                 (b, 1, 1, 1)).astype(np.float32)
        if self.hue:
            m = _hue_matrices(rng.uniform(-self.hue, self.hue, b) * 2 * np.pi)
            x = np.matmul(x.reshape(b, -1, 3), m.transpose(0, 2, 1)).reshape(x.shape)
        x *= cell
        np.clip(x, 0.0, 1.0, out=x)
        return x.astype(np.float32, copy=False)
