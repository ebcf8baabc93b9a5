"""Augmentation properties: dihedral geometry, black stays black, bounded jitter, vectorised."""

from __future__ import annotations

import numpy as np
import pytest

from smearnet.data import Augment


def cells(n: int = 16, size: int = 12, seed: int = 0) -> np.ndarray:
    """float32 (n, size, size, 3) in [0, 1]: random colours inside a disc, black outside."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size]
    disc = (yy - size / 2 + 0.5) ** 2 + (xx - size / 2 + 0.5) ** 2 <= (size / 2 - 1) ** 2
    x = rng.uniform(0.2, 0.9, (n, size, size, 3)).astype(np.float32)
    return x * disc[None, :, :, None]


def dihedral(img: np.ndarray) -> list[np.ndarray]:
    out = []
    for k in range(4):
        r = np.rot90(img, k, axes=(0, 1))
        out += [r, r[:, ::-1]]
    return out


def test_geometry_only_gives_one_of_the_eight_symmetries():
    x = cells()
    y = Augment(brightness=0, contrast=0, hue=0)(x, np.random.default_rng(1))
    assert y.shape == x.shape and y.dtype == np.float32
    seen = set()
    for a, b in zip(x, y):
        matches = [k for k, d in enumerate(dihedral(a)) if np.array_equal(d, b)]
        assert matches
        seen.add(matches[0])
    assert len(seen) > 3  # different samples get different transforms


def test_identity_when_everything_is_off():
    x = cells()
    y = Augment(flips=False, rot90=False, brightness=0, contrast=0, hue=0)(x, np.random.default_rng(0))
    assert np.array_equal(x, y)


def test_non_square_images_only_get_half_turns():
    x = np.random.default_rng(0).uniform(0, 1, (32, 6, 9, 3)).astype(np.float32)
    y = Augment(brightness=0, contrast=0, hue=0)(x, np.random.default_rng(0))
    assert y.shape == x.shape


def test_colour_jitter_bounded_and_background_black():
    x = cells(64)
    aug = Augment(flips=False, rot90=False, brightness=0.1, contrast=0.1, hue=0.02)
    y = aug(x, np.random.default_rng(3))
    assert y.dtype == np.float32 and y.min() >= 0 and y.max() <= 1
    background = x.max(axis=-1) == 0
    assert np.all(y[background] == 0)
    ratio = y[~background].mean() / x[~background].mean()
    assert 0.85 < ratio < 1.15
    per_image = np.abs(y - x).reshape(64, -1).max(axis=1)
    assert np.all(per_image < 0.35) and np.all(per_image > 0)


def test_hue_rotation_keeps_greys_and_channel_sums():
    grey = np.full((4, 5, 5, 3), 0.4, dtype=np.float32)
    aug = Augment(flips=False, rot90=False, brightness=0, contrast=0, hue=0.3)
    assert np.allclose(aug(grey, np.random.default_rng(0)), grey, atol=1e-6)
    x = cells(8) * 0.5 + 0.25 * (cells(8, seed=1) > 0)  # colours well inside [0, 1]
    y = aug(x, np.random.default_rng(0))
    assert np.allclose(y.sum(-1), x.sum(-1), atol=1e-5)
    assert not np.allclose(y, x)


def test_same_generator_state_same_output():
    x = cells()
    a = Augment()(x, np.random.default_rng(7))
    b = Augment()(x, np.random.default_rng(7))
    assert np.array_equal(a, b)
    assert not np.array_equal(a, Augment()(x, np.random.default_rng(8)))


def test_input_is_not_modified_and_arguments_checked():
    x = cells()
    before = x.copy()
    Augment()(x, np.random.default_rng(0))
    assert np.array_equal(x, before)
    with pytest.raises(ValueError, match="brightness"):
        Augment(brightness=1.5)
    assert "hue=0.02" in repr(Augment())
